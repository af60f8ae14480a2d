/*
 * binding.cc: the Node-API surface of the iocp method: one native context
 * per AIO context, with its completion port, its reaper thread, its request
 * slots and its files.
 *
 * Lifetime of a context:
 * - create() allocates it and returns it wrapped in an external, whose
 *   finalizer frees the struct; a call with a closed context finds
 *   `open == 0` and throws instead of touching freed memory.
 * - Its resources are released exactly once: by close(), or, if the
 *   environment goes away first (a worker_thread terminated, the main
 *   thread ending), by the environment cleanup hook.  Both first wait until
 *   every accepted IO has completed (its buffers are still alive then: the
 *   hook is registered after the thread-safe function was created, so it
 *   runs before Node's own cleanup of it, while the JavaScript objects the
 *   core pins are alive), then stop the reaper, close the files still open
 *   and the port.
 */
#include "binding.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "iocp.h"
#include "probe.h"

namespace {

const uint32_t kMagic = 0x696f6370u; /* "iocp": identifies our externals */
const double kMaxSafeInteger = 9007199254740991.0;
const uint32_t kMaxViews = 1024; /* the core's limit on buffers per IO */
const uint32_t kMaxCapacity = 1024; /* AIO_MAX_CONCURRENCY */

/* ---- small Node-API helpers ------------------------------------------- */

bool is_integer_in(double value, double low, double high) { return value >= low && value <= high && value == floor(value); }

napi_value undefined_value(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

napi_value number_value(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}

void set_number(napi_env env, napi_value object, const char *name, double value) {
  napi_set_named_property(env, object, name, number_value(env, value));
}

/* An integer in [low, high]; throws and returns false otherwise. */
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

/* The arguments of a call, after checking there are at least `n`; false after throwing `usage`. */
bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *usage) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < n) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", usage);
    return false;
  }
  return true;
}

/* The open context behind an external, or NULL after throwing. */
iocp_context *unwrap(napi_env env, napi_value value) {
  napi_valuetype type;
  void *data = NULL;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external || napi_get_value_external(env, value, &data) != napi_ok ||
      data == NULL || ((iocp_context *)data)->magic != kMagic) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "expected an iocp context from create()");
    return NULL;
  }
  iocp_context *ctx = (iocp_context *)data;
  if (!ctx->open) {
    napi_throw_error(env, "AIO_ERR_CLOSED", "the iocp context is closed");
    return NULL;
  }
  return ctx;
}

HANDLE as_handle(double value) { return (HANDLE)(intptr_t)value; }

/* ---- context lifetime -------------------------------------------------- */

void teardown_hook(void *arg);

/* Frees what release_context and a failed create share. */
void free_slots(iocp_context *ctx) {
  if (ctx->requests != NULL) {
    for (uint32_t i = 0; i < ctx->capacity; i++) free(ctx->requests[i].heap_parts);
  }
  free(ctx->requests);
  ctx->requests = NULL;
}

/*
 * Releases a context's resources, once (see the file comment).  Completions
 * that arrive during a teardown are dropped with the queue: nobody is left
 * to receive them.
 */
void release_context(iocp_context *ctx, bool from_hook) {
  if (!ctx->open) return;
  ctx->open = 0;
  aio_cq_wait_all(&ctx->cq);
  PostQueuedCompletionStatus(ctx->port, 0, IOCP_KEY_STOP, NULL);
  aio_thread_join(ctx->reaper);
  iocp_files_close_all(&ctx->files);
  CloseHandle(ctx->port);
  if (ctx->sync_event != NULL) CloseHandle(ctx->sync_event);
  if (!from_hook) napi_remove_env_cleanup_hook(ctx->env, teardown_hook, ctx);
  aio_cq_destroy(&ctx->cq);
  napi_delete_reference(ctx->env, ctx->words_ref);
  napi_delete_reference(ctx->env, ctx->table_ref);
  free_slots(ctx);
  ctx->words = NULL;
}

void teardown_hook(void *arg) { release_context((iocp_context *)arg, true); }

/* The external's finalizer: the struct goes only when JavaScript can no longer name it. */
void finalize_context(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  iocp_context *ctx = (iocp_context *)data;
  release_context(ctx, false);
  ctx->magic = 0;
  free(ctx);
}

struct create_options {
  uint32_t capacity;
  bool skip_on_success;
};

bool read_create_options(napi_env env, napi_value options, create_options *out) {
  napi_valuetype type;
  napi_value value;
  double capacity;
  if (napi_typeof(env, options, &type) != napi_ok || type != napi_object) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "create(options, ...): options must be an object");
    return false;
  }
  napi_get_named_property(env, options, "maxConcurrency", &value);
  if (!get_integer(env, value, 1, kMaxCapacity, "options.maxConcurrency must be an integer from 1 to 1024", &capacity)) return false;
  out->capacity = (uint32_t)capacity;
  out->skip_on_success = true;
  napi_get_named_property(env, options, "skipCompletionPortOnSuccess", &value);
  if (napi_typeof(env, value, &type) == napi_ok && type != napi_undefined) {
    if (type != napi_boolean) {
      napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "options.skipCompletionPortOnSuccess must be a boolean");
      return false;
    }
    napi_get_value_bool(env, value, &out->skip_on_success);
  }
  return true;
}

/* Allocates a context with its slots, port and queue, and starts the reaper; NULL after throwing. */
iocp_context *new_context(napi_env env, const create_options *options, int32_t *table, napi_value on_complete) {
  iocp_context *ctx = (iocp_context *)calloc(1, sizeof *ctx);
  if (ctx != NULL) ctx->requests = (iocp_request *)calloc(options->capacity, sizeof(iocp_request));
  if (ctx == NULL || ctx->requests == NULL) {
    free(ctx);
    napi_throw_error(env, "ENOMEM", "cannot allocate the iocp context");
    return NULL;
  }
  ctx->env = env;
  ctx->capacity = options->capacity;
  ctx->skip_on_success = options->skip_on_success;
  for (uint32_t i = 0; i < ctx->capacity; i++) ctx->requests[i].ctx = ctx;
  /* One reaper thread dequeues, so the port lets one thread run at a time. */
  ctx->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (ctx->port == NULL) {
    free_slots(ctx);
    free(ctx);
    napi_throw_error(env, "AIO_ERR_NATIVE", "CreateIoCompletionPort failed");
    return NULL;
  }
  if (aio_cq_init(&ctx->cq, env, ctx->capacity, table, on_complete, "aio:iocp") != napi_ok) {
    CloseHandle(ctx->port);
    free_slots(ctx);
    free(ctx);
    return NULL;
  }
  if (aio_thread_create(&ctx->reaper, iocp_reaper_main, ctx) != 0) {
    aio_cq_destroy(&ctx->cq);
    CloseHandle(ctx->port);
    free_slots(ctx);
    free(ctx);
    napi_throw_error(env, "AIO_ERR_NATIVE", "cannot start the iocp reaper thread");
    return NULL;
  }
  return ctx;
}

/* ---- submit ------------------------------------------------------------ */

/*
 * Checks one IO description before it is decoded: every word an integer
 * in its range, and the number of buffers right for the op (a read or
 * write has one; a sync has none).  aio_decode_io then checks the buffers.
 */
bool valid_description(const double *w, uint32_t capacity, uint32_t nviews) {
  if (!is_integer_in(w[0], AIO_OP_READ, AIO_OP_FDATASYNC) || !is_integer_in(w[1], 0, capacity - 1) ||
      !is_integer_in(w[2], 0, 4294967295.0) || !is_integer_in(w[3], 0, 2147483647.0) || !is_integer_in(w[4], 0, kMaxSafeInteger) ||
      !is_integer_in(w[5], 0, kMaxSafeInteger) || !is_integer_in(w[6], 0, 2147483647.0) || !is_integer_in(w[7], 0, nviews) ||
      !is_integer_in(w[8], 0, nviews - w[7]) || w[8] > kMaxViews) {
    return false;
  }
  int op = (int)w[0];
  if (op == AIO_OP_READ || op == AIO_OP_WRITE) return w[8] == 1;
  if (op == AIO_OP_READV || op == AIO_OP_WRITEV) return w[8] >= 1;
  return w[8] == 0;
}

/* Submits IO `i` of the batch; returns its disposition. */
int submit_one(napi_env env, iocp_context *ctx, napi_value views, uint32_t nviews, uint32_t i) {
  const double *w = ctx->words + (size_t)i * AIO_SUBMIT_STRIDE;
  if (!valid_description(w, ctx->capacity, nviews)) return AIO_DISPOSITION_UNSUPPORTED;
  iocp_request *req = &ctx->requests[(uint32_t)w[1]];
  /* A slot still in flight would be a bug in the caller; the core then runs
   * the IO itself, and the IO in flight keeps its slot. */
  if (req->busy) return AIO_DISPOSITION_UNSUPPORTED;
  if (aio_decode_io(env, ctx->words, views, i, &req->io) != 0) return AIO_DISPOSITION_UNSUPPORTED;
  int disposition = iocp_start(ctx, req, iocp_files_find(&ctx->files, as_handle(w[4])));
  if (disposition != AIO_DISPOSITION_ACCEPTED) aio_io_release(&req->io);
  return disposition;
}

/* Reads (context, index, generation); NULL after throwing. */
iocp_context *get_io_args(napi_env env, napi_callback_info info, const char *usage, iocp_request **req, uint32_t *generation) {
  napi_value argv[3];
  double index, gen;
  if (!get_args(env, info, 3, argv, usage)) return NULL;
  iocp_context *ctx = unwrap(env, argv[0]);
  if (ctx == NULL || !get_integer(env, argv[1], 0, ctx->capacity - 1, "index must be a handle index of the context", &index) ||
      !get_integer(env, argv[2], 0, 4294967295.0, "generation must be a uint32", &gen)) {
    return NULL;
  }
  *req = &ctx->requests[(uint32_t)index];
  *generation = (uint32_t)gen;
  return ctx;
}

/* Whether the slot holds the IO (generation) in flight; read on the JS thread, where slots are reused. */
bool holds(const iocp_request *req, uint32_t generation) { return req->busy && req->io.generation == generation; }

}  // namespace

/* ---- the AioNativeBinding contract --------------------------------------- */

napi_value iocp_create_js(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  create_options options;
  if (!get_args(env, info, 4, argv, "create(options, words, completions, onComplete)") || !read_create_options(env, argv[0], &options)) {
    return NULL;
  }
  double *words = (double *)aio_typed_array_data(env, argv[1], napi_float64_array, AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE,
                                                 "words must be a Float64Array of at least 320 elements");
  if (words == NULL) return NULL;
  int32_t *table = (int32_t *)aio_typed_array_data(env, argv[2], napi_int32_array, (size_t)options.capacity * 3,
                                                   "completions must be an Int32Array of 3 x maxConcurrency elements");
  napi_valuetype type;
  if (table == NULL) return NULL;
  if (napi_typeof(env, argv[3], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "onComplete must be a function");
    return NULL;
  }
  iocp_context *ctx = new_context(env, &options, table, argv[3]);
  if (ctx == NULL) return NULL;
  ctx->magic = kMagic;
  ctx->words = words;
  napi_create_reference(env, argv[1], 1, &ctx->words_ref);
  napi_create_reference(env, argv[2], 1, &ctx->table_ref);
  ctx->open = 1;
  napi_add_env_cleanup_hook(env, teardown_hook, ctx);
  napi_value external;
  if (napi_create_external(env, ctx, finalize_context, NULL, &external) != napi_ok) {
    release_context(ctx, false);
    free(ctx);
    return NULL;
  }
  return external;
}

napi_value iocp_submit_js(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  double count;
  bool is_array = false;
  uint32_t nviews = 0, accepted = 0;
  if (!get_args(env, info, 3, argv, "submit(context, count, views)")) return NULL;
  iocp_context *ctx = unwrap(env, argv[0]);
  if (ctx == NULL || !get_integer(env, argv[1], 0, AIO_SUBMIT_MAX, "count must be an integer from 0 to 32", &count)) return NULL;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "views must be an array of ArrayBufferViews");
    return NULL;
  }
  napi_get_array_length(env, argv[2], &nviews);
  for (uint32_t i = 0; i < (uint32_t)count; i++) {
    int disposition = submit_one(env, ctx, argv[2], nviews, i);
    ctx->words[(size_t)i * AIO_SUBMIT_STRIDE + 9] = disposition;
    if (disposition == AIO_DISPOSITION_ACCEPTED) accepted++;
  }
  /* Some may have completed (and been pushed) already; none can have been
   * drained, because draining happens on this thread. */
  aio_cq_accepted(&ctx->cq, accepted);
  return undefined_value(env);
}

napi_value iocp_poll_js(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  if (!get_args(env, info, 1, argv, "poll(context)")) return NULL;
  iocp_context *ctx = unwrap(env, argv[0]);
  if (ctx == NULL) return NULL;
  napi_create_uint32(env, aio_cq_drain(&ctx->cq), &result);
  return result;
}

napi_value iocp_wait_js(napi_env env, napi_callback_info info) {
  iocp_request *req;
  uint32_t generation;
  napi_value result;
  iocp_context *ctx = get_io_args(env, info, "wait(context, index, generation)", &req, &generation);
  if (ctx == NULL) return NULL;
  /* Block only for an IO in flight: anything else could never arrive.  An
   * IO between its last part and its push briefly looks finished; the core
   * then calls again, and the push comes within microseconds. */
  uint32_t count = holds(req, generation) ? aio_cq_wait(&ctx->cq, req->io.index, generation) : aio_cq_drain(&ctx->cq);
  napi_create_uint32(env, count, &result);
  return result;
}

napi_value iocp_cancel_js(napi_env env, napi_callback_info info) {
  iocp_request *req;
  uint32_t generation;
  iocp_context *ctx = get_io_args(env, info, "cancel(context, index, generation)", &req, &generation);
  if (ctx == NULL) return NULL;
  /* 0 canceled, 1 not canceled (too late, or a flush, which cannot be). */
  return number_value(env, holds(req, generation) ? iocp_cancel(ctx, req) : 1);
}

napi_value iocp_stats_js(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  if (!get_args(env, info, 1, argv, "stats(context)")) return NULL;
  iocp_context *ctx = unwrap(env, argv[0]);
  if (ctx == NULL) return NULL;
  const iocp_counters *c = &ctx->counters;
  napi_create_object(env, &result);
  set_number(env, result, "submitted", (double)c->submitted);
  set_number(env, result, "transfers", (double)c->parts);
  set_number(env, result, "finishedInline", (double)c->finished_inline);
  set_number(env, result, "finishedByPort", (double)c->finished_by_port);
  set_number(env, result, "reaps", (double)c->reaps);
  set_number(env, result, "largestReap", (double)c->largest_reap);
  set_number(env, result, "flushes", (double)c->flushes);
  set_number(env, result, "executedSync", (double)c->executed_sync);
  set_number(env, result, "resourceShortages", (double)c->eagain);
  set_number(env, result, "cancelRequests", (double)c->cancel_requests);
  set_number(env, result, "cancelsAccepted", (double)c->cancels_accepted);
  set_number(env, result, "openFiles", ctx->files.count);
  set_number(env, result, "skipCompletionPortOnSuccess", ctx->skip_on_success);
  return result;
}

napi_value iocp_close_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "close(context)")) return NULL;
  iocp_context *ctx = unwrap(env, argv[0]);
  if (ctx == NULL) return NULL;
  release_context(ctx, false);
  return undefined_value(env);
}

/* ---- files and synchronous execution -------------------------------------- */

napi_value iocp_open_file_js(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  napi_valuetype types[2];
  if (!get_args(env, info, 3, argv, "openFile(context, path, flags)")) return NULL;
  iocp_context *ctx = unwrap(env, argv[0]);
  if (ctx == NULL) return NULL;
  napi_typeof(env, argv[1], &types[0]);
  napi_typeof(env, argv[2], &types[1]);
  if (types[0] != napi_string || types[1] != napi_object) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "openFile(context, path: string, flags: object)");
    return NULL;
  }
  size_t length = 0;
  napi_get_value_string_utf16(env, argv[1], NULL, 0, &length);
  /* Node-API hands out UTF-16, which is what wchar_t is on Windows. */
  wchar_t *path = (wchar_t *)malloc(sizeof(wchar_t) * (length + 1));
  if (path == NULL) return number_value(env, IOCP_UV_ENOMEM);
  napi_get_value_string_utf16(env, argv[1], (char16_t *)path, length + 1, &length);
  int32_t error = IOCP_UV_EINVAL; /* a path with a NUL in it names no file */
  HANDLE file = wcslen(path) == length ? iocp_open(ctx, path, env, argv[2], &error) : NULL;
  free(path);
  return number_value(env, file != NULL ? (double)(intptr_t)file : error);
}

napi_value iocp_close_file_js(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  double handle;
  if (!get_args(env, info, 2, argv, "closeFile(context, handle)")) return NULL;
  iocp_context *ctx = unwrap(env, argv[0]);
  if (ctx == NULL || !get_integer(env, argv[1], 0, kMaxSafeInteger, "handle must be a number from openFile()", &handle)) return NULL;
  return number_value(env, iocp_close_file(ctx, as_handle(handle)));
}

napi_value iocp_execute_sync_js(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  double w[AIO_SUBMIT_STRIDE];
  bool is_array = false;
  uint32_t nviews = 0;
  if (!get_args(env, info, 6, argv, "executeSync(context, op, handle, offset, length, views)")) return NULL;
  iocp_context *ctx = unwrap(env, argv[0]);
  if (ctx == NULL) return NULL;
  if (napi_is_array(env, argv[5], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "views must be an array of ArrayBufferViews");
    return NULL;
  }
  napi_get_array_length(env, argv[5], &nviews);
  /* The same layout as a submission, so the kit decodes it the same way. */
  const double nan = NAN;
  w[0] = w[4] = w[5] = w[6] = nan;
  napi_get_value_double(env, argv[1], &w[0]);
  napi_get_value_double(env, argv[2], &w[4]);
  napi_get_value_double(env, argv[3], &w[5]);
  napi_get_value_double(env, argv[4], &w[6]);
  w[1] = w[2] = w[3] = w[7] = 0;
  w[8] = nviews;
  w[9] = -1;
  aio_io io;
  /* A bad description (a detached buffer, say) is an EINVAL result, as a
   * submission of it would be. */
  if (!valid_description(w, 1, nviews) || aio_decode_io(env, w, argv[5], 0, &io) != 0) return number_value(env, IOCP_UV_EINVAL);
  int32_t result = iocp_files_find(&ctx->files, as_handle(w[4])) != NULL ? iocp_execute_sync(ctx, &io) : IOCP_UV_EBADF;
  aio_io_release(&io);
  return number_value(env, result);
}

/* ---- probe and test hooks ------------------------------------------------- */

napi_value iocp_probe_js(napi_env env, napi_callback_info info) {
  (void)info;
  iocp_probe_result probe;
  iocp_probe(&probe);
  napi_value result, details, value;
  napi_create_object(env, &result);
  napi_get_boolean(env, probe.available, &value);
  napi_set_named_property(env, result, "available", value);
  napi_create_string_utf8(env, probe.reason, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, result, "reason", value);
  if (!probe.available) {
    napi_create_string_utf8(env, probe.code, NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, result, "code", value);
  }
  napi_create_object(env, &details);
  napi_get_boolean(env, probe.skip_on_success, &value);
  napi_set_named_property(env, details, "skipCompletionPortOnSuccess", value);
  napi_create_string_utf8(env, probe.wine, NAPI_AUTO_LENGTH, &value);
  if (probe.wine[0] != '\0') napi_set_named_property(env, details, "wine", value);
  napi_set_named_property(env, result, "details", details);
  return result;
}

napi_value iocp_errno_table_js(napi_env env, napi_callback_info info) {
  (void)info;
  size_t count;
  const iocp_errno_entry *table = iocp_errno_table(&count);
  napi_value result;
  napi_create_object(env, &result);
  for (size_t i = 0; i < count; i++) set_number(env, result, table[i].name, table[i].value);
  return result;
}

napi_value iocp_map_error_js(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  double code;
  char call[16] = "";
  size_t length = 0;
  if (!get_args(env, info, 2, argv, "mapWin32Error(code, call)") || !get_integer(env, argv[0], 0, 4294967295.0, "code must be a Win32 error code", &code)) {
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[1], call, sizeof call, &length);
  iocp_call which = strcmp(call, "open") == 0 ? IOCP_CALL_OPEN : strcmp(call, "flush") == 0 ? IOCP_CALL_FLUSH : IOCP_CALL_TRANSFER;
  return number_value(env, iocp_errno((DWORD)code, which));
}
