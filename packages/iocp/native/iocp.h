/*
 * iocp.h: the Windows IO method: overlapped ReadFile/WriteFile on files
 * associated with one I/O completion port per AIO context.
 *
 * The kit (aio/kit.hh) owns the context's lifecycle: the type-tagged context
 * object, the reference that is strong only while IO is in flight, the
 * environment cleanup hook, the finalizer, argument decoding and the
 * completion hand-off (aio::ThreadCompletions).  This method implements its
 * mechanism on top:
 *
 *   JS thread  Submit: each decoded IO goes into the slot of its handle
 *              index and is issued as one overlapped ReadFile/WriteFile per
 *              buffer ("part"), each at its own 64-bit offset.  A part that
 *              the OS finishes at once on a file in FILE_SKIP_COMPLETION_
 *              PORT_ON_SUCCESS mode is recorded right there, because no
 *              packet will ever come for it.  fsync/fdatasync go to a
 *              Windows thread-pool callback (FlushFileBuffers blocks).
 *   reaper     one thread per context blocks in GetQueuedCompletionStatusEx
 *              and records each packet's part.
 *   whoever finishes the last part of an IO folds the parts into one raw
 *              result (bytes, or Node's negative errno) and pushes it into
 *              the context's aio::ThreadCompletions, which wakes the event
 *              loop once per batch.
 *
 * Everything here that Node-API touches runs on the JS thread; the reaper
 * and the flush callbacks only use Win32 and the completion queue's Push.
 */
#ifndef AIO_IOCP_H
#define AIO_IOCP_H

#include <stdint.h>

#include "aio/kit.hh"       /* includes <windows.h> through aio/platform.h */
#include "aio/win_errno.h"  /* the one Win32 -> Node errno table */
/* stat, truncate and allocate on a HANDLE: the thread pool's file_ops.c, which this addon compiles too (build.json). */
#include "../../threadpool/native/file_ops.h"

/* Completion keys: what a packet on a context's port stands for. */
#define IOCP_KEY_IO 1   /* an overlapped ReadFile/WriteFile of one of the context's files */
#define IOCP_KEY_STOP 2 /* Quiesce: the reaper must exit (posted after every IO completed) */

/* Packets taken per GetQueuedCompletionStatusEx call. */
#define IOCP_REAP_BATCH 64

class IocpContext;
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
 * flight, so slots are allocated once, in Start.
 */
struct iocp_request {
  /* Filled on the JS thread at submit (moved from the kit's decoded
   * batch).  Its iovecs point into JavaScript buffers: the context object
   * is held strongly while IO is in flight (the kit), and the core keeps
   * every buffer of the IO referenced until its completion was processed,
   * so they outlive every part. */
  aio_io io;
  IocpContext *ctx;
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

/*
 * One AIO context of the iocp method: the kit's context plus the port, the
 * reaper, the request slots and the files.  The fields are the mechanism's
 * shared state (submit.cc, files.cc); the kit calls the overrides on the
 * JS thread (binding.cc).
 */
class IocpContext : public aio::ThreadContext {
 public:
  explicit IocpContext(bool skip_on_success) : skip_on_success(skip_on_success) {}

  /* poll() and wait() are the kit's (aio::ThreadContext): every completion
   * goes into `completions`, from whichever thread finished the IO. */
  bool Start(const aio::ContextArgs &args) override;
  uint32_t Submit(aio::SubmitBatch &batch) override;
  uint32_t Cancel(uint32_t index, uint32_t generation) override;
  void Stats(Napi::Object stats) override;
  void Quiesce(bool teardown) override;

  /* Created in Start, closed in Quiesce after the reaper was joined. */
  HANDLE port = NULL;
  aio_thread reaper = {};
  /* capacity() slots, from Start until Quiesce. */
  iocp_request *requests = nullptr;
  iocp_files files = {};
  const bool skip_on_success; /* option: put the files it opens in skip mode */
  HANDLE sync_event = NULL;   /* executeSync's event, created on first use (JS thread only) */
  iocp_counters counters = {};

 protected:
  bool Holds(uint32_t index, uint32_t generation) override;

 private:
  int SubmitOne(aio_io *io);
  void FreeSlots();
};

/* The iocp method's kit description: name, type tag, create (binding.cc). */
extern const aio::MethodOps iocp_method_ops;

/* ---- submit.cc: issuing IO, the reaper, finishing ---------------------- */

/*
 * Issues the IO in `req->io` on `file`, or completes it with EBADF when
 * `file` is NULL (not one of the context's files).  Returns an
 * aio_disposition; anything but ACCEPTED leaves nothing in flight.
 */
int iocp_start(IocpContext *ctx, iocp_request *req, const iocp_file *file);
/* The reaper thread's body. */
void iocp_reaper_main(void *arg);
/* Asks the OS to cancel every issued part of `req`: 0 canceled, 1 not canceled. */
int iocp_cancel(IocpContext *ctx, iocp_request *req);
/* Runs one decoded IO on the calling thread, waiting for it (file ops included); bytes or a negative errno. */
int32_t iocp_execute_sync(IocpContext *ctx, const aio_io *io);

/* ---- files.cc: the file table, opening and closing --------------------- */

const iocp_file *iocp_files_find(const iocp_files *files, HANDLE handle);
/* Closes every file still open (context teardown) and frees the table. */
void iocp_files_close_all(iocp_files *files);

/* ---- the addon's own functions, beside the kit's contract -------------- */

/* openFile(context, path, flags): a HANDLE as a number, or Node's negative errno (files.cc). */
Napi::Value iocp_open_file_js(const Napi::CallbackInfo &info);
/* closeFile(context, handle): 0, or Node's negative errno (files.cc). */
Napi::Value iocp_close_file_js(const Napi::CallbackInfo &info);
/* executeSync(context, op, handle, offset, length, views): one IO on this thread; bytes or a negative errno (binding.cc). */
Napi::Value iocp_execute_sync_js(const Napi::CallbackInfo &info);
/* probe(): the live check (probe.cc); never throws. */
Napi::Value iocp_probe_js(const Napi::CallbackInfo &info);

#endif /* AIO_IOCP_H */
