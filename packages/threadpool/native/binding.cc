/*
 * binding.cc: the Node-API surface of the threadpool method: one native
 * context per AIO context, submission into the process-wide pool
 * (threadpool.cc), completions back through the kit's completion queue.
 *
 * Lifetime of a context (`tp_binding`):
 * - create() allocates it and returns it wrapped in an external.  The
 *   external owns the struct; its finalizer frees it, so a call with a
 *   closed context finds `open == 0` and throws instead of touching freed
 *   memory.
 * - Its resources (the completion queue with its thread-safe function, the
 *   request slots, the references to the two tables) are freed exactly once:
 *   by close(), or, if the environment goes away first (a worker_thread
 *   ending, the main thread exiting normally), by the environment cleanup
 *   hook.  Both first wait until no worker runs or holds one of its IOs.
 *   The hook is registered after the thread-safe function was created, so it
 *   runs before Node's own cleanup of that function (hooks run newest first)
 *   while the JavaScript objects it pins, among them every buffer of every
 *   IO in flight, are still alive.
 */
#include "binding.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "threadpool.h"

struct tp_counters {
  double accepted;       /* IOs this context took (queued or run in submit) */
  double queued;         /* handed to the workers */
  double ran_in_submit;  /* the queue was full: run by the submitting thread (PostgreSQL X13) */
  double rejected;       /* bad description or busy slot: the core ran them synchronously */
  double canceled;       /* removed from the queue by cancel() */
  double cancel_too_late;/* cancel() found the IO running or done */
  double sync_waits;     /* wait() calls that blocked */
};

struct tp_binding {
  uint32_t magic;
  int open;     /* JS thread: cleared by close() or the environment teardown */
  napi_env env;
  tp_context pool_ctx;
  /* The submission table: the data of a Float64Array that `words_ref`
   * holds until the context is released, so the memory stays valid. */
  double *words;
  napi_ref words_ref;
  /* Holds the Int32Array whose data `pool_ctx.cq.table` points into. */
  napi_ref table_ref;
  tp_counters counters;
  tp_file_list files; /* JS thread: files the context opened itself (Windows) */
};

namespace {

const uint32_t kMagic = 0x74706f6fu; /* identifies our externals */
const double kMaxSafeInteger = 9007199254740991.0;
const uint32_t kMaxViews = 1024; /* IOV_MAX on Linux */

/* ------------------------------------------------------------------ */
/* Small Node-API helpers.                                             */
/* ------------------------------------------------------------------ */

bool is_integer_in(double value, double low, double high) {
  return value >= low && value <= high && value == floor(value);
}

napi_value undefined_value(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

void set_number(napi_env env, napi_value object, const char *name, double value) {
  napi_value number;
  napi_create_double(env, value, &number);
  napi_set_named_property(env, object, name, number);
}

/* Reads argument `i` as an integer in [low, high]; throws and returns false otherwise. */
bool get_integer(napi_env env, napi_value value, double low, double high, const char *what, double *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", what);
    return false;
  }
  napi_get_value_double(env, value, out);
  if (!is_integer_in(*out, low, high)) {
    napi_throw_range_error(env, "AIO_ERR_OUT_OF_RANGE", what);
    return false;
  }
  return true;
}

/* An optional integer property: absent or undefined leaves `*out` as is. */
bool get_option(napi_env env, napi_value options, const char *name, double low, double high, const char *what, double *out) {
  bool has = false;
  napi_value value;
  napi_valuetype type;
  if (napi_has_named_property(env, options, name, &has) != napi_ok || !has) return true;
  napi_get_named_property(env, options, name, &value);
  if (napi_typeof(env, value, &type) == napi_ok && type == napi_undefined) return true;
  return get_integer(env, value, low, high, what, out);
}

/* The context behind an external, or NULL after throwing. */
tp_binding *unwrap(napi_env env, napi_value value, bool must_be_open) {
  napi_valuetype type;
  void *data = NULL;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, value, &data) != napi_ok || data == NULL ||
      ((tp_binding *)data)->magic != kMagic) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "expected a threadpool context from create()");
    return NULL;
  }
  tp_binding *b = (tp_binding *)data;
  if (must_be_open && !b->open) {
    napi_throw_error(env, "AIO_ERR_CLOSED", "the threadpool context is closed");
    return NULL;
  }
  return b;
}

/* The one argument of poll/stats/close: a context; NULL after throwing. */
tp_binding *context_argument(napi_env env, napi_callback_info info, const char *usage, bool must_be_open) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", usage);
    return NULL;
  }
  return unwrap(env, argv[0], must_be_open);
}

/* ------------------------------------------------------------------ */
/* Context lifetime.                                                   */
/* ------------------------------------------------------------------ */

void teardown_hook(void *arg);

/*
 * Frees a context's resources, once.  Waits first until the pool holds no
 * IO of it (tp_pool_unregister): at close() nothing is in flight, so that
 * wait only orders us after the last worker that touched the context; at an
 * environment teardown it waits for the IO still queued or running, whose
 * buffers are alive until then (see the file comment).  Completions of that
 * IO are dropped: nobody is left to receive them.
 */
void release_context(tp_binding *b, bool from_hook) {
  if (!b->open) return;
  b->open = 0;
  tp_pool_unregister(&b->pool_ctx);
  if (!from_hook) napi_remove_env_cleanup_hook(b->env, teardown_hook, b);
  /* No IO uses them any more: the pool holds none of this context's IO. */
  tp_files_close_all(&b->files);
  aio_cq_destroy(&b->pool_ctx.cq);
  napi_delete_reference(b->env, b->words_ref);
  napi_delete_reference(b->env, b->table_ref);
  free(b->pool_ctx.requests);
  b->pool_ctx.requests = NULL;
  b->words = NULL;
}

void teardown_hook(void *arg) { release_context((tp_binding *)arg, true); }

/* The external's finalizer: the struct itself goes only when JS can no longer name it. */
void finalize_context(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  tp_binding *b = (tp_binding *)data;
  release_context(b, false);
  b->magic = 0;
  free(b);
}

/*
 * The argument of an environment's cleanup hook.  Node refuses a second hook
 * with the same function and argument in one environment, and an addon can
 * be initialised twice in one environment (a cleared require cache), so
 * every registration gets an allocation of its own, freed by its hook.
 */
struct tp_env {
  int attached;
};

void detach_env_hook(void *arg) {
  tp_pool_detach_env();
  free(arg);
}

/* ------------------------------------------------------------------ */
/* create()                                                            */
/* ------------------------------------------------------------------ */

struct create_options {
  double capacity;
  double workers;          /* 0: not given */
  double default_workers;  /* 0: not given */
  double queue_size;       /* 0: not given */
};

bool read_create_options(napi_env env, napi_value options, create_options *out) {
  napi_valuetype type;
  if (napi_typeof(env, options, &type) != napi_ok || type != napi_object) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "create(options, ...): options must be an object");
    return false;
  }
  memset(out, 0, sizeof *out);
  out->capacity = -1;
  if (!get_option(env, options, "maxConcurrency", 1, 1024, "options.maxConcurrency must be an integer from 1 to 1024", &out->capacity) ||
      !get_option(env, options, "workers", 1, TP_MAX_WORKERS, "options.workers must be an integer from 1 to 32", &out->workers) ||
      !get_option(env, options, "defaultWorkers", 1, TP_MAX_WORKERS, "options.defaultWorkers must be an integer from 1 to 32", &out->default_workers) ||
      !get_option(env, options, "queueSize", 1, TP_MAX_QUEUE_SIZE, "options.queueSize must be an integer from 1 to 1024", &out->queue_size)) {
    return false;
  }
  if (out->capacity < 0) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "options.maxConcurrency is required");
    return false;
  }
  return true;
}

/* Allocates a context with its request slots; NULL after throwing. */
tp_binding *new_context(napi_env env, uint32_t capacity) {
  tp_binding *b = (tp_binding *)calloc(1, sizeof *b);
  tp_request *requests = (tp_request *)calloc(capacity, sizeof *requests);
  if (b == NULL || requests == NULL) {
    free(b);
    free(requests);
    napi_throw_error(env, "ENOMEM", "cannot allocate the threadpool context");
    return NULL;
  }
  b->magic = kMagic;
  b->env = env;
  b->pool_ctx.requests = requests;
  b->pool_ctx.capacity = capacity;
  for (uint32_t i = 0; i < capacity; i++) requests[i].ctx = &b->pool_ctx;
  return b;
}

}  // namespace

tp_binding *tp_unwrap_open(napi_env env, napi_value value) { return unwrap(env, value, true); }

tp_file_list *tp_context_files(tp_binding *b) { return &b->files; }

#ifndef _WIN32
void tp_files_close_all(tp_file_list *files) { (void)files; /* POSIX: the core opens and closes fds */ }
#endif

napi_value tp_create(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  create_options options;
  if (argc < 4 || !read_create_options(env, argv[0], &options)) {
    if (argc < 4) napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "create(options, words, completions, onComplete)");
    return NULL;
  }
  uint32_t capacity = (uint32_t)options.capacity;
  double *words = (double *)aio_typed_array_data(env, argv[1], napi_float64_array, AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE,
                                                 "words must be a Float64Array of at least 320 elements");
  if (words == NULL) return NULL;
  int32_t *table = (int32_t *)aio_typed_array_data(env, argv[2], napi_int32_array, (size_t)capacity * 3,
                                                   "completions must be an Int32Array of 3 x maxConcurrency elements");
  if (table == NULL) return NULL;
  napi_valuetype type;
  if (napi_typeof(env, argv[3], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "onComplete must be a function");
    return NULL;
  }
  tp_binding *b = new_context(env, capacity);
  if (b == NULL) return NULL;
  if (aio_cq_init(&b->pool_ctx.cq, env, capacity, table, argv[3], "aio:threadpool") != napi_ok) {
    free(b->pool_ctx.requests);
    free(b);
    return NULL;
  }
  b->words = words;
  napi_create_reference(env, argv[1], 1, &b->words_ref);
  napi_create_reference(env, argv[2], 1, &b->table_ref);
  /* An explicit choice applies to the whole pool at once; a default only
   * until someone chooses (see tp_pool_configure). */
  tp_pool_configure((uint32_t)options.workers, (uint32_t)options.queue_size, 0);
  tp_pool_configure((uint32_t)options.default_workers, TP_DEFAULT_QUEUE_SIZE, 1);
  tp_pool_register(&b->pool_ctx);
  b->open = 1;
  napi_add_env_cleanup_hook(env, teardown_hook, b);
  napi_value external;
  if (napi_create_external(env, b, finalize_context, NULL, &external) != napi_ok) {
    release_context(b, false);
    free(b);
    return NULL;
  }
  return external;
}

/* ------------------------------------------------------------------ */
/* submit()                                                            */
/* ------------------------------------------------------------------ */

namespace {

/*
 * Checks one IO description of the submission table before decoding it:
 * every word must be an integer in its range, and the number of buffers
 * must match the op (a read or write has exactly one; a sync has none).
 * aio_decode_io then checks the buffers themselves.
 */
/*
 * Decodes IO `i`; returns whether it can go to the pool.  The kit checks the
 * description itself (numbers, op, buffer counts); the handle index must also
 * fit this context's request table.
 */
bool decode_for_submit(napi_env env, const double *words, napi_value views, uint32_t capacity, uint32_t i, aio_io *io) {
  if (aio_decode_io(env, words, views, i, io) != 0) return false;
  if ((uint32_t)io->index >= capacity) {
    aio_io_release(io);
    return false;
  }
  return true;
}

/* Queue full (PostgreSQL X13): the submitting thread runs the IO itself. */
void run_in_submit(tp_binding *b, aio_io *io) {
  int32_t result = tp_execute(io);
  aio_io_release(io);
  aio_cq_push(&b->pool_ctx.cq, io->index, io->generation, result);
  b->counters.ran_in_submit++;
}

/* Writes each IO's disposition into word 9 and returns how many were accepted. */
uint32_t record_dispositions(tp_binding *b, const uint8_t *outcome, uint32_t count) {
  uint32_t accepted = 0;
  for (uint32_t i = 0; i < count; i++) {
    double *disposition = b->words + (size_t)i * AIO_SUBMIT_STRIDE + 9;
    if (outcome[i] == TP_OUTCOME_QUEUED || outcome[i] == TP_OUTCOME_FULL) {
      *disposition = AIO_DISPOSITION_ACCEPTED;
      accepted++;
    } else {
      /* The core runs it synchronously through executeSync(), which reports
       * a bad description as EINVAL. */
      *disposition = AIO_DISPOSITION_UNSUPPORTED;
      b->counters.rejected++;
    }
    if (outcome[i] == TP_OUTCOME_QUEUED) b->counters.queued++;
  }
  b->counters.accepted += accepted;
  return accepted;
}

}  // namespace

napi_value tp_submit(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  tp_binding *b = argc >= 3 ? unwrap(env, argv[0], true) : NULL;
  double count_value;
  bool is_array = false;
  uint32_t nviews = 0;
  if (b == NULL || !get_integer(env, argv[1], 0, AIO_SUBMIT_MAX, "count must be an integer from 0 to 32", &count_value)) {
    if (argc < 3) napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "submit(context, count, views)");
    return NULL;
  }
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "views must be an array of ArrayBufferViews");
    return NULL;
  }
  napi_get_array_length(env, argv[2], &nviews);
  uint32_t count = (uint32_t)count_value;
  aio_io ios[AIO_SUBMIT_MAX];
  uint8_t outcome[AIO_SUBMIT_MAX];
  /* The completion queue holds `capacity` completions: never accept more
   * IOs than that in flight (the core never tries; a direct caller could). */
  uint32_t room = b->pool_ctx.capacity - b->pool_ctx.cq.inflight;
  for (uint32_t i = 0; i < count; i++) {
    bool ok = room > 0 && decode_for_submit(env, b->words, argv[2], b->pool_ctx.capacity, i, &ios[i]);
    outcome[i] = ok ? TP_OUTCOME_PENDING : TP_OUTCOME_SKIP;
    if (ok) room--;
  }
  tp_pool_submit(&b->pool_ctx, ios, count, outcome);
  /* Counted before any completion can be drained (drains run on this thread). */
  aio_cq_accepted(&b->pool_ctx.cq, record_dispositions(b, outcome, count));
  for (uint32_t i = 0; i < count; i++) {
    if (outcome[i] == TP_OUTCOME_FULL) run_in_submit(b, &ios[i]);
    else if (outcome[i] == TP_OUTCOME_BUSY) aio_io_release(&ios[i]);
  }
  return undefined_value(env);
}

/* ------------------------------------------------------------------ */
/* poll(), wait(), cancel()                                            */
/* ------------------------------------------------------------------ */

napi_value tp_poll(napi_env env, napi_callback_info info) {
  napi_value result;
  tp_binding *b = context_argument(env, info, "poll(context)", true);
  if (b == NULL) return NULL;
  napi_create_uint32(env, aio_cq_drain(&b->pool_ctx.cq), &result);
  return result;
}

namespace {

/* Reads (context, index, generation); NULL after throwing. */
tp_binding *get_io_args(napi_env env, napi_callback_info info, const char *usage, uint32_t *index, uint32_t *generation) {
  size_t argc = 3;
  napi_value argv[3];
  double index_value, generation_value;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", usage);
    return NULL;
  }
  tp_binding *b = unwrap(env, argv[0], true);
  if (b == NULL ||
      !get_integer(env, argv[1], 0, b->pool_ctx.capacity - 1, "index must be a handle index of this context", &index_value) ||
      !get_integer(env, argv[2], 0, 4294967295.0, "generation must be an integer from 0 to 2^32-1", &generation_value)) {
    return NULL;
  }
  *index = (uint32_t)index_value;
  *generation = (uint32_t)generation_value;
  return b;
}

}  // namespace

/*
 * Blocks until IO (index, generation) completed.  It only blocks while the
 * pool holds that IO: one that already completed (its completion is queued
 * or was delivered) or was never submitted returns at once, so a wrong
 * reference cannot hang the thread.
 */
napi_value tp_wait(napi_env env, napi_callback_info info) {
  uint32_t index, generation;
  tp_binding *b = get_io_args(env, info, "wait(context, index, generation)", &index, &generation);
  if (b == NULL) return NULL;
  uint32_t count;
  if (tp_pool_busy(&b->pool_ctx.requests[index], generation)) {
    b->counters.sync_waits++;
    count = aio_cq_wait(&b->pool_ctx.cq, (int32_t)index, generation);
  } else {
    count = aio_cq_drain(&b->pool_ctx.cq);
  }
  napi_value result;
  napi_create_uint32(env, count, &result);
  return result;
}

/* 0: removed from the queue, it completes with ECANCELED; 1: running or done, it completes normally. */
napi_value tp_cancel(napi_env env, napi_callback_info info) {
  uint32_t index, generation;
  tp_binding *b = get_io_args(env, info, "cancel(context, index, generation)", &index, &generation);
  if (b == NULL) return NULL;
  int removed = tp_pool_cancel(&b->pool_ctx.requests[index], generation);
  if (removed) b->counters.canceled++;
  else b->counters.cancel_too_late++;
  napi_value result;
  napi_create_uint32(env, removed ? 0 : 1, &result);
  return result;
}

/* ------------------------------------------------------------------ */
/* stats(), close(), poolInfo(), setPaused(), probe()                  */
/* ------------------------------------------------------------------ */

namespace {

void set_pool_info(napi_env env, napi_value object, bool prefixed) {
  tp_pool_info pool;
  tp_pool_get_info(&pool);
  set_number(env, object, prefixed ? "poolWorkers" : "workers", pool.workers_target);
  set_number(env, object, prefixed ? "poolThreads" : "threads", pool.workers_started);
  set_number(env, object, prefixed ? "poolQueueSize" : "queueSize", pool.queue_size);
  set_number(env, object, prefixed ? "poolQueued" : "queued", pool.queued);
  set_number(env, object, prefixed ? "poolQueuedPeak" : "queuedPeak", pool.queued_peak);
  set_number(env, object, prefixed ? "poolContexts" : "contexts", pool.contexts);
  set_number(env, object, prefixed ? "poolEnvironments" : "environments", pool.environments);
  set_number(env, object, prefixed ? "poolExecuted" : "executed", (double)pool.executed);
  set_number(env, object, prefixed ? "poolWakeups" : "wakeups", (double)pool.wakeups);
  set_number(env, object, prefixed ? "poolStarts" : "starts", (double)pool.started_count);
  set_number(env, object, prefixed ? "poolIoMicros" : "ioMicros", (double)pool.service_ns / 1000.0);
  set_number(env, object, prefixed ? "poolWakeMicros" : "wakeMicros", (double)pool.wake_ns / 1000.0);
}

}  // namespace

napi_value tp_stats(napi_env env, napi_callback_info info) {
  napi_value result;
  tp_binding *b = context_argument(env, info, "stats(context)", false);
  if (b == NULL) return NULL;
  napi_create_object(env, &result);
  set_number(env, result, "accepted", b->counters.accepted);
  set_number(env, result, "queued", b->counters.queued);
  set_number(env, result, "ranInSubmit", b->counters.ran_in_submit);
  set_number(env, result, "rejected", b->counters.rejected);
  set_number(env, result, "canceled", b->counters.canceled);
  set_number(env, result, "cancelTooLate", b->counters.cancel_too_late);
  set_number(env, result, "syncWaits", b->counters.sync_waits);
  set_pool_info(env, result, true);
  return result;
}

napi_value tp_close(napi_env env, napi_callback_info info) {
  tp_binding *b = context_argument(env, info, "close(context)", false);
  if (b == NULL) return NULL;
  release_context(b, false);
  return undefined_value(env);
}

napi_value tp_pool_info_js(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_object(env, &result);
  set_pool_info(env, result, false);
  return result;
}

napi_value tp_set_paused(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool paused = false;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_bool(env, argv[0], &paused) != napi_ok) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "setPaused(paused: boolean)");
    return NULL;
  }
  tp_pool_set_paused(paused ? 1 : 0);
  return undefined_value(env);
}

/* A live check: can this process start a thread?  Never throws. */
napi_value tp_probe(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, reason, available, code;
  int rc = tp_pool_probe();
  napi_create_object(env, &result);
  napi_get_boolean(env, rc == 0, &available);
  napi_set_named_property(env, result, "available", available);
  if (rc == 0) {
    napi_create_string_utf8(env, "native worker threads start", NAPI_AUTO_LENGTH, &reason);
  } else {
    napi_create_string_utf8(env, rc == EAGAIN ? "EAGAIN: cannot start a thread" : "cannot start a thread", NAPI_AUTO_LENGTH, &reason);
    napi_create_string_utf8(env, rc == EAGAIN ? "EAGAIN" : "ENOMEM", NAPI_AUTO_LENGTH, &code);
    napi_set_named_property(env, result, "code", code);
  }
  napi_set_named_property(env, result, "reason", reason);
  return result;
}

/* ------------------------------------------------------------------ */
/* executeSync()                                                       */
/* ------------------------------------------------------------------ */

/*
 * executeSync(op, file, offset, length, views): the synchronous path the
 * core takes for what must not go to the pool (references-local, the
 * synchronous flag, a description submit() rejected).  Runs the IO with the
 * same code the workers use, on the calling thread.
 */
napi_value tp_execute_sync(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  bool is_array = false;
  uint32_t nviews = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5 || napi_is_array(env, argv[4], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "executeSync(op, file, offset, length, views)");
    return NULL;
  }
  napi_get_array_length(env, argv[4], &nviews);
  double words[AIO_SUBMIT_STRIDE] = {0};
  for (int i = 0; i < 4; i++) {
    napi_valuetype type;
    if (napi_typeof(env, argv[i], &type) != napi_ok || type != napi_number) {
      napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "executeSync: op, file, offset and length must be numbers");
      return NULL;
    }
  }
  napi_get_value_double(env, argv[0], &words[0]);
  napi_get_value_double(env, argv[1], &words[4]);
  napi_get_value_double(env, argv[2], &words[5]);
  napi_get_value_double(env, argv[3], &words[6]);
  words[8] = nviews;
  aio_io io;
  int32_t raw = tp_invalid_result();
  if (decode_for_submit(env, words, argv[4], 1, 0, &io)) {
    raw = tp_execute(&io);
    aio_io_release(&io);
  }
  napi_create_int32(env, raw, &result);
  return result;
}

/* ------------------------------------------------------------------ */
/* The environment.                                                    */
/* ------------------------------------------------------------------ */

/*
 * Called once per environment that loads the addon.  The hook registered
 * here is older than every context's hook of this environment, so it runs
 * after all of them: by then the environment has no IO in the pool, and if
 * it was the last environment, the workers can be joined.
 */
napi_status tp_attach_env(napi_env env) {
  tp_env *record = (tp_env *)calloc(1, sizeof *record);
  if (record == NULL) return napi_generic_failure;
  napi_status status = napi_add_env_cleanup_hook(env, detach_env_hook, record);
  if (status != napi_ok) {
    free(record);
    return status;
  }
  record->attached = 1;
  tp_pool_attach_env();
  return napi_ok;
}
