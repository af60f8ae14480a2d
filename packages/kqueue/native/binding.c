/*
 * binding.c: the AioNativeBinding of the kqueue method over a request
 * provider.  See binding.h; the contract is AioNativeBinding in
 * packages/core/src/native-method.ts.
 *
 * One context per Aio context.  Its life:
 * - create: the provider (one kqueue), the request table, a uv_poll watch
 *   on the provider's descriptor, an async cleanup hook for environment
 *   teardown, and a JS object wrapping it all (type-tagged);
 * - the watch fires on the event loop when completions are ready: they are
 *   reaped in batches into the JS completion table and handed to JavaScript
 *   with one onComplete(count) call per drain;
 * - close (JavaScript, after every IO completed), the environment's cleanup
 *   hook (a worker or the process exits), or the wrapper's finalizer (an
 *   idle context that was never closed and got collected) shut it down:
 *   whichever comes first waits for IO still in flight, stops the watch,
 *   closes the kqueue and drops the references.  The finalizer frees the
 *   struct itself.
 *
 * What keeps what alive (every pinned resource):
 * - `self`, the reference to the context object, counts 1 exactly while IO
 *   is in flight and 0 (weak) otherwise.  The object holds `onComplete` (a
 *   hidden property), which closes over the NativeMethod, which holds the
 *   core's handles, which hold every buffer of every IO in flight: so while
 *   the kernel may write into a buffer, that buffer cannot be collected,
 *   even if the program dropped every reference to the Aio context.  When
 *   idle nothing native holds the object, so an unclosed idle context is
 *   collectible and its finalizer closes it.  `on_complete` itself is always
 *   a weak reference: the object is what keeps the callback.
 * - `words_ref` and `completions_ref` keep the two typed arrays alive until
 *   shutdown, because the struct keeps raw pointers into their memory.
 * - the uv_poll handle is referenced (keeps the loop alive) exactly while IO
 *   is in flight, so `await file.read()` at top level works and an idle
 *   context never holds the process open.
 *
 * This is the lifecycle of the C++ kit (tooling/native, aio/kit.hh) written
 * in C over node_api.h, because kqueue's FreeBSD compile check has a C
 * compiler and FreeBSD's headers but no C++ standard library: the same
 * JavaScript contract (messages, codes, stats after close, liveContexts()),
 * the same rules of what is strong when.
 */
#include "binding.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uv_watch.h"

/* Marks objects made by `create`, so that any other object is refused. */
static const napi_type_tag KQ_CONTEXT_TAG = {0x616f692d6b717565ULL, 0x75652d636f6e7478ULL};

/* The largest number of handles a context may have (AIO_MAX_CONCURRENCY in the core). */
#define KQ_MAX_HANDLES 1024

/*
 * Native contexts that exist (allocated and not yet freed), every
 * environment of the process together: the one piece of process-wide state,
 * changed atomically because workers create and free contexts at once.
 * liveContexts() reports it so a test can prove a dropped context was freed.
 */
static uint32_t live_contexts;

typedef struct kq_context {
  napi_env env;
  const aio_kq_provider_class *cls;
  aio_rq_table table;
  int table_ready;       /* table (and so the provider) initialised */
  uint32_t handles;      /* the context's handle count: the completion table holds this many triples */
  double *words;         /* submission table memory; kept alive by words_ref */
  int32_t *completions;  /* completion table memory; kept alive by completions_ref */
  napi_ref words_ref;
  napi_ref completions_ref;
  napi_ref self;         /* the context object: strong while IO is in flight, weak otherwise (see the top of the file) */
  napi_ref on_complete;  /* always weak: the context object holds the callback */
  napi_async_context async;
  aio_uv_watch *watch;
  napi_async_cleanup_hook_handle cleanup;
  int busy;              /* IO in flight: the watch and `self` are referenced */
  int shut;              /* shutdown ran: nothing but the struct (and its final counters) is left */
  aio_rq_stats final_stats;  /* the counters as shutdown left them, for stats() after close */
  uint32_t final_capacity;
  int leaked;            /* requests may still be in the kernel: the table is never freed */
} kq_context;

/* ------------------------------------------------------------------ */
/* Argument checks: bad input throws, it never reaches the provider.    */
/* ------------------------------------------------------------------ */

static void throw_range(napi_env env, const char *what, const char *expected) {
  char message[160];
  snprintf(message, sizeof message, "%s must be %s", what, expected);
  napi_throw_range_error(env, "AIO_ERR_OUT_OF_RANGE", message);
}

/* An integer in [min, max] from `value`; returns 0, or -1 after throwing. */
static int get_u32(napi_env env, napi_value value, uint32_t min, uint32_t max, const char *what, uint32_t *out) {
  napi_valuetype type;
  double number;
  char expected[96];
  snprintf(expected, sizeof expected, "an integer from %u to %u", min, max);
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number ||
      napi_get_value_double(env, value, &number) != napi_ok ||
      !(number >= min && number <= max) || number != (double)(uint32_t)number) {
    throw_range(env, what, expected);
    return -1;
  }
  *out = (uint32_t)number;
  return 0;
}

/* The named option as an integer in [min, max], or `fallback` when it is undefined. */
static int get_option(napi_env env, napi_value options, const char *name, uint32_t min, uint32_t max, uint32_t fallback, uint32_t *out) {
  napi_value value;
  napi_valuetype type;
  char what[64];
  snprintf(what, sizeof what, "options.%s", name);
  if (napi_get_named_property(env, options, name, &value) != napi_ok || napi_typeof(env, value, &type) != napi_ok) return -1;
  if (type == napi_undefined && fallback != 0) {
    *out = fallback;
    return 0;
  }
  return get_u32(env, value, min, max, what, out);
}

static void *get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

/* The context behind `value`, or NULL after throwing; `name` is the method's, for the message. */
static kq_context *context_of(napi_env env, napi_value value, const char *name, int allow_shut) {
  bool tagged = false;
  napi_valuetype type;
  void *data = NULL;
  char message[96];
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object ||
      napi_check_object_type_tag(env, value, &KQ_CONTEXT_TAG, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, value, &data) != napi_ok || data == NULL) {
    snprintf(message, sizeof message, "expected a %s context from create()", name);
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", message);
    return NULL;
  }
  kq_context *ctx = (kq_context *)data;
  if (ctx->shut && !allow_shut) {
    snprintf(message, sizeof message, "the %s context is closed", name);
    napi_throw_error(env, "AIO_ERR_CLOSED", message);
    return NULL;
  }
  return ctx;
}

/* The context argument of a binding function (argv[0]); the callback data is the provider class. */
static kq_context *context_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv, int allow_shut) {
  const aio_kq_provider_class *cls = (const aio_kq_provider_class *)get_args(env, info, want, argv);
  return context_of(env, argv[0], cls != NULL ? cls->name : "kqueue", allow_shut);
}

/* Reads `want` arguments (missing ones are undefined); returns the callback data. */
static void *get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) return NULL;
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return data;
}

/* ------------------------------------------------------------------ */
/* Liveness and delivery.                                               */
/* ------------------------------------------------------------------ */

/*
 * Holds the context object (so onComplete, the method and every buffer) and
 * the loop exactly while IO is in flight; call after anything that changes
 * the in-flight count.
 */
static void update_busy(kq_context *ctx) {
  int busy = ctx->table.inflight > 0;
  if (busy == ctx->busy || ctx->watch == NULL || ctx->self == NULL) return;
  uint32_t count;
  ctx->busy = busy;
  aio_uv_watch_keep_alive(ctx->watch, busy);
  if (busy) napi_reference_ref(ctx->env, ctx->self, &count);
  else napi_reference_unref(ctx->env, ctx->self, &count);
}

/* Calls onComplete(count) from the event loop, so that Promise jobs run after it as after any callback. */
static void call_on_complete(kq_context *ctx, napi_value fn, uint32_t count) {
  napi_env env = ctx->env;
  napi_value argv[1], global, result;
  napi_create_uint32(env, count, &argv[0]);
  napi_get_global(env, &global);
  if (napi_make_callback(env, ctx->async, global, fn, 1, argv, &result) == napi_pending_exception) {
    /* The core never throws from onComplete; if it did, it is an uncaught exception, not a crash. */
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
  }
}

/* The watch fired: reap everything that is ready and hand it over in one call. */
static void on_ready(void *arg) {
  kq_context *ctx = (kq_context *)arg;
  napi_env env = ctx->env;
  napi_handle_scope scope;
  if (ctx->shut || napi_open_handle_scope(env, &scope) != napi_ok) return;
  /*
   * Take the object and its callback before the reap: the reap may make
   * `self` weak, and these locals keep both alive for the call.  Either is
   * NULL only if the object was collected, which needs no IO in flight.
   */
  napi_value self = NULL, fn = NULL;
  napi_get_reference_value(env, ctx->self, &self);
  if (self != NULL) napi_get_reference_value(env, ctx->on_complete, &fn);
  uint32_t count = aio_rq_reap(&ctx->table, ctx->completions, ctx->handles, 0);
  update_busy(ctx);
  if (count > 0 && fn != NULL) call_on_complete(ctx, fn, count);
  napi_close_handle_scope(env, scope);
}

/* ------------------------------------------------------------------ */
/* Shutdown and teardown.                                               */
/* ------------------------------------------------------------------ */

/* The watch's close callback when shutdown ran from the environment's cleanup hook. */
static void finish_cleanup_hook(void *hook) {
  napi_remove_async_cleanup_hook((napi_async_cleanup_hook_handle)hook);
}

/*
 * Frees everything but the struct.  Waits first for IO still in flight (the
 * buffers are alive: see the top of the file), dropping the results, since
 * this only happens with IO in flight when the environment is going away.
 * `hook` is the cleanup hook being run, or NULL.
 */
static void context_shutdown(kq_context *ctx, napi_async_cleanup_hook_handle hook) {
  if (ctx->shut) return;
  ctx->shut = 1;
  if (ctx->table_ready && aio_rq_drain_all(&ctx->table) != 0) ctx->leaked = 1;
  ctx->final_stats = ctx->table.stats;
  ctx->final_capacity = ctx->table.capacity;
  if (ctx->watch != NULL) {
    /* Stops the poll at once, so the descriptor can be closed below. */
    aio_uv_watch_close(ctx->watch, hook != NULL ? finish_cleanup_hook : NULL, hook);
    ctx->watch = NULL;
  } else if (hook != NULL) {
    napi_remove_async_cleanup_hook(hook);
  }
  if (hook == NULL && ctx->cleanup != NULL) napi_remove_async_cleanup_hook(ctx->cleanup);
  ctx->cleanup = NULL;
  if (ctx->table_ready && !ctx->leaked) aio_rq_destroy(&ctx->table);
  ctx->table_ready = 0;
  if (ctx->self != NULL) napi_delete_reference(ctx->env, ctx->self);
  if (ctx->on_complete != NULL) napi_delete_reference(ctx->env, ctx->on_complete);
  if (ctx->words_ref != NULL) napi_delete_reference(ctx->env, ctx->words_ref);
  if (ctx->completions_ref != NULL) napi_delete_reference(ctx->env, ctx->completions_ref);
  if (ctx->async != NULL) napi_async_destroy(ctx->env, ctx->async);
  ctx->self = ctx->on_complete = ctx->words_ref = ctx->completions_ref = NULL;
  ctx->busy = 0;
  ctx->async = NULL;
}

/* The struct itself, after shutdown (or before anything was opened). */
static void context_free(kq_context *ctx) {
  free(ctx);
  __atomic_sub_fetch(&live_contexts, 1, __ATOMIC_RELAXED);
}

/* The environment is being torn down (worker exit, process exit). */
static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) {
  context_shutdown((kq_context *)arg, hook);
}

/* The wrapper object was collected, or the environment is finalising its objects. */
static void on_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  kq_context *ctx = (kq_context *)data;
  context_shutdown(ctx, NULL);
  context_free(ctx);
}

/* ------------------------------------------------------------------ */
/* create                                                               */
/* ------------------------------------------------------------------ */

typedef struct create_args {
  uint32_t handles;
  uint32_t capacity;
  double *words;
  int32_t *completions;
} create_args;

static int check_create_args(napi_env env, napi_value *argv, create_args *a) {
  napi_valuetype type;
  if (napi_typeof(env, argv[0], &type) != napi_ok || type != napi_object) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "options must be an object");
    return -1;
  }
  if (get_option(env, argv[0], "maxConcurrency", 1, KQ_MAX_HANDLES, 0, &a->handles) != 0) return -1;
  if (get_option(env, argv[0], "maxInFlight", 1, a->handles, a->handles, &a->capacity) != 0) return -1;
  a->words = (double *)aio_typed_array_data(env, argv[1], napi_float64_array, AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE,
                                            "words must be a Float64Array of AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE numbers");
  if (a->words == NULL) return -1;
  a->completions = (int32_t *)aio_typed_array_data(env, argv[2], napi_int32_array, (size_t)a->handles * 3,
                                                   "completions must be an Int32Array of 3 * maxConcurrency numbers");
  if (a->completions == NULL) return -1;
  if (napi_typeof(env, argv[3], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "onComplete must be a function");
    return -1;
  }
  return 0;
}

static void throw_errno(napi_env env, const char *what, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, "AIO_ERR_NATIVE", message);
}

/* The provider, its table and the watch; on failure nothing is left and an error is thrown. */
static int open_mechanism(napi_env env, kq_context *ctx, const create_args *a) {
  aio_rq_provider provider;
  int rc = ctx->cls->create(a->capacity, &provider);
  if (rc != 0) {
    throw_errno(env, ctx->cls->name, -rc);
    return -1;
  }
  rc = aio_rq_init(&ctx->table, a->capacity, a->handles, provider);
  if (rc != 0) {
    provider.ops->destroy(provider.self);
    throw_errno(env, "cannot allocate the request table", -rc);
    return -1;
  }
  ctx->table_ready = 1;
  rc = aio_uv_watch_start(env, provider.ops->pollable_fd(provider.self), on_ready, ctx, &ctx->watch);
  if (rc != 0) {
    aio_rq_destroy(&ctx->table);
    ctx->table_ready = 0;
    napi_throw_error(env, "AIO_ERR_NATIVE", "cannot watch the kqueue on the event loop (uv_poll_init failed)");
    return -1;
  }
  return 0;
}

/* The JS side of a context: a tagged object that owns the struct and holds the callback. */
static napi_status wrap_context(napi_env env, kq_context *ctx, napi_value *argv, napi_value *out, int *wrapped) {
  napi_status s;
  napi_value object, name;
  if ((s = napi_create_object(env, &object)) != napi_ok) return s;
  napi_property_descriptor hidden = {"onComplete", NULL, NULL, NULL, NULL, argv[3], napi_default, NULL};
  if ((s = napi_define_properties(env, object, 1, &hidden)) != napi_ok) return s;
  if ((s = napi_wrap(env, object, ctx, on_finalize, NULL, NULL)) != napi_ok) return s;
  *wrapped = 1;
  if ((s = napi_type_tag_object(env, object, &KQ_CONTEXT_TAG)) != napi_ok) return s;
  if ((s = napi_create_reference(env, argv[1], 1, &ctx->words_ref)) != napi_ok) return s;
  if ((s = napi_create_reference(env, argv[2], 1, &ctx->completions_ref)) != napi_ok) return s;
  if ((s = napi_create_reference(env, object, 0, &ctx->self)) != napi_ok) return s;
  if ((s = napi_create_reference(env, argv[3], 0, &ctx->on_complete)) != napi_ok) return s;
  if ((s = napi_create_string_utf8(env, "aio:kqueue", NAPI_AUTO_LENGTH, &name)) != napi_ok) return s;
  if ((s = napi_async_init(env, object, name, &ctx->async)) != napi_ok) return s;
  if ((s = napi_add_async_cleanup_hook(env, on_env_cleanup, ctx, &ctx->cleanup)) != napi_ok) return s;
  *out = object;
  return napi_ok;
}

/* create(options, words, completions, onComplete) -> context */
static napi_value binding_create(napi_env env, napi_callback_info info) {
  napi_value argv[4], object = NULL;
  const aio_kq_provider_class *cls = (const aio_kq_provider_class *)get_args(env, info, 4, argv);
  create_args a;
  if (cls == NULL || check_create_args(env, argv, &a) != 0) return NULL;
  kq_context *ctx = (kq_context *)calloc(1, sizeof *ctx);
  if (ctx == NULL) {
    napi_throw_error(env, "ENOMEM", "cannot allocate the kqueue context");
    return NULL;
  }
  __atomic_add_fetch(&live_contexts, 1, __ATOMIC_RELAXED);
  ctx->env = env;
  ctx->cls = cls;
  ctx->handles = a.handles;
  ctx->words = a.words;
  ctx->completions = a.completions;
  if (open_mechanism(env, ctx, &a) != 0) {
    context_free(ctx);
    return NULL;
  }
  int wrapped = 0;
  if (wrap_context(env, ctx, argv, &object, &wrapped) != napi_ok) {
    /* Once wrapped, the finalizer frees the struct when the object is collected; before that, this does. */
    context_shutdown(ctx, NULL);
    if (!wrapped) context_free(ctx);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "AIO_ERR_NATIVE", "cannot create the kqueue context object");
    return NULL;
  }
  return object;
}

/* ------------------------------------------------------------------ */
/* submit                                                               */
/* ------------------------------------------------------------------ */

/*
 * Checks every IO of the batch before accepting any: an exception after the
 * first acceptance would leave IOs in flight that the core never marked
 * submitted.  The core itself never sends what this refuses.
 */
static int check_batch(napi_env env, kq_context *ctx, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    const double *w = ctx->words + (size_t)i * AIO_SUBMIT_STRIDE;
    double index = w[1];
    if (!(w[0] >= AIO_OP_READ && w[0] <= AIO_OP_FDATASYNC) || w[0] != (double)(int)w[0]) {
      throw_range(env, "words[op]", "an op code from 1 to 6");
      return -1;
    }
    if (!(index >= 0 && index < ctx->handles) || index != (double)(uint32_t)index) {
      throw_range(env, "words[index]", "a handle index of this context");
      return -1;
    }
    if (!(w[4] >= 0 && w[4] <= INT32_MAX)) {
      throw_range(env, "words[file]", "a file descriptor");
      return -1;
    }
    int busy = ctx->table.slot_of_handle[(uint32_t)index] >= 0;
    for (uint32_t j = 0; j < i && !busy; j++) busy = ctx->words[(size_t)j * AIO_SUBMIT_STRIDE + 1] == index;
    if (busy) {
      throw_range(env, "words[index]", "a handle with no IO in flight");
      return -1;
    }
  }
  return 0;
}

/* Submits IO `i` of the batch; returns its disposition. */
static int submit_one(napi_env env, kq_context *ctx, napi_value views, uint32_t i) {
  uint32_t slot;
  aio_io *io = aio_rq_reserve(&ctx->table, &slot);
  if (io == NULL) {
    ctx->table.stats.fallback_full++;
    return AIO_DISPOSITION_QUEUE_FULL;
  }
  if (aio_decode_io(env, ctx->words, views, i, io) != 0) {
    /* A detached or resized buffer: the synchronous run reports it properly. */
    aio_rq_abandon(&ctx->table, slot);
    ctx->table.stats.submit_errors++;
    return AIO_DISPOSITION_UNSUPPORTED;
  }
  return aio_rq_start(&ctx->table, slot);
}

/* submit(context, count, views): writes a disposition into word 9 of each IO. */
static napi_value binding_submit(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint32_t count;
  bool is_array = false;
  kq_context *ctx = context_arg(env, info, 3, argv, 0);
  if (ctx == NULL || get_u32(env, argv[1], 0, AIO_SUBMIT_MAX, "count", &count) != 0) return NULL;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "views must be an array of ArrayBufferViews");
    return NULL;
  }
  if (check_batch(env, ctx, count) != 0) return NULL;
  for (uint32_t i = 0; i < count; i++) {
    ctx->words[(size_t)i * AIO_SUBMIT_STRIDE + 9] = submit_one(env, ctx, argv[2], i);
  }
  update_busy(ctx);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* poll, wait, cancel, stats, close                                     */
/* ------------------------------------------------------------------ */

static napi_value make_count(napi_env env, uint32_t count) {
  napi_value value;
  napi_create_uint32(env, count, &value);
  return value;
}

/* poll(context) -> count of completions now in the table */
static napi_value binding_poll(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  kq_context *ctx = context_arg(env, info, 1, argv, 0);
  if (ctx == NULL) return NULL;
  uint32_t count = aio_rq_reap(&ctx->table, ctx->completions, ctx->handles, 0);
  update_busy(ctx);
  return make_count(env, count);
}

/* Reads (context, index, generation); returns the context, or NULL after throwing. */
static kq_context *get_ref_args(napi_env env, napi_callback_info info, int32_t *index, uint32_t *generation) {
  napi_value argv[3];
  uint32_t i;
  kq_context *ctx = context_arg(env, info, 3, argv, 0);
  if (ctx == NULL || get_u32(env, argv[1], 0, ctx->handles - 1, "index", &i) != 0 ||
      get_u32(env, argv[2], 0, UINT32_MAX, "generation", generation) != 0) {
    return NULL;
  }
  *index = (int32_t)i;
  return ctx;
}

/* wait(context, index, generation) -> count of completions now in the table */
static napi_value binding_wait(napi_env env, napi_callback_info info) {
  int32_t index;
  uint32_t generation;
  kq_context *ctx = get_ref_args(env, info, &index, &generation);
  if (ctx == NULL) return NULL;
  uint32_t count = aio_rq_wait(&ctx->table, index, generation, ctx->completions, ctx->handles);
  update_busy(ctx);
  return make_count(env, count);
}

/* cancel(context, index, generation) -> 0 canceled, 1 not canceled, 2 unsupported */
static napi_value binding_cancel(napi_env env, napi_callback_info info) {
  int32_t index;
  uint32_t generation;
  kq_context *ctx = get_ref_args(env, info, &index, &generation);
  if (ctx == NULL) return NULL;
  return make_count(env, (uint32_t)aio_rq_cancel(&ctx->table, index, generation));
}

static void set_stat(napi_env env, napi_value object, const char *name, uint64_t value) {
  napi_value number;
  napi_create_double(env, (double)value, &number);
  napi_set_named_property(env, object, name, number);
}

/* stats(context) -> counters for aio.stats().methodStats; also after close, with the final counts. */
static napi_value binding_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], object;
  kq_context *ctx = context_arg(env, info, 1, argv, 1);
  if (ctx == NULL || napi_create_object(env, &object) != napi_ok) return NULL;
  const aio_rq_stats *s = ctx->shut ? &ctx->final_stats : &ctx->table.stats;
  set_stat(env, object, "inFlight", ctx->shut ? 0 : ctx->table.inflight);
  set_stat(env, object, "capacity", ctx->shut ? ctx->final_capacity : ctx->table.capacity);
  set_stat(env, object, "accepted", s->accepted);
  set_stat(env, object, "completed", s->completed);
  set_stat(env, object, "fallbackQueueFull", s->fallback_full);
  set_stat(env, object, "fallbackEagain", s->fallback_eagain);
  set_stat(env, object, "fallbackUnsupported", s->fallback_unsupported);
  set_stat(env, object, "submitErrors", s->submit_errors);
  set_stat(env, object, "reaps", s->reap_calls);
  set_stat(env, object, "reapErrors", s->reap_errors);
  set_stat(env, object, "maxReapBatch", s->max_batch);
  set_stat(env, object, "maxInFlight", s->max_inflight);
  set_stat(env, object, "cancelRequests", s->cancel_requests);
  return object;
}

/*
 * close(context): the core calls it once every IO completed.  IO still in
 * flight (a caller that did not wait) is waited for and its completions
 * dropped, as at teardown; a second close does nothing.
 */
static napi_value binding_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  kq_context *ctx = context_arg(env, info, 1, argv, 1);
  if (ctx != NULL) context_shutdown(ctx, NULL);
  return NULL;
}

/* liveContexts() -> native contexts not yet freed, every environment together */
static napi_value binding_live_contexts(napi_env env, napi_callback_info info) {
  (void)info;
  return make_count(env, __atomic_load_n(&live_contexts, __ATOMIC_RELAXED));
}

/* ------------------------------------------------------------------ */
/* Registration                                                         */
/* ------------------------------------------------------------------ */

napi_status aio_kq_binding_define(napi_env env, napi_value exports, const aio_kq_provider_class *cls) {
  napi_property_descriptor functions[] = {
      {"probe", NULL, cls->probe, NULL, NULL, NULL, napi_enumerable, (void *)cls},
      {"create", NULL, binding_create, NULL, NULL, NULL, napi_enumerable, (void *)cls},
      {"submit", NULL, binding_submit, NULL, NULL, NULL, napi_enumerable, (void *)cls},
      {"poll", NULL, binding_poll, NULL, NULL, NULL, napi_enumerable, (void *)cls},
      {"wait", NULL, binding_wait, NULL, NULL, NULL, napi_enumerable, (void *)cls},
      {"cancel", NULL, binding_cancel, NULL, NULL, NULL, napi_enumerable, (void *)cls},
      {"stats", NULL, binding_stats, NULL, NULL, NULL, napi_enumerable, (void *)cls},
      {"close", NULL, binding_close, NULL, NULL, NULL, napi_enumerable, (void *)cls},
      {"liveContexts", NULL, binding_live_contexts, NULL, NULL, NULL, napi_enumerable, (void *)cls},
  };
  return napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
}

void *aio_kq_binding_provider_self(napi_env env, napi_value context) {
  kq_context *ctx = context_of(env, context, "kqueue", 0);
  return ctx == NULL ? NULL : ctx->table.provider.self;
}
