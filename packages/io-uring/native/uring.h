/*
 * uring.h: the io_uring method's native context, one per Aio context.
 *
 * The context's lifecycle is the shared kit's (tooling/native, aio/kit.hh):
 * the JavaScript functions of the core's contract and their argument
 * checks, the type-tagged context object, the reference that is strong
 * only while IO is in flight, the environment cleanup hook, the finalizer,
 * and the eventfd watcher on the event loop (aio/loop.hh).  This file is
 * the mechanism: the ring, submitting, reaping, cancelling, quiescing.
 *
 * Everything here runs on the context's JavaScript thread: submissions
 * (binding.submit), the blocking wait (binding.wait), the non-blocking poll,
 * and the libuv callbacks that reap completions (the kit's watcher on an
 * eventfd registered with the ring) and flush coalesced submissions (a
 * uv_prepare_t that runs just before the loop blocks).  No other thread
 * touches the ring or the context's fields, so they are not locked; the
 * kernel is the only other party, and liburing orders our ring accesses
 * against it.  The one exception is routed IO (RouteWorkers, route.cc): the
 * context's own threads read a routed IO's slot and push its result, under
 * RouteWorkers' lock, and write the eventfd.
 *
 * See ../README.md for the design (ring per context, how completions reach
 * JavaScript, who owns which buffer until when, the IOSQE_ASYNC policy).
 */
#ifndef AIO_URING_H
#define AIO_URING_H

#include "aio/kit.hh"
#include "aio/loop.hh"

#include <liburing.h>
#include <sys/stat.h>
#if defined(__linux__) && !defined(__GLIBC__) && !defined(STATX_TYPE)
// musl before 1.2.5 does not declare struct statx; the kernel's UAPI header does.
#include <linux/stat.h>
#endif
#include <uv.h>

#include <cstdint>
#include <string>
#include <vector>

#include "aio/platform.h"

namespace aio_uring {

/* IORING_OP_FTRUNCATE (Linux 6.9): liburing 2.3's headers (Debian 12) predate it; the number is the kernel ABI's. */
constexpr int kOpFtruncate = 55;

/* One entry per aio op code, 0 (invalid) to AIO_OP_ALLOCATE. */
constexpr int kOpCount = AIO_OP_ALLOCATE + 1;

/* The aio op names by code, as @aio/core's AIO_OP_NAMES spells them. */
extern const char *const kOpNames[kOpCount];

/*
 * Which aio ops a ring with this opcode probe runs (`probe` may be null: a
 * kernel older than 5.6 has only the 5.1 opcodes).  The context and the
 * probe's details use the same answer.
 */
void SupportedOps(const struct io_uring_probe *probe, bool ok[kOpCount]);

/* When IOSQE_ASYNC is set on an IO (see README "The IOSQE_ASYNC policy"). */
enum class AsyncPolicy : uint8_t {
  kAuto,   /* page-cache IO flagged buffered; other page-cache writes beyond 4 in flight (WantsAsync) */
  kNever,  /* never: every IO is first tried inline by the submitting task */
  kAlways  /* every IO goes to the kernel's io-wq workers */
};

/*
 * Which kinds of IO run on the context's own threads instead of the ring
 * (README "Routing"), as bits of Options::route_kinds.  Decided per IO on
 * the JS thread, from the op, the file (regular, O_DIRECT, O_DSYNC) and the
 * handle's flags.  Only page-cache IO of regular files is ever routed.
 */
enum RouteKind : uint32_t {
  kRouteDsyncWrites = 1,    /* writes to files opened with O_DSYNC/O_SYNC */
  kRouteWrites = 2,         /* other page-cache writes */
  kRouteBufferedReads = 4,  /* reads whose handle is flagged `buffered` (the read stream) */
  kRouteReads = 8,          /* other page-cache reads */
  kRouteAll = 15
};

/* The io_uring options of one context, decoded from the object JavaScript passes to create() (the kit reads maxConcurrency). */
struct Options {
  uint32_t entries = 0;          /* SQ ring size; 0 means the context's capacity (maxConcurrency) */
  bool sqpoll = false;           /* IORING_SETUP_SQPOLL, only when the user asks */
  uint32_t sqpoll_idle_ms = 1000;
  AsyncPolicy async_policy = AsyncPolicy::kAuto;
  uint32_t async_min_bytes = 0;  /* with kAuto: a size floor (0: none, PostgreSQL 18's rule exactly) */
  uint32_t registered_files = 0; /* size of the fixed-file table; 0 = no registered files */
  uint32_t disabled_ops = 0;     /* bit (1 << aio_op): treat as unsupported (sync fallback) */
  uint32_t route_kinds = 0;      /* RouteKind bits; the JS side fills in the default */
  uint32_t route_threads = 8;    /* threads for routed IO, started at the first one */
};

/*
 * One handle's IO while the kernel may use it.  The slot is indexed by the
 * handle's index: the core never has two IOs in flight on one handle.
 *
 * Pinned: `io.iov` (and the iovec array it may point to) is read by the
 * kernel until the IO's CQE is reaped; the slot keeps it until then.  The
 * buffers the iovecs point into are JavaScript memory that the core keeps
 * referenced from the handle until it has processed the completion, which is
 * always after the CQE was reaped here.
 *
 * What the IO's SQE will say is decided once, when the IO is accepted
 * (`sqe_*`); the SQE itself is written only when the IO is handed to the
 * kernel, and written again if the kernel refused it (see Flush).
 */
struct Slot {
  aio_io io;
  int32_t sqe_fd = -1;     /* the fd, or the registered-file index with IOSQE_FIXED_FILE */
  int32_t sqe_buffer = -1; /* the registered buffer for READ_FIXED/WRITE_FIXED, or -1 */
  uint8_t sqe_flags = 0;   /* IOSQE_FIXED_FILE, IOSQE_ASYNC */
  bool busy = false;       /* accepted, CQE (or routed result) not reaped yet */
  bool routed = false;     /* runs on the context's threads (RouteWorkers), not in the ring */
  bool pending = false;    /* accepted, not yet taken by the kernel: no SQE of it is in the ring */
  /*
   * A `stat` IO's answer from the kernel.  Pinned: the kernel writes it
   * (IORING_OP_STATX) until the IO's CQE is reaped; the slot holds it that
   * long, and the slots vector is sized once in Start and never moves.
   * FinishSlot then converts it, on the JS thread, into the 4 doubles of the
   * IO's own buffer before the completion goes into the table.
   */
  struct statx statx_scratch;
};

/* What the context knows about one fd (a vector indexed by fd). */
struct FdInfo {
  int32_t fixed = -1;     /* index in the registered-file table, or -1 */
  bool no_fixed = false;  /* registration failed once: do not try again */
  /*
   * Learnt with fstat and fcntl(F_GETFL) at the fd's first IO, for routing;
   * forgotten when the file is closed through aio (forgetFile).  An fd closed
   * behind aio's back and reused keeps the old answer: that can only send IO
   * down the slower of two correct paths, never change its result.
   */
  bool known = false;
  bool regular = false;   /* S_ISREG: only regular files are routed (a pipe read could block a thread for ever) */
  bool dsync = false;     /* opened with O_DSYNC (or O_SYNC) */
  bool direct = false;    /* opened with O_DIRECT, whatever the core was told (a file from fromFd) */
};

/* One routed IO's result, pushed by a worker thread, reaped on the JS thread. */
struct RoutedResult {
  uint32_t index;
  uint32_t generation;
  int32_t result;
};

/*
 * The context's own threads for the IOs the ring runs worse (README
 * "Routing").  Started at the first routed IO, joined in Quiesce: nothing
 * here is process-wide, so a context on a worker_thread owns its threads as
 * it owns its ring, and a forked child, which has none of them, never
 * inherits a pool it would have to repair (it cannot use its parent's ring
 * either).
 *
 * The JS thread queues slot indexes; a worker runs the slot's IO with
 * aio_io_execute (pread/pwrite, no Node-API) and pushes a RoutedResult,
 * then, if it is the first result since the JS thread last took them,
 * writes the ring's eventfd: the same wake-up as a CQE, so the watcher
 * reaps ring and routed completions in one pass and JavaScript sees one
 * stream of completions.
 *
 * Pinned: a queued or running IO's slot (its aio_io and iovecs) is read by
 * a worker until its RoutedResult is pushed; the slot stays busy until the
 * JS thread has taken that result (the slots vector never moves).  The
 * buffers are JavaScript memory the core keeps referenced until it has
 * processed the completion, which is after that.
 *
 * Locking: `lock` guards everything below it; workers never take any other
 * lock, and run the IO itself unlocked.
 */
class RouteWorkers {
 public:
  /* JS thread: starts up to `count` threads if none runs; false if none could start (errno in start_errno). */
  bool Ensure(Slot *slots, uint32_t capacity, uint32_t count, int eventfd);
  /* JS thread: queues slot indexes (their slots filled and marked routed). */
  void Enqueue(const uint32_t *indexes, uint32_t n);
  /* JS thread: moves every pushed result into `out` (cleared first). */
  void Take(std::vector<RoutedResult> *out);
  /* JS thread: blocks until IO (index, generation) has been pushed. */
  void WaitFor(uint32_t index, uint32_t generation);
  /* JS thread: removes IO `index` if still queued (it then never runs); whether it was. */
  bool Unqueue(uint32_t index);
  /*
   * JS thread, at Quiesce: queued IOs never run, running ones finish, the
   * threads are joined.  The indexes of both, and of every result not taken
   * yet, go to `dropped`.  After it returns no thread touches a slot or the
   * eventfd.  Idempotent.
   */
  void Stop(std::vector<uint32_t> *dropped);
  uint32_t threads() const { return started_; }
  int start_errno = 0;

 private:
  static void Main(void *arg);
  void Run();

  Slot *slots_ = nullptr;
  int eventfd_ = -1;
  std::vector<aio_thread> thread_ids_;
  uint32_t started_ = 0;
  bool initialized_ = false;

  aio_mutex lock_;
  aio_cond work_;            /* signalled when an IO is queued */
  aio_cond done_;            /* broadcast on a push while the JS thread waits in WaitFor */
  std::vector<uint32_t> queue_; /* a ring of `capacity` slot indexes, oldest at head_ */
  uint32_t head_ = 0;
  uint32_t queued_ = 0;
  uint32_t idle_ = 0;        /* workers waiting on work_ */
  uint32_t wakes_owed_ = 0;  /* signals sent that no worker has consumed yet */
  bool stopping_ = false;
  bool waiting_ = false;     /* the JS thread sleeps in WaitFor */
  bool wake_armed_ = true;   /* the next push writes the eventfd */
  std::vector<RoutedResult> results_;
};

/* A registered buffer, for finding the one an IO's buffer lies in. */
struct BufferRange {
  uintptr_t base;
  uintptr_t end;
  uint32_t index; /* the buffer's index in the kernel's table */
};

/* Counters for stats(); every one only grows except the "now" values computed at read time. */
struct Counters {
  uint64_t ios = 0;              /* IOs accepted into the ring */
  uint64_t enters = 0;           /* io_uring_enter calls that submitted */
  uint64_t batchEnters = 0;      /* of those, immediate ones for a batch of 2+ IOs */
  uint64_t deferredFlushes = 0;  /* of those, coalesced ones from the prepare handle or after a drain */
  uint64_t cqes = 0;             /* IO completions reaped */
  uint64_t wakeups = 0;          /* eventfd wake-ups of the event loop */
  uint64_t deliveries = 0;       /* calls into JavaScript with completions */
  uint64_t blockingWaits = 0;    /* times the thread blocked in the kernel for a completion */
  uint64_t unsupported = 0;      /* IOs refused: op not supported by the kernel or disabled */
  uint64_t invalid = 0;          /* IOs refused: the description did not match the buffers */
  uint64_t sqFull = 0;           /* IOs refused for want of an SQE: no longer happens (IOs wait in `pending`), kept for stats() */
  uint64_t asyncFlagged = 0;     /* IOs submitted with IOSQE_ASYNC */
  uint64_t fixedBufferIos = 0;   /* IOs that used READ_FIXED/WRITE_FIXED */
  uint64_t fixedFileIos = 0;     /* IOs that used a registered file */
  uint64_t cancelRequests = 0;
  uint64_t canceled = 0;         /* cancel requests the kernel honoured (the IO ends with ECANCELED) */
  uint64_t submitRetries = 0;    /* io_uring_enter refused for now (EAGAIN, ENOMEM, EBUSY, nothing taken); retried */
  uint64_t strayCqes = 0;        /* CQEs that matched no busy slot (a bug if ever non-zero) */
  uint64_t routed = 0;           /* IOs run on the context's threads instead of the ring */
  uint64_t routedDsyncWrites = 0;/* of those, writes to files opened with O_DSYNC */
  uint64_t routedCanceled = 0;   /* routed IOs removed from the queue by cancel() before a thread took them */
};

class UringContext;

/*
 * The context's other libuv handles: the prepare handle (runs just before
 * the loop blocks: flushes coalesced single IOs, delivers the stash) and
 * the retry timer (the kernel refused submissions for now).  Both are
 * unreferenced: they never keep the loop alive on their own.
 *
 * Who holds what: the context points at this record until Quiesce; from
 * then on the record belongs to libuv until both close callbacks ran,
 * which free it.  `context` is cleared when closing starts, so no callback
 * reaches a context that may already be freed.  An async cleanup hook
 * makes Node wait for those callbacks when the environment goes away (a
 * worker's loop cannot be closed with handles open).
 */
struct LoopTimers {
  uv_prepare_t prepare;
  uv_timer_t retry;
  UringContext *context = nullptr;
  napi_async_cleanup_hook_handle teardown = nullptr;
  int open_handles = 0;
  bool closing = false;
};


class UringContext : public aio::Context {
 public:
  UringContext(const Options &opt, std::vector<BufferRange> ranges) : opt(opt), ranges(std::move(ranges)) {}

  bool Start(const aio::ContextArgs &args) override;
  uint32_t Submit(aio::SubmitBatch &batch) override;
  uint32_t Poll() override;
  uint32_t Wait(uint32_t index, uint32_t generation) override;
  uint32_t Cancel(uint32_t index, uint32_t generation) override;
  void Stats(Napi::Object stats) override;
  void Quiesce(bool teardown) override;

  uv_loop_t *loop = nullptr;
  Options opt;

  /*
   * The registered buffers' array (options.registeredBuffers), held strongly
   * until the ring is gone: the kernel keeps their pages pinned, so V8 must
   * not free or reuse them.
   */
  Napi::Reference<Napi::Array> registered;
  /* For the callback scope completions are delivered in (napi_make_callback's semantics). */
  napi_async_context async_context = nullptr;

  /* The ring, created with the context (see Start: not lazily, because of fd reuse). */
  struct io_uring ring;
  bool ring_ready = false;
  bool ring_broken = false; /* io_uring_enter failed for good: everything goes to the sync fallback */
  bool quiescing = false;   /* teardown reaps and drops completions: no IO's buffer is written any more */
  int setup_errno = 0;      /* the last ring setup failure, as a positive errno */
  int broken_errno = 0;
  uint32_t setup_flags_used = 0; /* what io_uring_setup was given */
  int eventfd = -1;
  bool op_ok[kOpCount] = {}; /* by aio_op, after the opcode probe and disabled_ops */
  bool use_read_op = false; /* IORING_OP_READ/WRITE exist (5.6); otherwise READV/WRITEV with one iovec */
  bool cancel_ok = false;
  bool fixed_rw_ok = false;

  std::vector<Slot> slots;          /* by handle index */
  /*
   * Slot indexes of accepted IOs the kernel has not taken yet, in order.
   * They have no SQE in the ring: SQEs are written only inside Flush, and
   * whatever the kernel does not take is removed from the ring before Flush
   * returns.  So the ring never holds an entry the context has given up on
   * (run synchronously after the ring broke, dropped at teardown), which the
   * next io_uring_enter would otherwise send to the kernel.  (With SQPOLL an
   * SQE is the kernel's once published: see Settle.)
   */
  std::vector<uint32_t> pending;
  std::vector<int32_t> stash;       /* completions reaped by cancel() and friends, delivered later: triples */
  uint32_t stash_count = 0;
  uint32_t busy = 0;                /* accepted and not yet reaped (the kit counts accepted and not yet delivered) */
  uint32_t accepting = 0;           /* IOs accepted so far by the submit call under way (not yet counted by the kit) */

  /* cancel(): the result of our ASYNC_CANCEL, once its CQE was reaped. */
  bool cancel_seen = false;
  int32_t cancel_result = 0;

  std::vector<FdInfo> fds;
  std::vector<BufferRange> ranges;  /* registered buffers, sorted by base */
  int register_buffers_errno = 0;
  std::vector<int32_t> free_file_slots;
  int register_files_errno = 0;

  /* The kit's watcher on the eventfd: reaps and delivers on the loop; referenced while IO is in flight. */
  aio::LoopCompletions completions;
  /* The coalescing prepare handle and the retry timer (uring.cc); they outlive the context until closed. */
  LoopTimers *timers = nullptr;
  bool prepare_active = false;
  bool retry_active = false;

  /* Routed IO (README "Routing"): the threads, the indexes accepted by the submit call under way, the results taken. */
  RouteWorkers workers;
  std::vector<uint32_t> route_batch;
  std::vector<RoutedResult> route_results;
  uint32_t routed_busy = 0;         /* routed IOs accepted and not yet reaped */

  Counters counters;

  /*
   * Test hook (only reachable when the addon was loaded with
   * AIO_IO_URING_TEST_HOOKS=1): faults for the next submitting
   * io_uring_enter calls, one per call, front first.  A positive value makes
   * the call fail with that errno after the SQ tail was published, exactly
   * the state a real failed io_uring_enter leaves; -(k + 1) lets the kernel
   * take only the first k entries.
   */
  std::vector<int32_t> enter_faults;
};

/* The method: the kit's create/submit/poll/wait/cancel/stats/close over UringContext (uring.cc). */
extern const aio::MethodOps uring_ops;

/* Extra: forget a file before it is closed (drops its registered-file slot). */
Napi::Value ForgetFile(const Napi::CallbackInfo &info);
/* Test hook: injectEnterFaults(context, faults) (see UringContext::enter_faults). */
Napi::Value InjectEnterFaults(const Napi::CallbackInfo &info);

/* probe.cc */
/* Why io_uring_setup failed with `error` (a positive errno), in words a user can act on. */
std::string SetupFailureReason(int error);
napi_value Probe(napi_env env, napi_callback_info info);
napi_value DescribeSetupError(napi_env env, napi_callback_info info);

}  // namespace aio_uring

#endif /* AIO_URING_H */
