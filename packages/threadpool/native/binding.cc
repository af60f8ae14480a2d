/*
 * binding.cc: the threadpool method's native context, on the kit
 * (aio/kit.hh): submission into the process-wide pool (threadpool.cc),
 * completions back through the kit's aio::ThreadCompletions, one wake-up
 * per batch.
 *
 * The kit owns the context's lifecycle (the type-tagged context object, the
 * reference that is strong only while IO is in flight, the cleanup hook and
 * the finalizer).  What this file must keep true:
 * - Quiesce frees the context's resources only after the pool holds no IO
 *   of it (tp_pool_unregister).  At close() nothing is in flight, so that
 *   wait only orders us after the last worker that touched the context; at
 *   an environment teardown it waits for the IO still queued or running
 *   (it is run, not dropped), whose buffers are alive until then because the
 *   kit's hook runs before Node's own cleanup.  Completions of that IO are
 *   dropped: nobody is left to receive them.
 * - The completion queue is created in Start, before the kit adds the
 *   cleanup hook, so the hook runs first (hooks run newest first).
 */
#include "binding.h"

#include <errno.h>
#include <stdlib.h>

namespace {

struct tp_counters {
  double accepted;        /* IOs this context took (queued or run in submit) */
  double queued;          /* handed to the workers */
  double ran_in_submit;   /* the queue was full: run by the submitting thread (PostgreSQL X13) */
  double rejected;        /* bad description or busy slot: the core ran them synchronously */
  double canceled;        /* removed from the queue by cancel() */
  double cancel_too_late; /* cancel() found the IO running or done */
};

/* The pool options of create(); 0 means "not given". */
struct tp_pool_options {
  double workers;
  double default_workers;
  double queue_size;
};

/* poll() and wait() are the kit's (aio::ThreadContext): the workers push into `completions`. */
class TpContext : public aio::ThreadContext {
 public:
  explicit TpContext(const tp_pool_options &options) : options_(options) {}
  tp_file_list *files() { return &files_; }

  bool Start(const aio::ContextArgs &args) override;
  uint32_t Submit(aio::SubmitBatch &batch) override;
  uint32_t Cancel(uint32_t index, uint32_t generation) override;
  void Stats(Napi::Object stats) override;
  void Quiesce(bool teardown) override;

 protected:
  bool Holds(uint32_t index, uint32_t generation) override;

 private:
  void RunInSubmit(aio_io *io);
  uint32_t RecordDispositions(const uint8_t *outcome, uint32_t count);

  tp_pool_options options_;
  /* Seen by the pool's workers under the pool lock; `pool_.cq` is the queue of `completions`. */
  tp_context pool_ = {};
  tp_counters counters_ = {};
  tp_file_list files_ = {}; /* JS thread: files the context opened itself (Windows) */
};

bool TpContext::Start(const aio::ContextArgs &args) {
  tp_request *requests = (tp_request *)calloc(capacity(), sizeof *requests);
  if (requests == NULL) {
    aio::ThrowError(env(), "ENOMEM", "cannot allocate the threadpool context");
    return false;
  }
  if (!completions.Init(this, "aio:threadpool")) {
    free(requests);
    return false;
  }
  pool_.cq = completions.queue();
  pool_.requests = requests;
  pool_.capacity = capacity();
  for (uint32_t i = 0; i < capacity(); i++) requests[i].ctx = &pool_;
  /* An explicit choice applies to the whole pool at once; a default only
   * until someone chooses (see tp_pool_configure). */
  tp_pool_configure((uint32_t)options_.workers, (uint32_t)options_.queue_size, 0);
  tp_pool_configure((uint32_t)options_.default_workers, TP_DEFAULT_QUEUE_SIZE, 1);
  tp_pool_register(&pool_);
  return true;
}

void TpContext::Quiesce(bool teardown) {
  tp_pool_unregister(&pool_);
  /* No IO uses them any more: the pool holds none of this context's IO. */
  tp_files_close_all(&files_);
  completions.Destroy();
  free(pool_.requests);
  pool_.requests = NULL;
}

/* ------------------------------------------------------------------ */
/* submit()                                                            */
/* ------------------------------------------------------------------ */

/* Queue full (PostgreSQL X13): the submitting thread runs the IO itself. */
void TpContext::RunInSubmit(aio_io *io) {
  int32_t result = tp_execute(io);
  aio_io_release(io);
  completions.Push(io->index, io->generation, result);
  counters_.ran_in_submit++;
}

/* Writes each IO's disposition and returns how many were accepted. */
uint32_t TpContext::RecordDispositions(const uint8_t *outcome, uint32_t count) {
  uint32_t accepted = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (outcome[i] == TP_OUTCOME_QUEUED || outcome[i] == TP_OUTCOME_FULL) {
      SetDisposition(i, AIO_DISPOSITION_ACCEPTED);
      accepted++;
    } else {
      /* The core runs it synchronously through executeSync(), which reports
       * a bad description as EINVAL. */
      SetDisposition(i, AIO_DISPOSITION_UNSUPPORTED);
      counters_.rejected++;
    }
    if (outcome[i] == TP_OUTCOME_QUEUED) counters_.queued++;
  }
  counters_.accepted += accepted;
  return accepted;
}

uint32_t TpContext::Submit(aio::SubmitBatch &batch) {
  uint8_t outcome[AIO_SUBMIT_MAX];
  for (uint32_t i = 0; i < batch.count; i++) outcome[i] = batch.valid[i] ? TP_OUTCOME_PENDING : TP_OUTCOME_SKIP;
  tp_pool_submit(&pool_, batch.ios, batch.count, outcome);
  uint32_t accepted = RecordDispositions(outcome, batch.count);
  for (uint32_t i = 0; i < batch.count; i++) {
    if (outcome[i] == TP_OUTCOME_FULL) RunInSubmit(&batch.ios[i]);
    else if (outcome[i] == TP_OUTCOME_BUSY) aio_io_release(&batch.ios[i]);
  }
  return accepted;
}

/* ------------------------------------------------------------------ */
/* wait(), cancel(), stats()                                           */
/* ------------------------------------------------------------------ */

/*
 * What wait() blocks on: the pool holds the IO while it is queued or
 * running.  One that completed (its completion is queued or was delivered)
 * or was never submitted is not held, so a wrong reference cannot hang the
 * thread (the kit then drains instead).
 */
bool TpContext::Holds(uint32_t index, uint32_t generation) { return tp_pool_busy(&pool_.requests[index], generation) != 0; }

/* 0: removed from the queue, it completes with ECANCELED; 1: running or done, it completes normally. */
uint32_t TpContext::Cancel(uint32_t index, uint32_t generation) {
  int removed = tp_pool_cancel(&pool_.requests[index], generation);
  if (removed) counters_.canceled++;
  else counters_.cancel_too_late++;
  return removed ? 0 : 1;
}

void SetPoolInfo(Napi::Object object, bool prefixed) {
  tp_pool_info pool;
  tp_pool_get_info(&pool);
  aio::SetCounters(object, {
                               {prefixed ? "poolWorkers" : "workers", (double)pool.workers_target},
                               {prefixed ? "poolThreads" : "threads", (double)pool.workers_started},
                               {prefixed ? "poolQueueSize" : "queueSize", (double)pool.queue_size},
                               {prefixed ? "poolQueued" : "queued", (double)pool.queued},
                               {prefixed ? "poolQueuedPeak" : "queuedPeak", (double)pool.queued_peak},
                               {prefixed ? "poolContexts" : "contexts", (double)pool.contexts},
                               {prefixed ? "poolEnvironments" : "environments", (double)pool.environments},
                               {prefixed ? "poolExecuted" : "executed", (double)pool.executed},
                               {prefixed ? "poolWakeups" : "wakeups", (double)pool.wakeups},
                               {prefixed ? "poolStarts" : "starts", (double)pool.started_count},
                               {prefixed ? "poolIoMicros" : "ioMicros", (double)pool.service_ns / 1000.0},
                               {prefixed ? "poolWakeMicros" : "wakeMicros", (double)pool.wake_ns / 1000.0},
                           });
}

void TpContext::Stats(Napi::Object stats) {
  aio::SetCounters(stats, {
                              {"accepted", counters_.accepted},
                              {"queued", counters_.queued},
                              {"ranInSubmit", counters_.ran_in_submit},
                              {"rejected", counters_.rejected},
                              {"canceled", counters_.canceled},
                              {"cancelTooLate", counters_.cancel_too_late},
                              {"syncWaits", blocked_waits()},
                          });
  SetPoolInfo(stats, true);
}

/* ------------------------------------------------------------------ */
/* create()                                                            */
/* ------------------------------------------------------------------ */

aio::Context *CreateContext(Napi::Env env, const aio::ContextArgs &args) {
  tp_pool_options options = {0, 0, 0};
  if (!aio::ReadOption(args.options, "workers", 1, TP_MAX_WORKERS, "options.workers must be an integer from 1 to 32", &options.workers) ||
      !aio::ReadOption(args.options, "defaultWorkers", 1, TP_MAX_WORKERS, "options.defaultWorkers must be an integer from 1 to 32",
                       &options.default_workers) ||
      !aio::ReadOption(args.options, "queueSize", 1, TP_MAX_QUEUE_SIZE, "options.queueSize must be an integer from 1 to 1024",
                       &options.queue_size)) {
    return nullptr;
  }
  return new TpContext(options);
}

}  // namespace

/* A random tag: no other addon's object passes for a threadpool context. */
const aio::MethodOps tp_method_ops = {"threadpool", {0x7470a10c3e5b4f21ull, 0x9d1c6e0b8a2f4d37ull}, CreateContext};

tp_file_list *tp_files_of(Napi::Value context) {
  aio::Context *ctx = aio::UnwrapOpen(context, &tp_method_ops);
  return ctx != nullptr ? static_cast<TpContext *>(ctx)->files() : nullptr;
}

#ifndef _WIN32
void tp_files_close_all(tp_file_list *files) { (void)files; /* POSIX: the core opens and closes fds */ }
#endif

/* ------------------------------------------------------------------ */
/* poolInfo(), setPaused(), probe(), executeSync()                     */
/* ------------------------------------------------------------------ */

Napi::Value tp_pool_info_js(const Napi::CallbackInfo &info) {
  Napi::Object result = Napi::Object::New(info.Env());
  SetPoolInfo(result, false);
  return result;
}

Napi::Value tp_set_paused(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) {
    aio::ThrowTypeError(info.Env(), "setPaused(paused: boolean)");
    return Napi::Value();
  }
  tp_pool_set_paused(info[0].As<Napi::Boolean>().Value() ? 1 : 0);
  return Napi::Value();
}

/* A live check: can this process start a thread?  Never throws. */
Napi::Value tp_probe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int rc = tp_pool_probe();
  Napi::Object result = Napi::Object::New(env);
  result.Set("available", Napi::Boolean::New(env, rc == 0));
  if (rc == 0) {
    result.Set("reason", Napi::String::New(env, "native worker threads start"));
  } else {
    result.Set("reason", Napi::String::New(env, rc == EAGAIN ? "EAGAIN: cannot start a thread" : "cannot start a thread"));
    result.Set("code", Napi::String::New(env, rc == EAGAIN ? "EAGAIN" : "ENOMEM"));
  }
  return result;
}

/*
 * executeSync(op, file, offset, length, views, flags?): the synchronous path
 * the core takes for what must not go to the pool (references-local, the
 * synchronous flag, a description submit() rejected).  Runs the IO with the
 * same code the workers use, on the calling thread.  `flags` (the IO's
 * AIO_FLAG_* bits) matters to allocate only (AIO_FLAG_KEEP_SIZE).
 */
Napi::Value tp_execute_sync(const Napi::CallbackInfo &info) {
  aio_io io;
  int status;
  if (!aio::DecodeSingle(info, 0, "executeSync(op, file, offset, length, views, flags?)", &io, &status)) return Napi::Value();
  const napi_value args[6] = {info[0], info[1], info[2], info[3], info[4], info[5]};
  aio_file_op_redecode(info.Env(), args, &io, &status);
  int32_t raw = tp_invalid_result();
  if (status == 0) {
    raw = tp_execute(&io);
    aio_io_release(&io);
  }
  return Napi::Number::New(info.Env(), raw);
}

/* ------------------------------------------------------------------ */
/* The environment.                                                    */
/* ------------------------------------------------------------------ */

/*
 * Called once per environment that loads the addon.  The hook registered
 * here is older than every context's hook of this environment, so it runs
 * after all of them: by then the environment has no IO in the pool, and if
 * it was the last environment, the workers can be joined.  (Each
 * registration has its own record, so an addon initialised twice in one
 * environment, after a cleared require cache, registers twice.)
 */
bool tp_attach_env(Napi::Env env) {
  Napi::Env::CleanupHook<void (*)()> hook = env.AddCleanupHook(tp_pool_detach_env);
  if (hook.IsEmpty()) {
    aio::ThrowError(env, "AIO_ERR_NATIVE", "cannot register the environment cleanup hook");
    return false;
  }
  tp_pool_attach_env();
  return true;
}
