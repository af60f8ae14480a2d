/*
 * submit.cc: issuing overlapped IO, reaping the completion port, and
 * turning the parts of an IO into its one raw result.  See iocp.h for the
 * flow and for who owns what.
 */
#include <stdlib.h>
#include <string.h>

#include "iocp.h"

namespace {

void add(volatile LONG64 *counter, LONG64 n) { InterlockedExchangeAdd64(counter, n); }

bool is_write(int32_t op) { return op == AIO_OP_WRITE || op == AIO_OP_WRITEV; }

/*
 * Whether a Win32 error at submit means "too much IO outstanding", which
 * ReadFile/WriteFile document for these codes: the IO itself is fine, so
 * the core runs it synchronously instead (disposition EAGAIN).
 */
bool is_resource_shortage(DWORD error) {
  return error == ERROR_INVALID_USER_BUFFER || error == ERROR_NOT_ENOUGH_MEMORY || error == ERROR_NOT_ENOUGH_QUOTA ||
         error == ERROR_NO_SYSTEM_RESOURCES || error == ERROR_WORKING_SET_QUOTA || error == ERROR_NONPAGED_SYSTEM_RESOURCES;
}

/*
 * Adds one transfer to a running result the way preadv/pwritev report
 * one: bytes in order up to the first short or failed transfer; a failure
 * is the result only when nothing moved before it (otherwise the IO is
 * short, and the issuer retries the rest).  A read at end of file
 * (ERROR_HANDLE_EOF, which Windows may report at once and Wine through the
 * port) moved 0 bytes.  Returns whether later transfers still count.
 */
bool fold(int64_t *total, int32_t *failure, DWORD asked, DWORD done, DWORD error, bool write) {
  if (error == ERROR_HANDLE_EOF && !write) return false;
  if (error != 0) {
    if (*total == 0) *failure = aio_win_errno(error, AIO_WIN_CALL_TRANSFER);
    return false;
  }
  *total += done;
  return done == asked;
}

int32_t fold_parts(const iocp_request *req) {
  int64_t total = 0;
  int32_t failure = 0;
  bool write = is_write(req->io.op);
  for (uint32_t k = 0; k < req->nparts; k++) {
    const iocp_part *part = &req->parts[k];
    if (!fold(&total, &failure, part->asked, part->done, part->error, write)) break;
  }
  /* The core caps one IO below 2^31 bytes, so the total fits. */
  return failure != 0 ? failure : (int32_t)total;
}

/*
 * Reports the IO of `req` with `result` and gives the slot back.  Called
 * once per IO, by whichever thread finished it last.  After the push the
 * JS thread may drain the completion and reuse the slot, so the push is
 * the last touch.
 */
void complete(iocp_request *req, int32_t result) {
  int32_t index = req->io.index;
  uint32_t generation = req->io.generation;
  aio_io_release(&req->io);
  InterlockedExchange(&req->busy, 0);
  req->ctx->completions.Push(index, generation, result);
}

/* One part is done; the thread that finishes the last one completes the IO. */
void part_done(iocp_request *req) {
  if (InterlockedDecrement(&req->remaining) == 0) complete(req, fold_parts(req));
}

/* Points req->parts at room for `n` parts; false if memory ran out. */
bool reserve_parts(iocp_request *req, uint32_t n) {
  if (n <= AIO_INLINE_IOVECS) {
    req->parts = req->inline_parts;
    return true;
  }
  if (n > req->heap_capacity) {
    iocp_part *grown = (iocp_part *)malloc(sizeof(iocp_part) * n);
    if (grown == NULL) return false;
    free(req->heap_parts);
    req->heap_parts = grown;
    req->heap_capacity = n;
  }
  req->parts = req->heap_parts;
  return true;
}

uint32_t nonempty_buffers(const aio_io *io) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < io->iovcnt; i++) n += io->iov[i].len > 0;
  return n;
}

void prepare_part(iocp_request *req, iocp_part *part, DWORD length, uint64_t offset) {
  memset(part, 0, sizeof *part);
  part->ov.Offset = (DWORD)(offset & 0xffffffffu);
  part->ov.OffsetHigh = (DWORD)(offset >> 32);
  part->req = req;
  part->asked = length;
}

/*
 * Issues one part.  Returns true if the part is finished already (an
 * immediate failure, or a success on a file in skip mode, for which no
 * packet will ever come), false if its packet will come through the port.
 */
bool issue(iocp_request *req, iocp_part *part, void *base, bool write, bool skip_on_success) {
  part->issued = 1;
  BOOL ok = write ? WriteFile(req->file, base, part->asked, NULL, &part->ov)
                  : ReadFile(req->file, base, part->asked, NULL, &part->ov);
  if (ok) {
    if (!skip_on_success) return false; /* not in skip mode: the packet is queued anyway */
    DWORD done = 0;
    GetOverlappedResult(req->file, &part->ov, &done, FALSE);
    part->done = done;
    return true;
  }
  DWORD error = GetLastError();
  if (error == ERROR_IO_PENDING) return false;
  part->error = error;
  return true;
}

/*
 * Issues every non-empty buffer of a read or write as its own overlapped
 * transfer at its own offset.  A part that finishes at once short or
 * failed ends the issuing: later parts could not count (see fold), so they
 * are marked not issued and count as finished.
 */
int start_transfer(IocpContext *ctx, iocp_request *req, bool skip_on_success) {
  const aio_io *io = &req->io;
  bool write = is_write(io->op);
  uint32_t n = nonempty_buffers(io);
  if (n == 0) {
    complete(req, 0);
    return AIO_DISPOSITION_ACCEPTED;
  }
  if (!reserve_parts(req, n)) return AIO_DISPOSITION_QUEUE_FULL;
  req->nparts = n;
  req->remaining = (LONG)n + 1; /* +1: held by this function until every part is issued */
  uint64_t offset = io->offset;
  uint32_t k = 0;
  bool issuing = true;
  for (uint32_t i = 0; i < io->iovcnt; i++) {
    if (io->iov[i].len == 0) continue;
    iocp_part *part = &req->parts[k++];
    prepare_part(req, part, (DWORD)io->iov[i].len, offset);
    offset += io->iov[i].len;
    if (!issuing) {
      InterlockedDecrement(&req->remaining);
      continue;
    }
    add(&ctx->counters.parts, 1);
    if (!issue(req, part, io->iov[i].base, write, skip_on_success)) continue;
    if (k == 1 && part->error != 0 && is_resource_shortage(part->error)) {
      /* Nothing is in flight yet: the core runs the whole IO itself. */
      add(&ctx->counters.eagain, 1);
      return AIO_DISPOSITION_EAGAIN;
    }
    add(&ctx->counters.finished_inline, 1);
    issuing = part->error == 0 && part->done == part->asked;
    InterlockedDecrement(&req->remaining); /* never the last: we still hold one */
  }
  part_done(req);
  return AIO_DISPOSITION_ACCEPTED;
}

/* A Windows thread-pool callback: FlushFileBuffers blocks until the device has the data. */
VOID CALLBACK flush_callback(PTP_CALLBACK_INSTANCE instance, PVOID arg) {
  (void)instance;
  iocp_request *req = (iocp_request *)arg;
  int32_t result = FlushFileBuffers(req->file) ? 0 : aio_win_errno(GetLastError(), AIO_WIN_CALL_FLUSH);
  add(&req->ctx->counters.flushes, 1);
  complete(req, result);
}

int start_flush(iocp_request *req) {
  req->nparts = 0;
  /* The callback holds `req` until it completes the IO; the context waits
   * for that (completions.WaitAll() in Quiesce) before it frees anything. */
  return TrySubmitThreadpoolCallback(flush_callback, req, NULL) ? AIO_DISPOSITION_ACCEPTED : AIO_DISPOSITION_QUEUE_FULL;
}

/* Records a dequeued packet in its part. */
void record_packet(const OVERLAPPED_ENTRY *entry) {
  iocp_part *part = (iocp_part *)entry->lpOverlapped;
  DWORD done = 0;
  /* The packet's status is in the OVERLAPPED; GetOverlappedResult turns a
   * failure into its Win32 error (STATUS_END_OF_FILE: ERROR_HANDLE_EOF). */
  if (GetOverlappedResult(part->req->file, &part->ov, &done, FALSE)) {
    part->done = done;
  } else {
    part->error = GetLastError();
    part->done = entry->dwNumberOfBytesTransferred;
  }
}

void note_reap(iocp_counters *counters, ULONG n) {
  add(&counters->reaps, 1);
  LONG64 largest = counters->largest_reap;
  while ((LONG64)n > largest) {
    LONG64 seen = InterlockedCompareExchange64(&counters->largest_reap, (LONG64)n, largest);
    if (seen == largest) break;
    largest = seen;
  }
}

}  // namespace

int iocp_start(IocpContext *ctx, iocp_request *req, const iocp_file *file) {
  InterlockedExchange(&req->busy, 1);
  add(&ctx->counters.submitted, 1);
  if (file == NULL) {
    /* Not a file of this context (closed, or a made-up AioFile.fd): never
     * hand it to ReadFile, which could reach some other object's HANDLE. */
    req->nparts = 0;
    complete(req, AIO_UV_EBADF);
    return AIO_DISPOSITION_ACCEPTED;
  }
  req->file = file->handle;
  int disposition;
  if (req->io.op == AIO_OP_FSYNC || req->io.op == AIO_OP_FDATASYNC) {
    disposition = start_flush(req);
  } else {
    disposition = start_transfer(ctx, req, file->skip_on_success != 0);
  }
  if (disposition != AIO_DISPOSITION_ACCEPTED) {
    InterlockedExchange(&req->busy, 0);
    add(&ctx->counters.submitted, -1);
  }
  return disposition;
}

void iocp_reaper_main(void *arg) {
  IocpContext *ctx = (IocpContext *)arg;
  OVERLAPPED_ENTRY entries[IOCP_REAP_BATCH];
  for (;;) {
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(ctx->port, entries, IOCP_REAP_BATCH, &n, INFINITE, FALSE)) {
      /* Only a closed port fails an infinite wait, and the port is closed
       * after this thread was joined; anything else is retried. */
      DWORD error = GetLastError();
      if (error == ERROR_ABANDONED_WAIT_0 || error == ERROR_INVALID_HANDLE) return;
      continue;
    }
    note_reap(&ctx->counters, n);
    bool stop = false;
    for (ULONG i = 0; i < n; i++) {
      if (entries[i].lpCompletionKey == IOCP_KEY_STOP) {
        stop = true; /* posted after every IO completed: nothing follows it */
        continue;
      }
      if (entries[i].lpOverlapped == NULL) continue; /* nobody posts such packets; never dereference one */
      record_packet(&entries[i]);
      add(&ctx->counters.finished_by_port, 1);
      part_done(((iocp_part *)entries[i].lpOverlapped)->req);
    }
    if (stop) return;
  }
}

int iocp_cancel(IocpContext *ctx, iocp_request *req) {
  add(&ctx->counters.cancel_requests, 1);
  bool found = false;
  /* The parts stay valid until the completion is drained on this thread
   * (see iocp_request.parts); a finished part is simply not found. */
  for (uint32_t k = 0; k < req->nparts; k++) {
    if (req->parts[k].issued && CancelIoEx(req->file, &req->parts[k].ov)) found = true;
  }
  if (found) add(&ctx->counters.cancels_accepted, 1);
  return found ? 0 : 1;
}

int32_t iocp_execute_sync(IocpContext *ctx, const aio_io *io) {
  HANDLE file = (HANDLE)(intptr_t)io->file;
  add(&ctx->counters.executed_sync, 1);
  if (aio_file_op_is(io->op)) return aio_file_op_execute(io);
  if (io->op == AIO_OP_FSYNC || io->op == AIO_OP_FDATASYNC) {
    return FlushFileBuffers(file) ? 0 : aio_win_errno(GetLastError(), AIO_WIN_CALL_FLUSH);
  }
  if (ctx->sync_event == NULL) ctx->sync_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (ctx->sync_event == NULL) return AIO_UV_ENOMEM;
  bool write = is_write(io->op);
  int64_t total = 0;
  int32_t failure = 0;
  uint64_t offset = io->offset;
  for (uint32_t i = 0; i < io->iovcnt; i++) {
    if (io->iov[i].len == 0) continue;
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.Offset = (DWORD)(offset & 0xffffffffu);
    ov.OffsetHigh = (DWORD)(offset >> 32);
    /* The low bit keeps the kernel from queueing a packet to the port: this
     * transfer is waited for here, and the reaper must never see it. */
    ov.hEvent = (HANDLE)((uintptr_t)ctx->sync_event | 1);
    DWORD asked = (DWORD)io->iov[i].len, done = 0;
    BOOL ok = write ? WriteFile(file, io->iov[i].base, asked, NULL, &ov) : ReadFile(file, io->iov[i].base, asked, NULL, &ov);
    if (ok || GetLastError() == ERROR_IO_PENDING) ok = GetOverlappedResult(file, &ov, &done, TRUE);
    if (!fold(&total, &failure, asked, done, ok ? 0 : GetLastError(), write)) break;
    offset += asked;
  }
  return failure != 0 ? failure : (int32_t)total;
}
