/*
 * aio/win_errno.h: the one table from Win32 error codes (GetLastError) to
 * the negative errno values Node uses on Windows (libuv's UV_E* numbers), so
 * an AioIoError gets the `code` node:fs would give ('ENOENT', 'ENOSPC', ...).
 * Every Windows backend (iocp, the threadpool's Win32 build) uses it.
 *
 * The mapping is what libuv's uv_translate_sys_error() does in the libuv
 * that Node 20 ships (1.46), because that is what a Node user sees for the
 * same failure through node:fs.  Where libuv has no mapping (it would say
 * UNKNOWN), the closest POSIX meaning is used (ERROR_FILE_TOO_LARGE is
 * EFBIG, the "no system resources" family is ENOMEM), and an unknown code is
 * EIO, so a caller still gets an IO error it can handle.  Two deliberate
 * differences, both about what libuv's file functions do around the table:
 * - ERROR_ACCESS_DENIED on a read, write or flush means the HANDLE lacks
 *   that access (opened read-only): EBADF, as libuv's fs__read/fs__write
 *   report it and as POSIX does.  On open it is the table's EPERM.
 * - ERROR_OPERATION_ABORTED is ECANCELED, as in the table: an IO cancelled
 *   with CancelIoEx, which the core recognises by ECANCELED.
 * ERROR_HANDLE_EOF never gets here: a read at end of file is 0 bytes.
 *
 * Plain C, so C and C++ backends alike can use it; compiles to nothing
 * outside Windows.
 */
#ifndef AIO_WIN_ERRNO_H
#define AIO_WIN_ERRNO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libuv's error numbers on Windows (UV__E* in uv/errno.h), as Node reports them. */
enum aio_uv_errno {
  AIO_UV_EACCES = -4092,
  AIO_UV_EAGAIN = -4088,
  AIO_UV_EBADF = -4083,
  AIO_UV_EBUSY = -4082,
  AIO_UV_ECANCELED = -4081,
  AIO_UV_ECHARSET = -4080,
  AIO_UV_EEXIST = -4075,
  AIO_UV_EFAULT = -4074,
  AIO_UV_EINVAL = -4071,
  AIO_UV_EIO = -4070,
  AIO_UV_EISDIR = -4068,
  AIO_UV_ELOOP = -4067,
  AIO_UV_EMFILE = -4066,
  AIO_UV_ENAMETOOLONG = -4064,
  AIO_UV_ENOENT = -4058,
  AIO_UV_ENOMEM = -4057,
  AIO_UV_ENOSPC = -4055,
  AIO_UV_ENOTDIR = -4052,
  AIO_UV_ENOTEMPTY = -4051,
  AIO_UV_ENOTSUP = -4049,
  AIO_UV_EPERM = -4048,
  AIO_UV_EROFS = -4043,
  AIO_UV_ETIMEDOUT = -4039,
  AIO_UV_EXDEV = -4037,
  AIO_UV_EFBIG = -4036
};

/* Which call failed: ERROR_ACCESS_DENIED means different things (see above). */
typedef enum aio_win_call { AIO_WIN_CALL_OPEN, AIO_WIN_CALL_TRANSFER, AIO_WIN_CALL_FLUSH } aio_win_call;

/* A Win32 error code (a DWORD) in Node's numbering on Windows, for a failure of `call`. */
int32_t aio_win_errno(unsigned long error, aio_win_call call);

/* Every name the table can produce with its number, for checks against util.getSystemErrorMap(). */
typedef struct aio_win_errno_entry {
  const char *name;
  int32_t value;
} aio_win_errno_entry;
const aio_win_errno_entry *aio_win_errno_names(size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* AIO_WIN_ERRNO_H */
