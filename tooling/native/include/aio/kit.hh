/*
 * aio/kit.hh: the shared lifecycle of every C++ backend's native context,
 * on node-addon-api (exceptions off: every call that can fail is checked,
 * and a failure throws a JavaScript error and returns an empty value).
 *
 * PostgreSQL gives each IO method one shape, IoMethodOps; this is ours.
 * A backend derives its context from aio::Context and implements only its
 * mechanism (Submit, Poll, Wait, Cancel, Quiesce, Stats); the kit does the
 * rest, the same way for every backend:
 *
 * - The JavaScript side of the contract (AioNativeBinding in
 *   packages/core/src/native-method.ts): create, submit, poll, wait,
 *   cancel, stats and close, registered by aio::ExportMethod, with the
 *   argument decoding and the usage errors (AIO_ERR_INVALID_TYPE,
 *   AIO_ERR_OUT_OF_RANGE, AIO_ERR_CLOSED) of every backend.
 * - The context object: a plain JavaScript object, type-tagged with the
 *   backend's tag and wrapped around the native context, so a call with any
 *   other object throws instead of reading foreign memory, and a call after
 *   close() finds the context closed instead of freed (the native struct
 *   lives until the object is collected).
 * - Strong while IO is in flight, weak when idle: the object holds
 *   `onComplete` (and through it the JavaScript method and every buffer of
 *   every IO); the kit holds the object strongly only while IO is in flight.
 *   An idle context that JavaScript no longer references is collected, and
 *   its finalizer closes it (Quiesce, then the kit frees what it holds).
 * - The environment cleanup hook: if the environment goes away first (a
 *   worker_thread ends or is terminated, the main thread exits normally),
 *   the hook closes the context with `teardown = true`, while the buffers of
 *   IO still in flight are alive.
 * - Completion delivery, both kinds: aio::ThreadCompletions for IO that
 *   completes on other threads (a pool, glibc's aio threads, an IOCP
 *   reaper), woken once per batch; aio::LoopCompletions (aio/loop.hh) for
 *   completions signalled on the event loop (io_uring, kqueue).
 * - Counters: aio::Counter lists become the stats object.
 *
 * Every function here runs on the JavaScript thread of the environment that
 * created the context, except ThreadCompletions::Push.
 */
#ifndef AIO_KIT_HH
#define AIO_KIT_HH

/* A worker_thread being terminated cannot run JavaScript, so a throw there
 * fails; with exceptions off, node-addon-api would abort the process unless
 * told to drop such an exception (the environment is going away anyway).
 * The build defines it too, for sources that include napi.h first. */
#ifndef NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#endif
#include <napi.h>
#include <stdint.h>

#include <initializer_list>

#include "aio/completions.h"
#include "aio/io.h"

namespace aio {

/* ------------------------------------------------------------------ */
/* Errors and arguments.                                               */
/* ------------------------------------------------------------------ */

/* Throws a TypeError with code AIO_ERR_INVALID_TYPE. */
void ThrowTypeError(Napi::Env env, const char *message);
/* Throws a RangeError with code AIO_ERR_OUT_OF_RANGE. */
void ThrowRangeError(Napi::Env env, const char *message);
/* Throws an Error with `code`. */
void ThrowError(Napi::Env env, const char *code, const char *message);

/* `value` as an integer in [low, high]; false after throwing (TypeError: not a number; RangeError: out of range). */
bool ReadInteger(Napi::Value value, double low, double high, const char *what, double *out);
/* An optional integer property: absent or undefined leaves `*out` as is; false after throwing. */
bool ReadOption(Napi::Object options, const char *name, double low, double high, const char *what, double *out);
/* Whether `value` is true; for flags objects, absent means false. */
bool ReadFlag(Napi::Object options, const char *name);

/* ------------------------------------------------------------------ */
/* Counters.                                                           */
/* ------------------------------------------------------------------ */

struct Counter {
  const char *name;
  double value;
};

/* Sets each counter as a number property of `object`. */
void SetCounters(Napi::Object object, std::initializer_list<Counter> counters);

/* ------------------------------------------------------------------ */
/* The context.                                                        */
/* ------------------------------------------------------------------ */

/* What create() decoded for the backend. */
struct ContextArgs {
  Napi::Object options;   /* the options object, for the backend's own options */
  uint32_t capacity;      /* options.maxConcurrency: handles, so the most IOs in flight */
  double *words;          /* the submission table (AIO_SUBMIT_MAX x AIO_SUBMIT_STRIDE words) */
  int32_t *table;         /* the completion table (capacity triples) */
};

/* One submit() call, decoded: `count` IOs, each valid or not. */
struct SubmitBatch {
  uint32_t count;
  aio_io ios[AIO_SUBMIT_MAX];
  /* Whether ios[i] decoded, its handle index fits the context, and the
   * context had room for it (capacity minus IO in flight).  An invalid IO
   * has nothing to release, and its disposition is already set: EAGAIN
   * if memory for its buffer list ran out, UNSUPPORTED otherwise (the core
   * runs it synchronously either way, and reports EINVAL for a bad one). */
  bool valid[AIO_SUBMIT_MAX];
  uint32_t invalid;  /* how many are not valid */
};

class ThreadCompletions;

/*
 * Something that must keep the event loop alive exactly while the context
 * has IO in flight (a libuv handle); the kit calls it from Busy().
 * aio::LoopCompletions is one.
 */
class LoopLiveness {
 public:
  virtual void KeepLoopAlive(bool alive) = 0;

 protected:
  ~LoopLiveness() = default;
};

class Context {
 public:
  virtual ~Context();
  Context(const Context &) = delete;
  Context &operator=(const Context &) = delete;

  /* --- What a backend implements (its IoMethodOps). --- */

  /*
   * Takes the context's resources (a completion queue, a kernel object, a
   * place in a pool), after the kit bound the tables (env(), capacity(),
   * table() work here).  false after throwing, having released whatever it
   * took: the kit then deletes the context.  Nothing else runs before it.
   */
  virtual bool Start(const ContextArgs &args) { return true; }

  /*
   * Takes the valid IOs of the batch: writes each one's disposition into
   * Disposition(i), returns how many it accepted (a completion will follow
   * for each), and releases (aio_io_release) every IO it did not keep.
   * The kit then counts them as in flight (Accepted).
   */
  virtual uint32_t Submit(SubmitBatch &batch) = 0;
  /* Moves ready completions into the table without blocking; returns how many. */
  virtual uint32_t Poll() = 0;
  /* Blocks until IO (index, generation) completed, if the mechanism still holds it; returns completions moved. */
  virtual uint32_t Wait(uint32_t index, uint32_t generation) = 0;
  /* 0 canceled (it completes with ECANCELED), 1 not canceled (it completes normally), 2 unsupported. */
  virtual uint32_t Cancel(uint32_t index, uint32_t generation) { return 2; }
  /* Adds the backend's counters to the stats object (also called once closed). */
  virtual void Stats(Napi::Object stats) = 0;
  /*
   * Ends all IO of the context: after it returns, no thread and no kernel
   * touches the context or any buffer of its IO again.  With `teardown`
   * (the environment is going away) IO may still be in flight: wait for it
   * or cancel and reap it; its completions are not delivered.  Then free
   * the mechanism's resources.  Called exactly once, by close(), the
   * cleanup hook or the finalizer, on the JS thread.
   */
  virtual void Quiesce(bool teardown) = 0;

  /* --- What the kit gives a backend. --- */

  Napi::Env env() const { return env_; }
  bool open() const { return open_; }
  uint32_t capacity() const { return capacity_; }
  /* The submission table's word `w` of IO `i` (word 9 is its disposition). */
  double *Words(uint32_t i) const { return words_ + (size_t)i * AIO_SUBMIT_STRIDE; }
  void SetDisposition(uint32_t i, enum aio_disposition d) const { Words(i)[9] = d; }
  int32_t *table() const { return table_; }
  /* IO accepted and whose completion was not yet delivered. */
  uint32_t inflight() const;

  /*
   * The IO-in-flight reference: Busy(true) holds the context object (and
   * with it onComplete, the method and the IO's buffers) strongly, and
   * Busy(false) makes it weak again.  The completion helpers call it; a
   * backend that delivers completions its own way calls it when IO starts
   * and when the last completion was delivered.
   */
  void Busy(bool busy);
  /* JS thread: calls onComplete(count) (nothing when count is 0). */
  void Deliver(uint32_t count);
  /* Counts `n` IOs in flight, Busy(true) if the context was idle (the kit calls it after Submit). */
  void Accepted(uint32_t n);
  /* Counts `n` completions moved into the table, Busy(false) when none is left in flight. */
  void Completed(uint32_t n);

  /* Closes the context once: Quiesce, then the kit's own release.  Safe to call again. */
  void Close(bool teardown);

 protected:
  Context();

 private:
  friend struct ContextAccess;
  Napi::Env env_ = Napi::Env(nullptr);
  bool open_ = false;
  bool busy_ = false;
  /* Counted by Accepted/Completed unless a ThreadCompletions keeps the count (see there). */
  uint32_t inflight_ = 0;
  uint32_t capacity_ = 0;
  double *words_ = nullptr;
  int32_t *table_ = nullptr;
  /* Until close: the two tables (their memory is `words_` and `table_`; V8
   * never moves an ArrayBuffer's backing store). */
  Napi::Reference<Napi::Float64Array> words_ref_;
  Napi::Reference<Napi::Int32Array> table_ref_;
  /* The context object: weak when idle, strong while busy (see Busy). */
  Napi::ObjectReference self_;
  /* onComplete, held weakly: the context object holds it strongly. */
  Napi::FunctionReference on_complete_;
  Napi::Env::CleanupHook<void (*)(Context *), Context> cleanup_;
  /* Set by ThreadCompletions::Init: the queue keeps the in-flight count. */
  ThreadCompletions *threads_ = nullptr;
  /* Set by LoopCompletions::Init: referenced while busy. */
  LoopLiveness *loop_ = nullptr;
  /* The backend this context belongs to (its tag was checked against it). */
  const struct MethodOps *ops_ = nullptr;
};

/* What ExportMethod needs from a backend. */
struct MethodOps {
  /* The method's name, for error messages: "expected a <name> context from create()". */
  const char *name;
  /* The tag every context object of this backend carries (make it unique: two random 64-bit halves). */
  napi_type_tag tag;
  /*
   * Allocates the backend's context (`new MyContext(...)`) and reads the
   * backend's own options from args.options; nullptr after throwing.  The
   * kit then binds the tables and calls Start.
   */
  Context *(*create)(Napi::Env env, const ContextArgs &args);
};

/* A function of an addon's exports. */
struct Export {
  const char *name;
  Napi::Function::Callback fn;
};

/* Defines each function on `exports` (with `data` as their CallbackInfo::Data()); false after throwing. */
bool ExportFunctions(Napi::Env env, Napi::Object exports, std::initializer_list<Export> functions, void *data = nullptr);

/*
 * Native contexts of every backend in this addon that exist (created and
 * not yet finalized), all environments together: what a test checks to
 * prove that a dropped context was collected and freed.  ExportMethod also
 * exports it as `liveContexts()`.
 */
uint32_t LiveContexts();

/*
 * Defines create, submit, poll, wait, cancel, stats, close and liveContexts on `exports`
 * for the backend described by `ops` (which must outlive the addon: a
 * static).  Returns false after throwing.
 */
bool ExportMethod(Napi::Env env, Napi::Object exports, const MethodOps *ops);

/*
 * The open context behind a context object of `ops`'s backend, or nullptr
 * after throwing (wrong object: AIO_ERR_INVALID_TYPE; closed:
 * AIO_ERR_CLOSED).  For a backend's own functions (openFile, ...).
 */
Context *UnwrapOpen(Napi::Value value, const MethodOps *ops);

#ifdef _WIN32
/*
 * Windows: defines errnoTable() (every name the kit's Windows table, see
 * aio/win_errno.h, produces, with its number) and mapWin32Error(code,
 * call) (call: 'open', 'transfer' or 'flush'), so a test can compare them
 * with util.getSystemErrorMap() of the Windows node.exe.  false after throwing.
 */
bool ExportWinErrno(Napi::Env env, Napi::Object exports);

/*
 * The open of openFile(context, path, flags) for the HANDLE backends, as
 * node:fs (libuv's fs__open) does it: `info[1]` a path string and `info[2]`
 * an AioOpenFlags object (otherwise a TypeError
 * "openFile(context, path: string, flags: object)"), CreateFileW with
 * read/write access as asked, FILE_SHARE_READ | WRITE | DELETE, the
 * disposition for create/exclusive/truncate, a created file without the
 * owner's write bit read-only, `direct` as FILE_FLAG_NO_BUFFERING, `dsync`
 * as FILE_FLAG_WRITE_THROUGH, plus `extra_flags` (FILE_FLAG_OVERLAPPED for
 * iocp).  Returns false after throwing; otherwise true with the HANDLE in
 * *handle, or NULL and Node's errno in *error (EISDIR for a directory, as
 * open(2) says; EINVAL for a path with a NUL in it).  The caller checks the
 * context argument first and owns the HANDLE.
 */
bool WinOpenFile(const Napi::CallbackInfo &info, DWORD extra_flags, HANDLE *handle, int32_t *error);
#endif

/* ------------------------------------------------------------------ */
/* Completions from other threads.                                     */
/* ------------------------------------------------------------------ */

/*
 * The kit's completion queue (aio/completions.h) bound to a context: any
 * thread pushes (index, generation, result); the first push after a drain
 * wakes the event loop once (a thread-safe function that holds no
 * JavaScript value), and the drain fills the table and calls onComplete
 * once for the batch.  It keeps the IO-in-flight count itself and tells the
 * context when it becomes busy and idle, so a backend that uses it does not
 * call Accepted/Completed: the kit routes them here.
 */
class ThreadCompletions {
 public:
  /* JS thread, in the backend's create: false after throwing. */
  bool Init(Context *context, const char *resource_name);
  /* Any thread: one IO completed with `result` (bytes or a negative errno). */
  void Push(int32_t index, uint32_t generation, int32_t result) { aio_cq_push(&queue_, index, generation, result); }
  /* JS thread: moves queued completions into the table; returns how many. */
  uint32_t Drain() { return aio_cq_drain(&queue_); }
  /* Any thread: whether IO (index, generation) was pushed and not drained yet. */
  bool Contains(uint32_t index, uint32_t generation) { return aio_cq_contains(&queue_, (int32_t)index, generation) != 0; }
  /* JS thread: blocks until (index, generation) is queued, then drains. */
  uint32_t WaitFor(uint32_t index, uint32_t generation) { return aio_cq_wait(&queue_, (int32_t)index, generation); }
  /* JS thread, at teardown: blocks until every accepted IO was pushed (not delivered). */
  void WaitAll() { aio_cq_wait_all(&queue_); }
  /* JS thread, in Quiesce once nothing can push any more. */
  void Destroy() { aio_cq_destroy(&queue_); }
  /* For C code that pushes directly (aio_cq_push on this pointer). */
  aio_completion_queue *queue() { return &queue_; }

 private:
  friend class Context;
  aio_completion_queue queue_ = {};
};

/*
 * The context of a backend whose IO completes on other threads (a pool's
 * workers, glibc's aio threads, an IOCP reaper): it owns the
 * ThreadCompletions those threads push into, and implements poll() and
 * wait() once for all of them.  The backend initialises `completions` in
 * Start (completions.Init(this, "aio:<name>")), pushes every completion
 * into it, and says through Holds whether its mechanism still has an IO.
 */
class ThreadContext : public Context {
 public:
  /* Moves what the other threads pushed into the table. */
  uint32_t Poll() override { return completions.Drain(); }
  /*
   * Blocks until IO (index, generation) was pushed, but only while Holds
   * says the mechanism has it: an IO already delivered (or never
   * submitted) would never be pushed, so waiting for it must not hang the
   * thread; it then drains what is there.
   */
  uint32_t Wait(uint32_t index, uint32_t generation) override;

  /* Any thread pushes here; the kit delivers on the JS thread. */
  ThreadCompletions completions;

 protected:
  /*
   * JS thread: whether the mechanism still holds IO (index, generation),
   * i.e. its completion is still to be pushed (or was pushed and not yet
   * drained).  `index` is a handle index of this context (the kit checked).
   */
  virtual bool Holds(uint32_t index, uint32_t generation) = 0;
  /* wait() calls that blocked, for a backend's stats. */
  double blocked_waits() const { return blocked_waits_; }

 private:
  double blocked_waits_ = 0;
};

/*
 * Decodes one IO given as five separate arguments starting at info[first]
 * (op, file, offset, length, views: executeSync(op, ...) has first 0,
 * executeSync(context, op, ...) first 1) with the same checks as submit.
 * Sets *status to 0 (then release `io` with aio_io_release), -EINVAL (a
 * bad description) or -ENOMEM, with nothing to release.  false after
 * throwing `usage` (too few arguments, views not an array) or a TypeError
 * (op, file, offset or length not a number).
 */
bool DecodeSingle(const Napi::CallbackInfo &info, size_t first, const char *usage, aio_io *io, int *status);

}  // namespace aio

#endif /* AIO_KIT_HH */
