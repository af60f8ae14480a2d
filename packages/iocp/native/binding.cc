/*
 * binding.cc: the iocp method's native context on the kit (aio/kit.hh):
 * one completion port, one reaper thread, the request slots and the files
 * per AIO context; completions back through the kit's
 * aio::ThreadCompletions, one wake-up per batch.
 *
 * The kit owns the context's lifecycle (the type-tagged context object, the
 * reference that is strong only while IO is in flight, the cleanup hook and
 * the finalizer) and calls Quiesce exactly once: from close(), from the
 * environment cleanup hook (a worker_thread terminated, the main thread
 * ending) or from the finalizer of an idle context that JavaScript dropped.
 * What this file must keep true:
 * - Quiesce first waits until every accepted IO has completed, whatever the
 *   caller: a HANDLE closed under an overlapped transfer would cancel it,
 *   and its buffers are alive until then (the kit's hook runs before Node's
 *   own cleanup, while the JavaScript objects the core pins are alive).
 *   Only then does it stop the reaper, close the files still open and the
 *   port, and free the slots.
 * - The completion queue is created in Start, before the kit adds the
 *   cleanup hook, so the hook runs first (hooks run newest first).
 */
#include <stdlib.h>

#include "iocp.h"

namespace {

/* Whether the slot holds the IO (generation) in flight; read on the JS thread, where slots are reused. */
bool holds(const iocp_request *req, uint32_t generation) { return req->busy && req->io.generation == generation; }

}  // namespace

/* ---- the mechanism's half of the kit's lifecycle ----------------------- */

bool IocpContext::Start(const aio::ContextArgs &args) {
  requests = (iocp_request *)calloc(capacity(), sizeof(iocp_request));
  if (requests == nullptr) {
    aio::ThrowError(env(), "ENOMEM", "cannot allocate the iocp context");
    return false;
  }
  for (uint32_t i = 0; i < capacity(); i++) requests[i].ctx = this;
  /* One reaper thread dequeues, so the port lets one thread run at a time. */
  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (port == NULL) {
    FreeSlots();
    aio::ThrowError(env(), "AIO_ERR_NATIVE", "CreateIoCompletionPort failed");
    return false;
  }
  if (!completions.Init(this, "aio:iocp")) {
    CloseHandle(port);
    FreeSlots();
    return false;
  }
  if (aio_thread_create(&reaper, iocp_reaper_main, this) != 0) {
    completions.Destroy();
    CloseHandle(port);
    FreeSlots();
    aio::ThrowError(env(), "AIO_ERR_NATIVE", "cannot start the iocp reaper thread");
    return false;
  }
  return true;
}

void IocpContext::FreeSlots() {
  for (uint32_t i = 0; requests != nullptr && i < capacity(); i++) free(requests[i].heap_parts);
  free(requests);
  requests = nullptr;
}

/*
 * Waits for every accepted IO, then releases the mechanism (see the file
 * comment).  Completions that arrive during a teardown are dropped with the
 * queue: nobody is left to receive them.
 */
void IocpContext::Quiesce(bool teardown) {
  (void)teardown; /* both wait: the IO in flight is run to its end, not abandoned */
  completions.WaitAll();
  PostQueuedCompletionStatus(port, 0, IOCP_KEY_STOP, NULL);
  aio_thread_join(reaper);
  iocp_files_close_all(&files);
  CloseHandle(port);
  port = NULL;
  if (sync_event != NULL) CloseHandle(sync_event);
  sync_event = NULL;
  completions.Destroy();
  FreeSlots();
}

/* ---- submit, wait, cancel, stats ----------------------------------------- */

/* Takes one decoded IO into its slot and issues it; returns its disposition. */
int IocpContext::SubmitOne(aio_io *io) {
  iocp_request *req = &requests[io->index];
  /* The core never submits a file op (they are not in capabilities.ops): a
   * completion port has no stat, truncate or allocate.  Should one come, it
   * goes back to the core's synchronous path, which is executeSync. */
  if (aio_file_op_is(io->op)) {
    aio_io_release(io);
    return AIO_DISPOSITION_UNSUPPORTED;
  }
  /* A slot still in flight would be a bug in the caller; the core then runs
   * the IO itself, and the IO in flight keeps its slot. */
  if (req->busy) {
    aio_io_release(io);
    return AIO_DISPOSITION_UNSUPPORTED;
  }
  aio_io_move(&req->io, io); /* the slot owns the buffer list now */
  int disposition = iocp_start(this, req, iocp_files_find(&files, (HANDLE)(intptr_t)req->io.file));
  if (disposition != AIO_DISPOSITION_ACCEPTED) aio_io_release(&req->io);
  return disposition;
}

uint32_t IocpContext::Submit(aio::SubmitBatch &batch) {
  uint32_t accepted = 0;
  for (uint32_t i = 0; i < batch.count; i++) {
    if (!batch.valid[i]) continue; /* the kit marked it: the core runs it and reports EINVAL */
    int disposition = SubmitOne(&batch.ios[i]);
    SetDisposition(i, (enum aio_disposition)disposition);
    if (disposition == AIO_DISPOSITION_ACCEPTED) accepted++;
  }
  /* Some may have completed (and been pushed) already; none can have been
   * drained, because draining happens on this thread. */
  return accepted;
}

/*
 * What wait() blocks on (the kit drains instead for anything else, which
 * could never arrive).  An IO between its last part and its push briefly
 * looks finished; the core then calls again, and the push comes within
 * microseconds.
 */
bool IocpContext::Holds(uint32_t index, uint32_t generation) { return holds(&requests[index], generation); }

uint32_t IocpContext::Cancel(uint32_t index, uint32_t generation) {
  /* 0 canceled, 1 not canceled (too late, or a flush, which cannot be). */
  iocp_request *req = &requests[index];
  return holds(req, generation) ? (uint32_t)iocp_cancel(this, req) : 1;
}

void IocpContext::Stats(Napi::Object stats) {
  /* Aligned 64-bit loads: whole values even while other threads add. */
  const iocp_counters *c = &counters;
  aio::SetCounters(stats, {
                              {"submitted", (double)c->submitted},
                              {"transfers", (double)c->parts},
                              {"finishedInline", (double)c->finished_inline},
                              {"finishedByPort", (double)c->finished_by_port},
                              {"reaps", (double)c->reaps},
                              {"largestReap", (double)c->largest_reap},
                              {"flushes", (double)c->flushes},
                              {"executedSync", (double)c->executed_sync},
                              {"resourceShortages", (double)c->eagain},
                              {"cancelRequests", (double)c->cancel_requests},
                              {"cancelsAccepted", (double)c->cancels_accepted},
                              {"openFiles", (double)files.count},
                              {"skipCompletionPortOnSuccess", skip_on_success ? 1.0 : 0.0},
                          });
}

/* ---- create ---------------------------------------------------------------- */

namespace {

/* Reads the method's own option and allocates the context; nullptr after throwing.  The kit then calls Start. */
aio::Context *CreateContext(Napi::Env env, const aio::ContextArgs &args) {
  Napi::Value skip = args.options.Get("skipCompletionPortOnSuccess");
  if (env.IsExceptionPending()) return nullptr;
  if (!skip.IsUndefined() && !skip.IsBoolean()) {
    aio::ThrowTypeError(env, "options.skipCompletionPortOnSuccess must be a boolean");
    return nullptr;
  }
  return new IocpContext(skip.IsUndefined() || skip.As<Napi::Boolean>().Value());
}

}  // namespace

/* A random tag: no other addon's object passes for an iocp context. */
const aio::MethodOps iocp_method_ops = {"iocp", {0x696f6370c4a1e7d3ull, 0x58b20f6e93d7412bull}, CreateContext};

/* ---- executeSync ------------------------------------------------------------- */

/*
 * executeSync(context, op, handle, offset, length, views, flags?): the
 * core's synchronous path on this method's HANDLEs (node:fs cannot use
 * them), and the only path of stat, truncate and allocate, which a
 * completion port cannot run (file_ops.c's blocking Win32 calls).  A bad
 * description (a detached buffer, say) is an EINVAL result, as a
 * submission of it would be.  `flags` matters to allocate only
 * (AIO_FLAG_KEEP_SIZE).
 */
Napi::Value iocp_execute_sync_js(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  aio_io io;
  int status;
  if (!aio::DecodeSingle(info, 1, "executeSync(context, op, handle, offset, length, views, flags?)", &io, &status)) return Napi::Value();
  const napi_value args[6] = {info[1], info[2], info[3], info[4], info[5], info[6]};
  aio_file_op_redecode(env, args, &io, &status);
  IocpContext *ctx = static_cast<IocpContext *>(aio::UnwrapOpen(info[0], &iocp_method_ops));
  if (ctx == nullptr || status != 0) {
    aio_io_release(&io); /* nothing to free unless it decoded */
    return ctx == nullptr ? Napi::Value() : Napi::Number::New(env, AIO_UV_EINVAL);
  }
  int32_t result = iocp_files_find(&ctx->files, (HANDLE)(intptr_t)io.file) != NULL ? iocp_execute_sync(ctx, &io) : AIO_UV_EBADF;
  aio_io_release(&io);
  return Napi::Number::New(env, result);
}
