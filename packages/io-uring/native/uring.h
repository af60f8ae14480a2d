/*
 * uring.h: the io_uring method's native context, one per Aio context.
 *
 * Everything here runs on the context's JavaScript thread: submissions
 * (binding.submit), the blocking wait (binding.wait), the non-blocking poll,
 * and the libuv callbacks that reap completions (an eventfd registered with
 * the ring and watched by a uv_poll_t) and flush coalesced submissions (a
 * uv_prepare_t that runs just before the loop blocks).  No other thread ever
 * touches a context, so nothing here is locked; the kernel is the only other
 * party, and liburing orders our ring accesses against it.
 *
 * See ../README.md for the design (ring per context, how completions reach
 * JavaScript, who owns which buffer until when, the IOSQE_ASYNC policy).
 */
#ifndef AIO_URING_H
#define AIO_URING_H

#include <liburing.h>
#include <node_api.h>
#include <uv.h>

#include <cstdint>
#include <string>
#include <vector>

#include "aio/io.h"

namespace aio_uring {

/* When IOSQE_ASYNC is set on an IO (see README "The IOSQE_ASYNC policy"). */
enum class AsyncPolicy : uint8_t {
  kAuto,   /* IO flagged buffered, with more than 4 IOs in flight: PostgreSQL 18's rule */
  kNever,  /* never: every IO is first tried inline by the submitting task */
  kAlways  /* every IO goes to the kernel's io-wq workers */
};

/* The options of one context, decoded from the object JavaScript passes to create(). */
struct Options {
  uint32_t max_concurrency = 64; /* handles of the Aio context: the most IOs ever in flight */
  uint32_t entries = 0;          /* SQ ring size; 0 means max_concurrency */
  bool sqpoll = false;           /* IORING_SETUP_SQPOLL, only when the user asks */
  uint32_t sqpoll_idle_ms = 1000;
  AsyncPolicy async_policy = AsyncPolicy::kAuto;
  uint32_t async_min_bytes = 0;  /* with kAuto: a size floor (0: none, PostgreSQL 18's rule exactly) */
  uint32_t registered_files = 0; /* size of the fixed-file table; 0 = no registered files */
  uint32_t disabled_ops = 0;     /* bit (1 << aio_op): treat as unsupported (sync fallback) */
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
 */
struct Slot {
  aio_io io;
  bool busy = false;    /* accepted, CQE not reaped yet */
  bool pending = false; /* SQE prepared, not yet consumed by io_uring_enter */
};

/* What the context knows about one fd (a vector indexed by fd). */
struct FdInfo {
  int32_t fixed = -1;     /* index in the registered-file table, or -1 */
  bool no_fixed = false;  /* registration failed once: do not try again */
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
  uint64_t sqFull = 0;           /* IOs refused: no SQE could be had (EAGAIN) */
  uint64_t asyncFlagged = 0;     /* IOs submitted with IOSQE_ASYNC */
  uint64_t fixedBufferIos = 0;   /* IOs that used READ_FIXED/WRITE_FIXED */
  uint64_t fixedFileIos = 0;     /* IOs that used a registered file */
  uint64_t cancelRequests = 0;
  uint64_t canceled = 0;         /* cancel requests the kernel honoured (the IO ends with ECANCELED) */
  uint64_t submitRetries = 0;    /* io_uring_enter said EAGAIN/EBUSY; retried later */
  uint64_t strayCqes = 0;        /* CQEs that matched no busy slot (a bug if ever non-zero) */
};

enum class State : uint8_t { kOpen, kClosed };

struct Context {
  napi_env env = nullptr;
  uv_loop_t *loop = nullptr;
  Options opt;
  State state = State::kOpen;

  /*
   * JavaScript objects the context holds.  `words` (the submission table)
   * and `table` (the completion table) are held strongly until teardown: we
   * read and write their memory.  `on_complete` is weak: the context object
   * holds the function as a property, and `self` (the context object) is
   * made strong while IO is in flight, so that the function, the method and
   * every buffer the core pins stay reachable until their completion is
   * delivered, and an idle, forgotten context can be collected.
   * `registered` holds the registered buffers until the ring is gone (the
   * kernel keeps their pages pinned; V8 must not free or reuse them).
   */
  napi_ref words_ref = nullptr;
  napi_ref table_ref = nullptr;
  napi_ref on_complete = nullptr;
  napi_ref self = nullptr;
  napi_ref registered = nullptr;
  napi_async_context async_context = nullptr;
  double *words = nullptr;
  int32_t *table = nullptr;

  /* The ring, created with the context (see Create: not lazily, because of fd reuse). */
  struct io_uring ring;
  bool ring_ready = false;
  bool ring_broken = false; /* io_uring_enter failed for good: everything goes to the sync fallback */
  int setup_errno = 0;      /* the last ring setup failure, as a positive errno */
  int broken_errno = 0;
  uint32_t setup_flags_used = 0; /* what io_uring_setup was given */
  int eventfd = -1;
  bool op_ok[7] = {};       /* by aio_op, after the opcode probe and disabled_ops */
  bool use_read_op = false; /* IORING_OP_READ/WRITE exist (5.6); otherwise READV/WRITEV with one iovec */
  bool cancel_ok = false;
  bool fixed_rw_ok = false;

  std::vector<Slot> slots;          /* by handle index */
  std::vector<uint32_t> pending;    /* slot indexes whose SQE is not consumed yet, in prep order */
  std::vector<int32_t> stash;       /* completions reaped by cancel(), delivered later: triples */
  uint32_t stash_count = 0;
  uint32_t inflight = 0;            /* accepted and not yet handed to JavaScript */
  uint32_t busy = 0;                /* accepted and not yet reaped */

  /* cancel(): the result of our ASYNC_CANCEL, once its CQE was reaped. */
  bool cancel_seen = false;
  int32_t cancel_result = 0;

  std::vector<FdInfo> fds;
  std::vector<BufferRange> ranges;  /* registered buffers, sorted by base */
  int register_buffers_errno = 0;
  std::vector<int32_t> free_file_slots;
  int register_files_errno = 0;

  /*
   * libuv handles, all unreferenced except `poll`, which is referenced only
   * while IO is in flight (so `await file.read()` at top level keeps the
   * process alive, and an idle context never does).  The context outlives
   * them: it is freed once the wrapper object was finalized and every
   * handle's close callback ran (`holders` counts both).
   */
  uv_poll_t poll;
  uv_prepare_t prepare;
  uv_timer_t retry;
  bool poll_init = false;
  bool poll_referenced = false;
  bool prepare_active = false;
  bool retry_active = false;
  int open_handles = 0;
  int holders = 1;

  /* The environment's teardown waits for in-flight IO through this hook. */
  napi_async_cleanup_hook_handle cleanup = nullptr;

  Counters counters;
};

/* The JavaScript functions of the binding (AioNativeBinding in @aio/core). */
napi_value Create(napi_env env, napi_callback_info info);
napi_value Submit(napi_env env, napi_callback_info info);
napi_value Poll(napi_env env, napi_callback_info info);
napi_value Wait(napi_env env, napi_callback_info info);
napi_value Cancel(napi_env env, napi_callback_info info);
napi_value Stats(napi_env env, napi_callback_info info);
napi_value Close(napi_env env, napi_callback_info info);
/* Extra: forget a file before it is closed (drops its registered-file slot and cached flags). */
napi_value ForgetFile(napi_env env, napi_callback_info info);

/* probe.cc */
/* Why io_uring_setup failed with `error` (a positive errno), in words a user can act on. */
std::string SetupFailureReason(int error);
napi_value Probe(napi_env env, napi_callback_info info);
napi_value DescribeSetupError(napi_env env, napi_callback_info info);

}  // namespace aio_uring

#endif /* AIO_URING_H */
