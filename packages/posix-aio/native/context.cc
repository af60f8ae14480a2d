/*
 * context.cc: the life of a context and the functions JavaScript calls
 * (the AioNativeBinding contract of packages/core/src/native-method.ts).
 *
 * Ownership.  A context is held by its JS external (released by the
 * external's finalizer) and by its environment's list (released by close()
 * or by the environment's cleanup hook); the memory is freed when both let
 * go.  Shutdown (reaper stopped, doorbell and lanes closed, completion
 * queue released) happens exactly once, at close() or at environment
 * teardown, and always waits until no aiocb of the context is left in the
 * OS's hands: their buffers are the JS buffers the core keeps alive until
 * then, and at teardown the JS heap is still there while cleanup hooks run.
 *
 * Every function checks what JavaScript passed and throws a TypeError or
 * RangeError with a code; none trusts it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <new>

#include "posix_aio.h"

namespace aio_posix {

struct EnvData {
  Context *head = nullptr; /* contexts not shut down yet */
};

namespace {

const napi_type_tag kContextTag = {0x6b1f0c3e5a2d4e97ULL, 0x93c4e2a1d07b5f68ULL};

napi_value Undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

napi_value ThrowType(napi_env env, const char *message) {
  napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", message);
  return nullptr;
}

napi_value ThrowRange(napi_env env, const char *message) {
  napi_throw_range_error(env, "AIO_ERR_OUT_OF_RANGE", message);
  return nullptr;
}

/* Reads an integer argument in [min, max]; throws and returns false otherwise. */
bool ReadInt(napi_env env, napi_value value, double min, double max, const char *what, int64_t *out) {
  napi_valuetype type;
  double d;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number || napi_get_value_double(env, value, &d) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a number", what);
    ThrowType(env, message);
    return false;
  }
  if (!(d >= min && d <= max) || d != static_cast<double>(static_cast<int64_t>(d))) {
    char message[160];
    snprintf(message, sizeof message, "%s must be an integer from %.0f to %.0f", what, min, max);
    ThrowRange(env, message);
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

/* An optional integer property: absent or undefined keeps `*out`. */
bool ReadIntOption(napi_env env, napi_value options, const char *key, int64_t min, int64_t max, int64_t *out) {
  napi_value value;
  napi_valuetype type;
  if (napi_get_named_property(env, options, key, &value) != napi_ok || napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_undefined) return true;
  char what[64];
  snprintf(what, sizeof what, "options.%s", key);
  return ReadInt(env, value, static_cast<double>(min), static_cast<double>(max), what, out);
}

bool ReadDoorbellOption(napi_env env, napi_value options, DoorbellMode *mode) {
  napi_value value;
  napi_valuetype type;
  if (napi_get_named_property(env, options, "doorbell", &value) != napi_ok || napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_undefined) return true;
  char name[16] = {};
  size_t length = 0;
  if (type != napi_string || napi_get_value_string_utf8(env, value, name, sizeof name, &length) != napi_ok || !ParseDoorbellMode(name, mode)) {
    ThrowType(env, "options.doorbell must be 'cancel', 'pipe' or 'timeout'");
    return false;
  }
  return true;
}

/* The defaults follow what each platform's aio is (see README.md, "Platforms"). */
Options DefaultOptions() {
  Options opt;
#if defined(__GLIBC__)
  opt.lanes = 8;
  opt.doorbell = DoorbellMode::kCancel;
#elif defined(__APPLE__)
  opt.doorbell = DoorbellMode::kTimeout;
#else
  opt.doorbell = DoorbellMode::kPipe;
#endif
  return opt;
}

bool ParseOptions(napi_env env, napi_value options, Options *opt) {
  napi_valuetype type;
  if (napi_typeof(env, options, &type) != napi_ok || type != napi_object) {
    ThrowType(env, "options must be an object");
    return false;
  }
  *opt = DefaultOptions();
  int64_t max_concurrency = -1, table = -1, lanes = opt->lanes, vectored = opt->max_vectored, poll = opt->poll_ms;
  if (!ReadIntOption(env, options, "maxConcurrency", 1, 1024, &max_concurrency)) return false;
  if (max_concurrency < 0) {
    ThrowType(env, "options.maxConcurrency is required");
    return false;
  }
  if (!ReadIntOption(env, options, "tableSize", 1, kMaxTableSize, &table) || !ReadIntOption(env, options, "lanes", 1, kMaxLanes, &lanes) ||
      !ReadIntOption(env, options, "maxVectored", 1, kMaxVectoredLimit, &vectored) ||
      !ReadIntOption(env, options, "pollMs", 1, 1000, &poll) || !ReadDoorbellOption(env, options, &opt->doorbell)) {
    return false;
  }
  opt->max_concurrency = static_cast<uint32_t>(max_concurrency);
  /* Room for every handle's IO plus some split readv/writev pieces. */
  uint32_t table_size = table > 0 ? static_cast<uint32_t>(table) : opt->max_concurrency * 2;
  long os_max = sysconf(_SC_AIO_MAX);
  if (os_max > 0 && table_size > static_cast<uint64_t>(os_max)) table_size = static_cast<uint32_t>(os_max);
  opt->table_size = table_size < kMaxTableSize ? table_size : kMaxTableSize;
  opt->lanes = static_cast<int>(lanes);
  opt->max_vectored = static_cast<uint32_t>(vectored);
  opt->poll_ms = static_cast<int>(poll);
  return true;
}

/* The slot table and the lists, allocated once so the IO path never allocates. */
bool AllocateTables(Context *c) {
  c->nslots = c->opt.table_size;
  c->slots = static_cast<Slot *>(calloc(c->nslots, sizeof(Slot)));
  if (c->slots == nullptr) return false;
  try {
    c->free_slots.reserve(c->nslots);
    for (uint32_t i = c->nslots; i-- > 0;) c->free_slots.push_back(static_cast<int32_t>(i));
    c->inflight.reserve(c->nslots);
    c->submit_list.reserve(c->nslots);
    c->suspend_list.reserve(c->nslots + 1);
    c->head_of.assign(c->opt.max_concurrency, -1);
  } catch (const std::bad_alloc &) {
    return false;
  }
  for (uint32_t i = 0; i < c->nslots; i++) c->slots[i].state = SlotState::kFree;
  return true;
}

void Unlink(Context *c) {
  if (c->env_data == nullptr) return;
  for (Context **p = &c->env_data->head; *p != nullptr; p = &(*p)->next_in_env) {
    if (*p == c) {
      *p = c->next_in_env;
      break;
    }
  }
  c->env_data = nullptr;
}

/* Lets go of one owner's share; the last one frees the memory. */
void Unown(Context *c) {
  if (--c->owners > 0) return;
  aio_cond_destroy(&c->wake);
  aio_mutex_destroy(&c->lock);
  free(c->slots);
  delete c;
}

/*
 * Stops everything the context runs, once.  Returns after the reaper has
 * seen the last aiocb complete, so nothing of the OS refers to the context
 * or to a JS buffer any more.
 */
void Shutdown(Context *c, bool cancel_inflight) {
  if (c->shut_down) return;
  c->shut_down = true;
  StopReaper(c, cancel_inflight);
  c->doorbell.Close();
  c->lanes.CloseAll();
  if (c->cq_ready) aio_cq_destroy(&c->cq);
  c->cq_ready = false;
  if (c->words_ref != nullptr) napi_delete_reference(c->env, c->words_ref);
  if (c->table_ref != nullptr) napi_delete_reference(c->env, c->table_ref);
  c->words_ref = c->table_ref = nullptr;
}

void FinalizeContext(napi_env env, void *data, void *hint) {
  Context *c = static_cast<Context *>(data);
  /* Normally closed already: while it is open the completion queue's
     thread-safe function holds onComplete, which holds this external. */
  if (!c->shut_down) {
    Shutdown(c, true);
    Unlink(c);
    Unown(c);
  }
  Unown(c);
}

void CleanupEnv(void *arg) {
  EnvData *d = static_cast<EnvData *>(arg);
  while (d->head != nullptr) {
    Context *c = d->head;
    d->head = c->next_in_env;
    c->env_data = nullptr;
    Shutdown(c, true);
    Unown(c);
  }
  /* No JavaScript runs after cleanup hooks, so nothing reads the instance data again. */
  delete d;
}

/* The context behind a JS value, or nullptr after throwing. */
Context *Unwrap(napi_env env, napi_value value) {
  napi_valuetype type;
  bool tagged = false;
  void *data = nullptr;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, value, &kContextTag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, value, &data) != napi_ok) {
    ThrowType(env, "context must be a posix_aio context from create()");
    return nullptr;
  }
  Context *c = static_cast<Context *>(data);
  if (c->shut_down) {
    napi_throw_error(env, "AIO_ERR_CLOSED", "the posix_aio context is closed");
    return nullptr;
  }
  return c;
}

/* Reads `count` arguments; throws unless there are at least `count`. */
bool Args(napi_env env, napi_callback_info info, size_t count, napi_value *argv) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < count) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "missing arguments");
    return false;
  }
  return true;
}

/* (context, index, generation), checked. */
Context *IoArgs(napi_env env, napi_callback_info info, int32_t *index, uint32_t *generation) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  Context *c = Unwrap(env, argv[0]);
  int64_t i = 0, g = 0;
  if (c == nullptr || !ReadInt(env, argv[1], 0, c->opt.max_concurrency - 1, "index", &i) ||
      !ReadInt(env, argv[2], 0, 4294967295.0, "generation", &g)) {
    return nullptr;
  }
  *index = static_cast<int32_t>(i);
  *generation = static_cast<uint32_t>(g);
  return c;
}

napi_value Number(napi_env env, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  return v;
}

void Set(napi_env env, napi_value object, const char *key, double value) {
  napi_set_named_property(env, object, key, Number(env, value));
}

/* Everything Create needs besides options; undoes itself on failure. */
bool StartContext(napi_env env, Context *c, napi_value words, napi_value table, napi_value on_complete) {
  void *table_data = aio_typed_array_data(env, table, napi_int32_array, 3 * c->opt.max_concurrency,
                                          "completions must be an Int32Array of 3 * maxConcurrency elements");
  if (table_data == nullptr) return false;
  if (!AllocateTables(c)) {
    napi_throw_error(env, "ENOMEM", "cannot allocate the posix_aio tables");
    return false;
  }
  if (aio_cq_init(&c->cq, env, c->opt.max_concurrency, static_cast<int32_t *>(table_data), on_complete, "aio_posix_aio") != napi_ok) return false;
  c->cq_ready = true;
  napi_create_reference(env, words, 1, &c->words_ref);
  napi_create_reference(env, table, 1, &c->table_ref);
  c->doorbell.Open(c->opt.doorbell, c->opt.poll_ms, c->doorbell_note, sizeof c->doorbell_note);
  int err = StartReaper(c);
  if (err != 0) {
    char message[128];
    snprintf(message, sizeof message, "cannot start the posix_aio reaper thread: %s", strerror(err));
    napi_throw_error(env, "AIO_ERR_NATIVE", message);
    return false;
  }
  return true;
}

}  // namespace

napi_value Create(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!Args(env, info, 4, argv)) return nullptr;
  Options opt;
  if (!ParseOptions(env, argv[0], &opt)) return nullptr;
  void *words = aio_typed_array_data(env, argv[1], napi_float64_array, AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE,
                                     "words must be a Float64Array of AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE elements");
  napi_valuetype type;
  if (words == nullptr) return nullptr;
  if (napi_typeof(env, argv[3], &type) != napi_ok || type != napi_function) return ThrowType(env, "onComplete must be a function");
  EnvData *d = nullptr;
  if (napi_get_instance_data(env, reinterpret_cast<void **>(&d)) != napi_ok || d == nullptr) {
    napi_throw_error(env, "AIO_ERR_NATIVE", "the posix_aio addon is not initialised in this environment");
    return nullptr;
  }
  Context *c = new (std::nothrow) Context();
  if (c == nullptr) {
    napi_throw_error(env, "ENOMEM", "cannot allocate a posix_aio context");
    return nullptr;
  }
  c->env = env;
  c->opt = opt;
  c->words = static_cast<double *>(words);
  aio_mutex_init(&c->lock);
  aio_cond_init(&c->wake);
  napi_value external;
  if (!StartContext(env, c, argv[1], argv[2], argv[3]) ||
      napi_create_external(env, c, FinalizeContext, nullptr, &external) != napi_ok) {
    Shutdown(c, true);
    c->owners = 1;
    Unown(c);
    return nullptr;
  }
  napi_type_tag_object(env, external, &kContextTag);
  c->env_data = d;
  c->next_in_env = d->head;
  d->head = c;
  return external;
}

napi_value Submit(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  Context *c = Unwrap(env, argv[0]);
  int64_t count = 0;
  bool is_array = false;
  if (c == nullptr || !ReadInt(env, argv[1], 1, AIO_SUBMIT_MAX, "count", &count)) return nullptr;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array) return ThrowType(env, "views must be an array of ArrayBufferViews");
  SubmitBatch(c, env, static_cast<uint32_t>(count), argv[2]);
  return Undefined(env);
}

napi_value Poll(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  Context *c = Unwrap(env, argv[0]);
  if (c == nullptr) return nullptr;
  return Number(env, aio_cq_drain(&c->cq));
}

/* wait and cancel: (context, index, generation) → a number from `fn`. */
static napi_value OnIo(napi_env env, napi_callback_info info, double (*fn)(Context *, int32_t, uint32_t)) {
  int32_t index;
  uint32_t generation;
  Context *c = IoArgs(env, info, &index, &generation);
  return c == nullptr ? nullptr : Number(env, fn(c, index, generation));
}

napi_value Wait(napi_env env, napi_callback_info info) {
  return OnIo(env, info, [](Context *c, int32_t index, uint32_t generation) -> double { return WaitIo(c, index, generation); });
}

napi_value Cancel(napi_env env, napi_callback_info info) {
  return OnIo(env, info, [](Context *c, int32_t index, uint32_t generation) -> double { return CancelIo(c, index, generation); });
}

napi_value ForgetFile(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  Context *c = Unwrap(env, argv[0]);
  int64_t fd = 0;
  if (c == nullptr || !ReadInt(env, argv[1], -1, 2147483647.0, "fd", &fd)) return nullptr;
  aio_mutex_lock(&c->lock);
  c->lanes.Forget(static_cast<int>(fd));
  aio_mutex_unlock(&c->lock);
  return Undefined(env);
}

napi_value Stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (!Args(env, info, 1, argv)) return nullptr;
  Context *c = Unwrap(env, argv[0]);
  if (c == nullptr) return nullptr;
  aio_mutex_lock(&c->lock);
  Counters n = c->n;
  LaneStats lanes = c->lanes.stats();
  DoorbellStats bell = c->doorbell.stats();
  double inflight = static_cast<double>(c->inflight.size());
  double mode = static_cast<double>(static_cast<int32_t>(c->doorbell.mode()));
  aio_mutex_unlock(&c->lock);
  napi_create_object(env, &out);
  const struct {
    const char *key;
    double value;
  } rows[] = {
      {"iosAccepted", double(n.ios_accepted)},     {"iosCompleted", double(n.ios_completed)},
      {"aiocbsQueued", double(n.aiocbs_queued)},   {"aiocbsInFlight", inflight},
      {"tableSize", double(c->nslots)},            {"lioListioCalls", double(n.lio_calls)},
      {"singleCalls", double(n.single_calls)},     {"aioFsyncCalls", double(n.fsync_calls)},
      {"queueFull", double(n.queue_full)},         {"eagain", double(n.eagain)},
      {"unsupported", double(n.unsupported)},      {"vectoredSplit", double(n.vectored_split)},
      {"splitPiecesRunSync", double(n.members_sync)}, {"cancelRequests", double(n.cancel_requests)},
      {"canceled", double(n.canceled)},            {"reaperWakeups", double(n.suspends)},
      {"reaperIdleWaits", double(n.idle_waits)},   {"doorbellRings", double(bell.rings)},
      {"doorbellFallbacks", double(bell.rearm_failed)}, {"doorbellMode", mode},
      {"lanesMax", double(c->opt.lanes)},          {"lanesOpened", double(lanes.opened)},
      {"lanesOpen", double(lanes.open_now)},       {"laneDupFailed", double(lanes.dup_failed)},
  };
  for (const auto &row : rows) Set(env, out, row.key, row.value);
  return out;
}

napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  Context *c = Unwrap(env, argv[0]);
  if (c == nullptr) return nullptr;
  Shutdown(c, false);
  Unlink(c);
  Unown(c);
  return Undefined(env);
}

napi_value DoorbellInfo(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, mode, note;
  if (!Args(env, info, 1, argv)) return nullptr;
  Context *c = Unwrap(env, argv[0]);
  if (c == nullptr) return nullptr;
  aio_mutex_lock(&c->lock);
  napi_create_string_utf8(env, DoorbellModeName(c->doorbell.mode()), NAPI_AUTO_LENGTH, &mode);
  napi_create_string_utf8(env, c->doorbell_note, NAPI_AUTO_LENGTH, &note);
  aio_mutex_unlock(&c->lock);
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "mode", mode);
  napi_set_named_property(env, out, "note", note);
  return out;
}

napi_status InitEnv(napi_env env) {
  EnvData *d = new (std::nothrow) EnvData();
  if (d == nullptr) return napi_generic_failure;
  /* No finalizer: CleanupEnv frees it, after shutting the contexts down. */
  napi_status status = napi_set_instance_data(env, d, nullptr, nullptr);
  if (status == napi_ok) status = napi_add_env_cleanup_hook(env, CleanupEnv, d);
  if (status != napi_ok) delete d;
  return status;
}

}  // namespace aio_posix
