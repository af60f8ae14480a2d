/*
 * aio/io.h: one IO as the JavaScript thread describes it to a native method.
 *
 * The core's NativeMethod (packages/core/src/native-method.ts) writes each
 * IO of a batch into a Float64Array (AIO_SUBMIT_STRIDE words per IO) and
 * passes the IO's buffers as a JavaScript array of ArrayBufferViews.
 * aio_decode_batch() turns that into plain aio_io structs, filled on the JS
 * thread, so that the rest of a method (kernel submission, worker threads)
 * never calls Node-API.
 *
 * Memory: an aio_io's iovecs point into the JavaScript buffers.  The core
 * keeps every buffer of an IO referenced from its handle until the IO's
 * completion was processed, so the memory stays valid (and V8 never moves
 * ArrayBuffer backing stores) until then.  A method must not touch the
 * iovecs after reporting the completion.
 */
#ifndef AIO_IO_H
#define AIO_IO_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Op codes; the same numbers as AIO_OP in packages/core/src/method.ts. */
enum aio_op {
  AIO_OP_INVALID = 0, /* zero, so zeroed memory is never a real IO */
  AIO_OP_READ = 1,
  AIO_OP_READV = 2,
  AIO_OP_WRITE = 3,
  AIO_OP_WRITEV = 4,
  AIO_OP_FSYNC = 5,
  AIO_OP_FDATASYNC = 6,
  /* The file operations (packages/core/README.md, "File operations").  A method runs them
   * asynchronously only if it lists them in capabilities.ops; the core runs
   * the others synchronously, so a method built before them never sees them. */
  AIO_OP_STAT = 7,     /* buffer: >= 32 bytes, 8-aligned; filled with 4 little-endian
                        * doubles: size, allocated bytes (st_blocks * 512), st_blksize,
                        * mtime in ms since the epoch; result 0 or -errno */
  AIO_OP_TRUNCATE = 8, /* offset = the new length, length = 0, no buffer; 0 or -errno */
  AIO_OP_ALLOCATE = 9  /* offset/length = the range (fallocate mode 0, or keep-size
                        * with AIO_FLAG_KEEP_SIZE); 0, or -EOPNOTSUPP where there is
                        * no allocation call (the core then extends with truncate) */
};

/* What the method writes into word 9 of each IO (AIO_DISPOSITION in TS). */
enum aio_disposition {
  AIO_DISPOSITION_ACCEPTED = 0,    /* in flight: a completion will follow */
  AIO_DISPOSITION_UNSUPPORTED = 1, /* the core runs it synchronously */
  AIO_DISPOSITION_QUEUE_FULL = 2,  /* the core runs it synchronously */
  AIO_DISPOSITION_EAGAIN = 3,      /* the core runs it synchronously */
  AIO_DISPOSITION_SUBMIT_FAILED = 4 /* the OS refused it for another reason; the core runs it synchronously */
};

/* Handle flags (AIO_FLAG_* in TS). */
#define AIO_FLAG_SYNCHRONOUS 1
#define AIO_FLAG_REFERENCES_LOCAL 2
#define AIO_FLAG_BUFFERED 4
/* Not a handle flag: set by the core on an AIO_OP_ALLOCATE that must not
 * change the file's size (FALLOC_FL_KEEP_SIZE). */
#define AIO_FLAG_KEEP_SIZE 8
/* Not a handle flag: set by the core in word 3 when the IO's file was
 * opened for direct I/O, so a method can treat page-cache IO differently. */
#define AIO_IO_FILE_DIRECT 256

#define AIO_SUBMIT_STRIDE 10
/* The most buffers one IO may have (IOV_MAX on Linux; the core refuses more). */
#define AIO_MAX_IOVECS 1024
#define AIO_SUBMIT_MAX 32
/* IOs with at most this many buffers need no allocation. */
#define AIO_INLINE_IOVECS 4

/* One buffer: the same layout as POSIX struct iovec (checked in io.c). */
typedef struct aio_iovec {
  void *base;
  size_t len;
} aio_iovec;

typedef struct aio_io {
  int32_t op;          /* enum aio_op */
  int32_t index;       /* the handle's index in its context */
  uint32_t generation; /* the handle's generation, low 32 bits */
  int32_t flags;       /* AIO_FLAG_* */
  int64_t file;        /* POSIX fd, or a Windows HANDLE value */
  uint64_t offset;
  uint64_t length;     /* total bytes asked for */
  uint32_t iovcnt;
  aio_iovec *iov;      /* inline_iov, or malloc'ed when iovcnt > AIO_INLINE_IOVECS */
  aio_iovec inline_iov[AIO_INLINE_IOVECS];
  int32_t result;      /* bytes transferred or -errno, once done */
} aio_io;

/*
 * Decodes IO `i` of a batch: words[i * AIO_SUBMIT_STRIDE ...] and its views.
 * Returns 0, or -EINVAL if the description is not valid (a number out of
 * range or not an integer, an unknown op, a buffer count that does not fit
 * the op or the views) or does not match the buffers (a detached or shrunk
 * ArrayBuffer): the caller then marks the IO
 * AIO_DISPOSITION_UNSUPPORTED so the core runs it synchronously and reports
 * the error.  Returns -ENOMEM if a vector could not be allocated.  The
 * handle index is only checked to be a non-negative int32: a method checks
 * it against its own table size.
 */
int aio_decode_io(napi_env env, const double *words, napi_value views, uint32_t i, aio_io *io);

/* Frees what aio_decode_io allocated; safe to call twice. */
void aio_io_release(aio_io *io);

/*
 * Moves a decoded IO from `from` into `to` (a method's slot for it): an
 * inline buffer list moves into `to`'s own inline room, an allocated one
 * becomes `to`'s to release.  `from` keeps its op, index and generation but
 * no buffers, so releasing it afterwards frees nothing.
 */
void aio_io_move(aio_io *to, aio_io *from);

/*
 * The data of a typed array of `type` with at least `min_length` elements,
 * or NULL after throwing a JS TypeError naming `what`.  Methods call it in
 * `create` for the submission words (Float64Array) and the completion table
 * (Int32Array); they keep a reference to each array until `close`, which
 * keeps the memory valid (V8 never moves an ArrayBuffer's backing store).
 */
void *aio_typed_array_data(napi_env env, napi_value value, napi_typedarray_type type, size_t min_length, const char *what);

#ifndef _WIN32
/*
 * Runs an IO with pread/pwrite/preadv/pwritev/fsync/fdatasync on the calling
 * thread and returns bytes or -errno (EINTR is retried).  The thread pool's
 * workers and every POSIX method's synchronous path use it.
 */
int32_t aio_io_execute(const aio_io *io);
#endif

#ifdef __cplusplus
}
#endif

#endif /* AIO_IO_H */
