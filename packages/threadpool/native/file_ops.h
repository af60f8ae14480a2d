/*
 * file_ops.h: the file operations of issue 14 item 6 (stat, truncate,
 * allocate) on one file, as plain blocking calls, for the methods that run
 * them themselves: the thread pool's workers (POSIX and Win32), the iocp
 * method's synchronous path (Win32: a HANDLE is not a node:fs fd) and the
 * posix_aio method's synchronous allocate.
 *
 * It lives in the thread pool's package because that is the one method
 * that runs all three everywhere; the iocp and posix_aio addons compile the
 * same file (their build.json names it), so the Win32 and POSIX calls exist
 * once.  It uses nothing of the thread pool and belongs in the native kit
 * (tooling/native/src) once the kit takes it.
 *
 * What the ops mean is the contract in /tmp/team/FILE-OPS.md and the core's
 * AIO_OP: `stat` fills four little-endian float64 in the IO's one buffer
 * (size, allocated bytes, preferred IO block size, modification time in ms
 * since the epoch); `truncate` sets the length to `offset`; `allocate`
 * reserves [offset, offset + length), extending the size unless the IO has
 * AIO_FLAG_KEEP_SIZE.  Results are 0 or a negative errno in Node's numbering
 * (POSIX errno; libuv's UV_E* values on Windows, through aio/win_errno.h).
 */
#ifndef AIO_FILE_OPS_H
#define AIO_FILE_OPS_H

#include <node_api.h>
#include <stdint.h>

#include "aio/io.h" /* AIO_OP_STAT, AIO_OP_TRUNCATE, AIO_OP_ALLOCATE, AIO_FLAG_KEEP_SIZE */

/* The bytes `stat` writes: four float64. */
#define AIO_FILE_STAT_BYTES 32

#ifdef __cplusplus
extern "C" {
#endif

/* Whether `op` is stat, truncate or allocate. */
int aio_file_op_is(int32_t op);

/*
 * Runs a file op (aio_file_op_is) on the calling thread, blocking: 0 or a
 * negative errno.  A `stat` whose one buffer is missing or shorter than
 * AIO_FILE_STAT_BYTES is EINVAL; any other op is EINVAL.
 */
int32_t aio_file_op_execute(const aio_io *io);

/* Allocate alone (posix_aio runs no other file op natively): 0 or a negative errno. */
int32_t aio_file_allocate(int64_t file, uint64_t offset, uint64_t length, int keep_size);

/*
 * For a synchronous call from JavaScript (executeSync), after the kit's
 * aio::DecodeSingle: when args[0] is a file op, decodes the call again into
 * `io` with the flags (args[5], the IO's AIO_FLAG_* bits; undefined is 0),
 * which the kit's single-IO decoder does not carry, and sets `*status` to 0
 * or -1 (not valid: the caller answers EINVAL).  `args` are the op, file,
 * offset, length, views and flags arguments.  Anything else is left as the
 * kit decoded it.  The aio_io's one buffer points into the view: the
 * caller holds the view for the duration of the call.
 */
void aio_file_op_redecode(napi_env env, const napi_value args[6], aio_io *io, int *status);

#ifdef __cplusplus
}
#endif

#endif /* AIO_FILE_OPS_H */
