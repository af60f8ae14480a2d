/*
 * iocp.h: the Windows IO method: overlapped ReadFile/WriteFile on files
 * associated with one I/O completion port per AIO context.
 *
 * The flow of one IO:
 *   JS thread  submit(): decode the IO (kit: aio_decode_io) into the slot of
 *              its handle index, issue one overlapped ReadFile/WriteFile per
 *              buffer ("part"), each at its own 64-bit offset.  A part that
 *              the OS finishes at once on a file in FILE_SKIP_COMPLETION_
 *              PORT_ON_SUCCESS mode is recorded right there, because no
 *              packet will ever come for it.  fsync/fdatasync go to a
 *              Windows thread-pool callback (FlushFileBuffers blocks).
 *   reaper     one thread per context blocks in GetQueuedCompletionStatusEx
 *              and records each packet's part.
 *   whoever finishes the last part of an IO folds the parts into one raw
 *              result (bytes, or Node's negative errno) and pushes it into
 *              the context's completion queue (kit: aio/completions.h),
 *              which wakes the event loop once per batch.
 *
 * Everything here that Node-API touches runs on the JS thread; the reaper
 * and the flush callbacks only use Win32 and the kit's completion queue.
 */
#ifndef AIO_IOCP_H
#define AIO_IOCP_H

#include <errno.h>
#include <stdint.h>

#include "aio/completions.h" /* includes <windows.h> through aio/platform.h */
#include "aio/io.h"

/* Completion keys: what a packet on a context's port stands for. */
#define IOCP_KEY_IO 1   /* an overlapped ReadFile/WriteFile of one of the context's files */
#define IOCP_KEY_STOP 2 /* close: the reaper must exit (posted after every IO completed) */

/* Packets taken per GetQueuedCompletionStatusEx call. */
#define IOCP_REAP_BATCH 64

typedef struct iocp_context iocp_context;
typedef struct iocp_request iocp_request;

/*
 * One overlapped transfer: a whole read or write, or one buffer of a readv
 * or writev.  `ov` comes first so that the LPOVERLAPPED of a packet is the
 * part's address.  The OVERLAPPED belongs to the OS from the call that
 * issues it until its packet is dequeued (or until the call fails or, in
 * skip mode, succeeds at once).
 */
typedef struct iocp_part {
  OVERLAPPED ov;
  iocp_request *req;
  /* Set on the JS thread before the part is issued. */
  DWORD asked;
  uint8_t issued; /* 1 if ReadFile/WriteFile was called for it (cancel looks only at those) */
  /* Written exactly once, by whoever finishes the part (the submitter or
   * the reaper), before that thread's decrement of req->remaining, which
   * publishes them to the thread that folds the result. */
  DWORD done;
  DWORD error; /* 0, or the Win32 error the transfer ended with */
} iocp_part;

/*
 * The slot of one handle index.  At most one IO per handle is ever in
 * flight, so slots are allocated once, with the context.
 */
struct iocp_request {
  /* Filled on the JS thread at submit.  Its iovecs point into JavaScript
   * buffers that the core keeps referenced until the completion has been
   * processed, so they outlive every part. */
  aio_io io;
  iocp_context *ctx;
  HANDLE file;
  /* The parts of the current IO: `inline_parts`, or `heap_parts` when it
   * has more buffers.  `heap_parts` belongs to the slot: it is kept for
   * later IOs and freed with the context, never by the thread that
   * finishes an IO, because cancel() may look at the parts until the
   * completion has been drained. */
  iocp_part *parts;
  uint32_t nparts;
  iocp_part *heap_parts;
  uint32_t heap_capacity;
  iocp_part inline_parts[AIO_INLINE_IOVECS];
  /* Parts not finished yet, plus one that the submitter holds while it
   * issues them, so an IO cannot be finished half-issued. */
  volatile LONG remaining;
  /* 1 from submit until the result is pushed (interlocked). */
  volatile LONG busy;
};

/* A file the context opened: the HANDLE and what IO on it needs to know. */
typedef struct iocp_file {
  HANDLE handle; /* NULL: empty slot */
  uint8_t skip_on_success; /* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is set on it */
} iocp_file;

/* The context's open files, an open-addressing table keyed by HANDLE (JS thread only). */
typedef struct iocp_files {
  iocp_file *slots;
  uint32_t capacity; /* a power of two, or 0 */
  uint32_t count;
} iocp_files;

/* Counters for stats(); the reaper and flush callbacks add with Interlocked calls. */
typedef struct iocp_counters {
  volatile LONG64 submitted;         /* IOs accepted */
  volatile LONG64 parts;             /* ReadFile/WriteFile calls issued */
  volatile LONG64 finished_inline;   /* parts finished by the submitter (skip mode or an immediate error) */
  volatile LONG64 finished_by_port;  /* parts finished through a packet */
  volatile LONG64 reaps;             /* GetQueuedCompletionStatusEx calls that returned packets */
  volatile LONG64 largest_reap;      /* the most packets one call returned */
  volatile LONG64 flushes;           /* FlushFileBuffers run by the thread pool */
  volatile LONG64 executed_sync;     /* IOs run by executeSync on the JS thread */
  volatile LONG64 eagain;            /* IOs the OS refused for lack of resources: the core ran them */
  volatile LONG64 cancel_requests;
  volatile LONG64 cancels_accepted;  /* CancelIoEx calls that found a part */
} iocp_counters;

struct iocp_context {
  uint32_t magic;
  int open; /* JS thread: cleared by close() or the environment's teardown */
  napi_env env;
  HANDLE port;
  aio_thread reaper;
  aio_completion_queue cq;
  iocp_request *requests;
  uint32_t capacity;
  iocp_files files;
  int skip_on_success; /* option: put the files it opens in skip mode */
  HANDLE sync_event;   /* executeSync's event, created on first use (JS thread only) */
  /* The submission words: the data of a Float64Array that `words_ref`
   * holds until the context is released, so the memory stays valid. */
  double *words;
  napi_ref words_ref;
  napi_ref table_ref; /* holds the Int32Array behind cq.table */
  iocp_counters counters;
};

/* ---- submit.cc: issuing IO, the reaper, finishing ---------------------- */

/*
 * Issues the IO in `req->io` (decoded already) on `file`, or completes it
 * with EBADF when `file` is NULL (not one of the context's files).  Returns
 * an aio_disposition; anything but ACCEPTED leaves nothing in flight.
 */
int iocp_start(iocp_context *ctx, iocp_request *req, const iocp_file *file);
/* The reaper thread's body. */
void iocp_reaper_main(void *arg);
/* Asks the OS to cancel every issued part of `req`: 0 canceled, 1 not canceled. */
int iocp_cancel(iocp_context *ctx, iocp_request *req);
/* Runs one decoded IO on the calling thread, waiting for it; bytes or a negative errno. */
int32_t iocp_execute_sync(iocp_context *ctx, const aio_io *io);

/* ---- files.cc: the file table, opening and closing --------------------- */

const iocp_file *iocp_files_find(const iocp_files *files, HANDLE handle);
/*
 * Opens `path` for the context with the AioOpenFlags object `flags`;
 * returns the HANDLE, or NULL with Node's negative errno in *error.
 */
HANDLE iocp_open(iocp_context *ctx, const wchar_t *path, napi_env env, napi_value flags, int32_t *error);
/* Closes a file the context opened: 0, or a negative errno. */
int32_t iocp_close_file(iocp_context *ctx, HANDLE handle);
/* Closes every file still open (context teardown) and frees the table. */
void iocp_files_close_all(iocp_files *files);

/* ---- errors.cc: Win32 errors in Node's numbering ----------------------- */

/*
 * Node's errno values on Windows: libuv's UV_E* codes (uv/errno.h), which
 * util.getSystemErrorName() names.  They are fixed by libuv's ABI; the
 * Windows tests compare this list with util.getSystemErrorMap().
 */
enum iocp_uv_errno {
  IOCP_UV_EACCES = -4092,
  IOCP_UV_EBADF = -4083,
  IOCP_UV_EBUSY = -4082,
  IOCP_UV_ECANCELED = -4081,
  IOCP_UV_EEXIST = -4075,
  IOCP_UV_EFAULT = -4074,
  IOCP_UV_EINVAL = -4071,
  IOCP_UV_EIO = -4070,
  IOCP_UV_EISDIR = -4068,
  IOCP_UV_EMFILE = -4066,
  IOCP_UV_ENAMETOOLONG = -4064,
  IOCP_UV_ENOENT = -4058,
  IOCP_UV_ENOMEM = -4057,
  IOCP_UV_ENOSPC = -4055,
  IOCP_UV_ENOTDIR = -4052,
  IOCP_UV_ENOTSUP = -4049,
  IOCP_UV_EPERM = -4048,
  IOCP_UV_EROFS = -4043,
  IOCP_UV_EFBIG = -4036
};

/* Which call failed: the same Win32 error means different things. */
typedef enum iocp_call { IOCP_CALL_OPEN, IOCP_CALL_TRANSFER, IOCP_CALL_FLUSH } iocp_call;

/* Node's negative errno on Windows for a Win32 error code. */
int32_t iocp_errno(DWORD error, iocp_call call);

/* Whether a Win32 error at submit means "too much IO outstanding": the core runs the IO itself. */
int iocp_is_resource_shortage(DWORD error);

/* Every code above with its name, for the test that compares them with Node's. */
typedef struct iocp_errno_entry {
  const char *name;
  int32_t value;
} iocp_errno_entry;
const iocp_errno_entry *iocp_errno_table(size_t *count);

#endif /* AIO_IOCP_H */
