/*
 * kit.cc: the shared context lifecycle and the JavaScript surface of every
 * C++ backend.  See aio/kit.hh for the contract and README.md for the
 * design.  node-addon-api is used with exceptions off: every call that can
 * fail is checked, and a failure returns an empty value with a pending
 * JavaScript exception.
 */
#include "aio/kit.hh"

#include "aio/win_errno.h"
#include "context_access.hh"

#include <errno.h>
#include <math.h>

#include <atomic>
#include <string>

namespace aio {

/* ------------------------------------------------------------------ */
/* Errors and arguments.                                               */
/* ------------------------------------------------------------------ */

namespace {

void ThrowWithCode(Napi::Error error, const char *code) {
  error.Set("code", Napi::String::New(error.Env(), code));
  error.ThrowAsJavaScriptException();
}

bool IsIntegerIn(double value, double low, double high) { return value >= low && value <= high && value == floor(value); }

}  // namespace

void ThrowTypeError(Napi::Env env, const char *message) { ThrowWithCode(Napi::TypeError::New(env, message), "AIO_ERR_INVALID_TYPE"); }

void ThrowRangeError(Napi::Env env, const char *message) { ThrowWithCode(Napi::RangeError::New(env, message), "AIO_ERR_OUT_OF_RANGE"); }

void ThrowError(Napi::Env env, const char *code, const char *message) { ThrowWithCode(Napi::Error::New(env, message), code); }

bool ReadInteger(Napi::Value value, double low, double high, const char *what, double *out) {
  if (!value.IsNumber()) {
    ThrowTypeError(value.Env(), what);
    return false;
  }
  *out = value.As<Napi::Number>().DoubleValue();
  if (!IsIntegerIn(*out, low, high)) {
    ThrowRangeError(value.Env(), what);
    return false;
  }
  return true;
}

bool ReadOption(Napi::Object options, const char *name, double low, double high, const char *what, double *out) {
  Napi::MaybeOrValue<Napi::Value> value = options.Get(name);
  if (options.Env().IsExceptionPending()) return false; /* a throwing getter */
  if (value.IsUndefined()) return true;
  return ReadInteger(value, low, high, what, out);
}

bool ReadFlag(Napi::Object options, const char *name) {
  Napi::Value value = options.Get(name);
  return !options.Env().IsExceptionPending() && value.IsBoolean() && value.As<Napi::Boolean>().Value();
}

void SetCounters(Napi::Object object, std::initializer_list<Counter> counters) {
  Napi::Env env = object.Env();
  for (const Counter &counter : counters) object.Set(counter.name, Napi::Number::New(env, counter.value));
}

/* ------------------------------------------------------------------ */
/* The context.                                                        */
/* ------------------------------------------------------------------ */

namespace {

/* Every environment's contexts: the addon's code and data are shared by all. */
std::atomic<uint32_t> live_contexts{0};

/*
 * The context this thread unwrapped last (an environment runs on one
 * thread).  Checking a context object's type tag and unwrapping it are two
 * private-property lookups in V8, about 0.3 us per call together; most
 * calls pass the same context as the call before, and an identity check
 * against that context's own object costs two cheap Node-API calls.  Only
 * open contexts are cached, and Close and the destructor clear the entry.
 */
thread_local Context *last_unwrapped = nullptr;

}  // namespace

Context::Context() { live_contexts++; }

Context::~Context() {
  if (last_unwrapped == this) last_unwrapped = nullptr;
  live_contexts--;
}

uint32_t LiveContexts() { return live_contexts.load(); }

uint32_t Context::inflight() const { return threads_ != nullptr ? threads_->queue_.inflight : inflight_; }

void Context::Busy(bool busy) {
  if (busy == busy_) return;
  busy_ = busy;
  if (loop_ != nullptr) loop_->KeepLoopAlive(busy);
  if (self_.IsEmpty()) return;
  if (busy) self_.Ref();
  else self_.Unref();
}

void Context::Deliver(uint32_t count) {
  if (count == 0 || !open_) return;
  /* Taken before anything can allocate: once idle the context object is
   * held weakly, and this local keeps it (and onComplete) alive for the call. */
  Napi::Object self = self_.Value();
  Napi::Function on_complete = on_complete_.Value();
  if (self.IsEmpty() || on_complete.IsEmpty()) return; /* collected: nobody is left to tell */
  /* Plain Node-API: a call that fails because the environment is stopping
   * must not be turned into a second exception. */
  napi_value argv[1], ignored;
  if (napi_create_uint32(env_, count, &argv[0]) != napi_ok) return;
  napi_call_function(env_, env_.Global(), on_complete, 1, argv, &ignored);
}

void Context::Accepted(uint32_t n) {
  if (n == 0) return;
  if (threads_ != nullptr) {
    aio_cq_accepted(&threads_->queue_, n); /* tells Busy(true) through the queue's owner hook */
    return;
  }
  inflight_ += n;
  Busy(true);
}

void Context::Completed(uint32_t n) {
  inflight_ -= n < inflight_ ? n : inflight_;
  if (inflight_ == 0) Busy(false);
}

void Context::Close(bool teardown) {
  if (!open_) return;
  open_ = false;
  if (last_unwrapped == this) last_unwrapped = nullptr;
  Quiesce(teardown);
  if (threads_ != nullptr) threads_->Destroy(); /* a no-op if the backend destroyed it */
  if (!cleanup_.IsEmpty()) cleanup_.Remove(env_);
  busy_ = false;
  loop_ = nullptr;
  self_.Reset();
  on_complete_.Reset();
  words_ref_.Reset();
  table_ref_.Reset();
  words_ = nullptr;
  table_ = nullptr;
}

/* ------------------------------------------------------------------ */
/* Completions from other threads.                                     */
/* ------------------------------------------------------------------ */

namespace {

void QueueDeliver(void *data, uint32_t count) { static_cast<Context *>(data)->Deliver(count); }

void QueueBusy(void *data, int busy) { static_cast<Context *>(data)->Busy(busy != 0); }

}  // namespace

bool ThreadCompletions::Init(Context *context, const char *resource_name) {
  aio_cq_owner owner = {context, QueueDeliver, QueueBusy};
  /* create() bound the table, capacity and env before calling Start, where this runs. */
  if (aio_cq_init_owned(&queue_, context->env(), context->capacity(), context->table(), &owner, resource_name) != napi_ok) return false;
  ContextAccess::Threads(context) = this;
  return true;
}

uint32_t ThreadContext::Wait(uint32_t index, uint32_t generation) {
  if (!Holds(index, generation)) return completions.Drain();
  blocked_waits_++;
  return completions.WaitFor(index, generation);
}

/* ------------------------------------------------------------------ */
/* The JavaScript functions.                                           */
/* ------------------------------------------------------------------ */

namespace {

const MethodOps *OpsOf(const Napi::CallbackInfo &info) { return static_cast<const MethodOps *>(info.Data()); }

/* The context behind `value`, or nullptr after throwing. */
Context *Unwrap(Napi::Value value, const MethodOps *ops, bool must_be_open) {
  Context *last = last_unwrapped;
  if (last != nullptr && ContextAccess::Ops(last) == ops && ContextAccess::IsSelf(last, value)) return last;
  Napi::Env env = value.Env();
  void *data = nullptr;
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&ops->tag) || napi_unwrap(env, value, &data) != napi_ok ||
      data == nullptr) {
    if (env.IsExceptionPending()) return nullptr;
    std::string message = std::string("expected a ") + ops->name + " context from create()";
    ThrowTypeError(env, message.c_str());
    return nullptr;
  }
  Context *ctx = static_cast<Context *>(data);
  if (ctx->open()) last_unwrapped = ctx;
  if (must_be_open && !ctx->open()) {
    std::string message = std::string("the ") + ops->name + " context is closed";
    ThrowError(env, "AIO_ERR_CLOSED", message.c_str());
    return nullptr;
  }
  return ctx;
}

/* The context argument of a call taking `argc` arguments; nullptr after throwing `usage` or a bad context. */
Context *ContextArgument(const Napi::CallbackInfo &info, size_t argc, const char *usage, bool must_be_open) {
  if (info.Length() < argc) {
    ThrowTypeError(info.Env(), usage);
    return nullptr;
  }
  return Unwrap(info[0], OpsOf(info), must_be_open);
}

/* The wrap's finalizer: the context object was collected (idle) or the environment is gone. */
void FinalizeContext(napi_env env, void *data, void *hint) {
  Context *ctx = static_cast<Context *>(data);
  ctx->Close(false);
  delete ctx;
}

/* Typed-array data as the kit's C decoder checks it; nullptr after throwing. */
template <typename T>
T *TableData(Napi::Value value, napi_typedarray_type type, size_t min_length, const char *what) {
  return static_cast<T *>(aio_typed_array_data(value.Env(), value, type, min_length, what));
}

/* Reads create's arguments into `args`; false after throwing. */
bool ReadCreateArgs(const Napi::CallbackInfo &info, ContextArgs *args) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) {
    ThrowTypeError(env, "create(options, words, completions, onComplete)");
    return false;
  }
  if (!info[0].IsObject()) {
    ThrowTypeError(env, "create(options, ...): options must be an object");
    return false;
  }
  args->options = info[0].As<Napi::Object>();
  double capacity = -1;
  if (!ReadOption(args->options, "maxConcurrency", 1, 1024, "options.maxConcurrency must be an integer from 1 to 1024", &capacity)) return false;
  if (capacity < 0) {
    ThrowTypeError(env, "options.maxConcurrency is required");
    return false;
  }
  args->capacity = (uint32_t)capacity;
  args->words = TableData<double>(info[1], napi_float64_array, AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE,
                                  "words must be a Float64Array of at least 320 elements");
  if (args->words == nullptr) return false;
  args->table = TableData<int32_t>(info[2], napi_int32_array, (size_t)args->capacity * 3,
                                   "completions must be an Int32Array of 3 x maxConcurrency elements");
  if (args->table == nullptr) return false;
  if (!info[3].IsFunction()) {
    ThrowTypeError(env, "onComplete must be a function");
    return false;
  }
  return true;
}

/* The context object: tagged, wrapping `ctx`, holding onComplete; empty after throwing. */
Napi::Object NewContextObject(Napi::Env env, Context *ctx, const MethodOps *ops, Napi::Function on_complete) {
  Napi::Object self = Napi::Object::New(env);
  self.TypeTag(&ops->tag);
  if (env.IsExceptionPending()) return Napi::Object();
  /* Not enumerable, not writable: the edge that keeps onComplete alive as long as the context object. */
  napi_property_descriptor hold = {"onComplete", nullptr, nullptr, nullptr, nullptr, on_complete, napi_default, nullptr};
  if (napi_define_properties(env, self, 1, &hold) != napi_ok || napi_wrap(env, self, ctx, FinalizeContext, nullptr, nullptr) != napi_ok) {
    if (!env.IsExceptionPending()) ThrowError(env, "AIO_ERR_NATIVE", "cannot wrap the native context");
    return Napi::Object();
  }
  return self;
}

Napi::Value Create(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const MethodOps *ops = OpsOf(info);
  ContextArgs args;
  if (!ReadCreateArgs(info, &args)) return Napi::Value();
  Napi::Function on_complete = info[3].As<Napi::Function>();
  Context *ctx = ops->create(env, args);
  if (ctx == nullptr) return Napi::Value();
  ContextAccess::Bind(ctx, env, args, info[1].As<Napi::Float64Array>(), info[2].As<Napi::Int32Array>(), on_complete);
  ContextAccess::Ops(ctx) = ops;
  if (!ctx->Start(args)) {
    delete ctx;
    return Napi::Value();
  }
  Napi::Object self = NewContextObject(env, ctx, ops, on_complete);
  if (self.IsEmpty()) {
    ContextAccess::Discard(ctx);
    return Napi::Value();
  }
  /* The cleanup hook is added after Start, so it runs before Node's own
   * cleanup of what Start created (hooks run newest first), while the
   * buffers of IO in flight are still alive. */
  ContextAccess::Open(ctx, self);
  return self;
}

/* Reads a batch: decodes each IO, marks the ones that cannot go to the mechanism. */
void DecodeBatch(Context *ctx, napi_value views, SubmitBatch *batch) {
  Napi::Env env = ctx->env();
  /* Never more IOs in flight than handles: the completion table holds `capacity`. */
  uint32_t room = ctx->capacity() - ctx->inflight();
  batch->invalid = 0;
  for (uint32_t i = 0; i < batch->count; i++) {
    aio_io *io = &batch->ios[i];
    int status = room > 0 ? aio_decode_io(env, ctx->Words(0), views, i, io) : -EINVAL;
    if (status == 0 && (uint32_t)io->index >= ctx->capacity()) {
      aio_io_release(io);
      status = -EINVAL;
    }
    batch->valid[i] = status == 0;
    if (status == 0) {
      room--;
      continue;
    }
    /* Out of memory for the buffer list says nothing about the IO: the core
     * runs it synchronously as for an OS EAGAIN. */
    ctx->SetDisposition(i, status == -ENOMEM ? AIO_DISPOSITION_EAGAIN : AIO_DISPOSITION_UNSUPPORTED);
    batch->invalid++;
  }
}

Napi::Value Submit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Context *ctx = ContextArgument(info, 3, "submit(context, count, views)", true);
  double count;
  if (ctx == nullptr || !ReadInteger(info[1], 0, AIO_SUBMIT_MAX, "count must be an integer from 0 to 32", &count)) return Napi::Value();
  if (!info[2].IsArray()) {
    ThrowTypeError(env, "views must be an array of ArrayBufferViews");
    return Napi::Value();
  }
  SubmitBatch batch;
  batch.count = (uint32_t)count;
  DecodeBatch(ctx, info[2], &batch);
  /* Counted before any completion can be delivered (deliveries run on this thread). */
  ctx->Accepted(ctx->Submit(batch));
  return Napi::Value();
}

Napi::Value Poll(const Napi::CallbackInfo &info) {
  Context *ctx = ContextArgument(info, 1, "poll(context)", true);
  if (ctx == nullptr) return Napi::Value();
  return Napi::Number::New(info.Env(), ctx->Poll());
}

/* Reads (context, index, generation); nullptr after throwing. */
Context *IoArguments(const Napi::CallbackInfo &info, const char *usage, uint32_t *index, uint32_t *generation) {
  Context *ctx = ContextArgument(info, 3, usage, true);
  double index_value, generation_value;
  if (ctx == nullptr ||
      !ReadInteger(info[1], 0, (double)ctx->capacity() - 1, "index must be a handle index of this context", &index_value) ||
      !ReadInteger(info[2], 0, 4294967295.0, "generation must be an integer from 0 to 2^32-1", &generation_value)) {
    return nullptr;
  }
  *index = (uint32_t)index_value;
  *generation = (uint32_t)generation_value;
  return ctx;
}

Napi::Value Wait(const Napi::CallbackInfo &info) {
  uint32_t index, generation;
  Context *ctx = IoArguments(info, "wait(context, index, generation)", &index, &generation);
  if (ctx == nullptr) return Napi::Value();
  return Napi::Number::New(info.Env(), ctx->Wait(index, generation));
}

Napi::Value Cancel(const Napi::CallbackInfo &info) {
  uint32_t index, generation;
  Context *ctx = IoArguments(info, "cancel(context, index, generation)", &index, &generation);
  if (ctx == nullptr) return Napi::Value();
  return Napi::Number::New(info.Env(), ctx->Cancel(index, generation));
}

Napi::Value Stats(const Napi::CallbackInfo &info) {
  Context *ctx = ContextArgument(info, 1, "stats(context)", false);
  if (ctx == nullptr) return Napi::Value();
  Napi::Object stats = Napi::Object::New(info.Env());
  ctx->Stats(stats);
  return stats;
}

Napi::Value Close(const Napi::CallbackInfo &info) {
  Context *ctx = ContextArgument(info, 1, "close(context)", false);
  if (ctx != nullptr) ctx->Close(false);
  return Napi::Value();
}

Napi::Value LiveContextsJs(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), LiveContexts()); }

}  // namespace

Context *UnwrapOpen(Napi::Value value, const MethodOps *ops) { return Unwrap(value, ops, true); }

bool ExportFunctions(Napi::Env env, Napi::Object exports, std::initializer_list<Export> functions, void *data) {
  for (const Export &f : functions) {
    Napi::Function fn = Napi::Function::New(env, f.fn, f.name, data);
    if (env.IsExceptionPending()) return false;
    exports.Set(f.name, fn);
    if (env.IsExceptionPending()) return false;
  }
  return true;
}

bool ExportMethod(Napi::Env env, Napi::Object exports, const MethodOps *ops) {
  return ExportFunctions(env, exports,
                         {{"create", Create},
                          {"submit", Submit},
                          {"poll", Poll},
                          {"wait", Wait},
                          {"cancel", Cancel},
                          {"stats", Stats},
                          {"close", Close},
                          {"liveContexts", LiveContextsJs}},
                         const_cast<MethodOps *>(ops));
}

#ifdef _WIN32
namespace {

Napi::Value WinErrnoTable(const Napi::CallbackInfo &info) {
  Napi::Object table = Napi::Object::New(info.Env());
  size_t count = 0;
  const aio_win_errno_entry *entries = aio_win_errno_names(&count);
  for (size_t i = 0; i < count; i++) table.Set(entries[i].name, Napi::Number::New(info.Env(), entries[i].value));
  return table;
}

Napi::Value MapWin32Error(const Napi::CallbackInfo &info) {
  double code;
  if (info.Length() < 2 || !info[1].IsString()) {
    ThrowTypeError(info.Env(), "mapWin32Error(code, call: 'open' | 'transfer' | 'flush')");
    return Napi::Value();
  }
  if (!ReadInteger(info[0], 0, 4294967295.0, "code must be a Win32 error code", &code)) return Napi::Value();
  std::string call = info[1].As<Napi::String>().Utf8Value();
  aio_win_call kind = call == "open" ? AIO_WIN_CALL_OPEN : call == "flush" ? AIO_WIN_CALL_FLUSH : AIO_WIN_CALL_TRANSFER;
  return Napi::Number::New(info.Env(), aio_win_errno((unsigned long)code, kind));
}

/* CreateFileW's disposition for the POSIX-style flags (the choice libuv makes for node:fs). */
DWORD Disposition(Napi::Object flags) {
  bool create = ReadFlag(flags, "create"), exclusive = ReadFlag(flags, "exclusive"), truncate = ReadFlag(flags, "truncate");
  if (create && exclusive) return CREATE_NEW;
  if (create && truncate) return CREATE_ALWAYS;
  if (create) return OPEN_ALWAYS;
  if (truncate) return TRUNCATE_EXISTING;
  return OPEN_EXISTING;
}

/* CreateFileW's flags and attributes for the AioOpenFlags, plus the backend's own. */
DWORD FlagsAndAttributes(Napi::Object flags, DWORD extra_flags) {
  Napi::Value mode_value = flags.Get("mode");
  uint32_t mode = mode_value.IsNumber() ? mode_value.As<Napi::Number>().Uint32Value() : 0666;
  /* Like node:fs: a file created without the owner's write bit is read-only. */
  DWORD result = extra_flags | (ReadFlag(flags, "create") && !(mode & 0200) ? FILE_ATTRIBUTE_READONLY : FILE_ATTRIBUTE_NORMAL);
  if (ReadFlag(flags, "direct")) result |= FILE_FLAG_NO_BUFFERING;
  if (ReadFlag(flags, "dsync")) result |= FILE_FLAG_WRITE_THROUGH;
  return result;
}

/* The open failure in Node's numbering; "access denied" on a directory is EISDIR, as libuv's fs__open says. */
int32_t OpenErrno(DWORD error, const wchar_t *path) {
  if (error == ERROR_ACCESS_DENIED) {
    DWORD attributes = GetFileAttributesW(path);
    if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY)) return AIO_UV_EISDIR;
  }
  return aio_win_errno(error, AIO_WIN_CALL_OPEN);
}

}  // namespace

bool WinOpenFile(const Napi::CallbackInfo &info, DWORD extra_flags, HANDLE *handle, int32_t *error) {
  if (info.Length() < 3 || !info[1].IsString() || !info[2].IsObject()) {
    ThrowTypeError(info.Env(), "openFile(context, path: string, flags: object)");
    return false;
  }
  *handle = NULL;
  /* Node-API hands out UTF-16, which is what wchar_t is on Windows. */
  std::u16string path = info[1].As<Napi::String>().Utf16Value();
  if (path.find(u'\0') != std::u16string::npos) { /* names no file */
    *error = AIO_UV_EINVAL;
    return true;
  }
  Napi::Object flags = info[2].As<Napi::Object>();
  const wchar_t *wide = reinterpret_cast<const wchar_t *>(path.c_str());
  DWORD access = (ReadFlag(flags, "read") ? GENERIC_READ : 0) | (ReadFlag(flags, "write") ? GENERIC_WRITE : 0);
  /* The sharing node:fs uses, so other openers (and unlink) behave the same. */
  DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
  HANDLE file = CreateFileW(wide, access, share, NULL, Disposition(flags), FlagsAndAttributes(flags, extra_flags), NULL);
  if (file == INVALID_HANDLE_VALUE) {
    *error = OpenErrno(GetLastError(), wide);
    return true;
  }
  *handle = file;
  return true;
}

bool ExportWinErrno(Napi::Env env, Napi::Object exports) {
  return ExportFunctions(env, exports, {{"errnoTable", WinErrnoTable}, {"mapWin32Error", MapWin32Error}});
}
#endif

bool DecodeSingle(const Napi::CallbackInfo &info, size_t first, const char *usage, aio_io *io, int *status) {
  Napi::Env env = info.Env();
  Napi::Value views = info[first + 4];
  if (info.Length() < first + 5 || !views.IsArray()) {
    ThrowTypeError(env, usage);
    return false;
  }
  /* The description as the submission table would carry it, with every view. */
  double words[AIO_SUBMIT_STRIDE] = {0};
  const int slots[4] = {0, 4, 5, 6}; /* op, file, offset, length */
  for (size_t i = 0; i < 4; i++) {
    Napi::Value word = info[first + i];
    if (!word.IsNumber()) {
      ThrowTypeError(env, "executeSync: op, file, offset and length must be numbers");
      return false;
    }
    words[slots[i]] = word.As<Napi::Number>().DoubleValue();
  }
  words[8] = views.As<Napi::Array>().Length();
  *status = aio_decode_io(env, words, views, 0, io);
  return true;
}

}  // namespace aio
