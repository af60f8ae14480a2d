/*
 * posix_aio.h: one context of the posix_aio method.
 *
 * A context owns a bounded table of aiocbs (sized from the core context's
 * maxConcurrency), the fd lanes of the files it has seen, a doorbell, and
 * one reaper thread.  The JS thread decodes a batch into the table and
 * submits it with lio_listio(LIO_NOWAIT) (aio_fsync for syncs); the reaper
 * blocks in aio_suspend over every aiocb in flight, collects what finished
 * with aio_error/aio_return, and hands whole IOs to the JS thread through
 * the kit's completion queue (one wake-up of the event loop per batch).
 *
 * Who touches what:
 * - The JS thread fills slots (state kFilling) without the lock: the reaper
 *   never looks at a slot before it is kInFlight.
 * - Everything else (slot states, the in-flight list, the free list, lanes,
 *   the doorbell, the reaper state, counters) is guarded by `lock`.
 * - Lock order: `lock`, then glibc's aio mutex (aio_* calls), then the
 *   completion queue's lock (ThreadCompletions::Push).  The reaper never
 *   holds `lock` while it sleeps in aio_suspend.
 */
#ifndef AIO_POSIX_AIO_H
#define AIO_POSIX_AIO_H

#include <aio.h>
#include <stdint.h>

#include <vector>

#include "aio/io.h"
#include "aio/kit.hh"
#include "aio/platform.h"
#include "doorbell.h"
#include "lanes.h"

namespace aio_posix {

/* The most aiocbs one vectored IO may be split into (the option's upper bound). */
constexpr uint32_t kMaxVectoredLimit = 64;
/* The most aiocbs a context's table may hold: aio_suspend puts a small
   record per watched aiocb on the reaper's stack. */
constexpr uint32_t kMaxTableSize = 2048;

enum class SlotState : uint8_t {
  kFree,     /* on the free list */
  kFilling,  /* taken by the JS thread for an IO being submitted, or reaped
                while other members of its IO are still in flight */
  kInFlight  /* queued to the OS; the reaper watches it */
};

/*
 * One aiocb.  An IO is one slot, or for a readv/writev one slot per buffer
 * (a "group"), linked in buffer order from the head slot, which also holds
 * the decoded IO.  The aiocb's buffer is JavaScript memory that cannot be
 * detached: the core keeps it referenced from the handle until the
 * completion is processed (see Context below).
 */
struct Slot {
  struct aiocb cb;
  SlotState state;
  bool reaped;       /* this member's result is known */
  int32_t head;      /* the IO's first slot (itself for a one-aiocb IO) */
  int32_t next;      /* the next member in buffer order, or -1 */
  int32_t list_pos;  /* where it sits in Context::inflight, or -1 */
  int32_t result;    /* bytes or -errno, once reaped */
  int32_t lane;      /* the lane of `lanes` the aiocb went to */
  LaneSet *lanes;    /* the file's lanes; counts this aiocb until it is reaped */
  /* Head slot only. */
  aio_io io;
  uint32_t members;  /* aiocbs in the IO */
  uint32_t pending;  /* members not reaped yet */
};

enum class ReaperState : uint8_t {
  kIdle,      /* nothing in flight: waiting on `wake` */
  kSuspended, /* in (or about to enter) aio_suspend: ring the doorbell */
  kScanning,  /* awake: it will rebuild its list before sleeping again */
  kStopped
};

struct Options {
  uint32_t max_concurrency = 64; /* the core context's handles */
  uint32_t table_size = 128;     /* aiocbs in the table */
  int lanes = 1;                 /* fds per file (glibc: parallelism per file) */
  uint32_t max_vectored = 16;    /* buffers of a readv/writev split into aiocbs */
  DoorbellMode doorbell = DoorbellMode::kTimeout;
  int poll_ms = 1;               /* aio_suspend timeout in `timeout` mode */
};

struct Counters {
  uint64_t ios_accepted = 0;      /* IOs the method took (completion follows) */
  uint64_t ios_completed = 0;     /* IOs handed to the completion queue */
  uint64_t aiocbs_queued = 0;     /* aiocbs the OS accepted */
  uint64_t lio_calls = 0;         /* lio_listio(LIO_NOWAIT) calls */
  uint64_t single_calls = 0;      /* aio_read/aio_write calls for one-aiocb batches */
  uint64_t fsync_calls = 0;       /* aio_fsync calls */
  uint64_t immediate_errors = 0;  /* IOs the OS refused at submission (completed with -errno) */
  uint64_t queue_full = 0;        /* IOs sent back: table full */
  uint64_t eagain = 0;            /* IOs sent back: the OS said EAGAIN */
  uint64_t unsupported = 0;       /* IOs sent back: bad description or too many/unaligned buffers */
  uint64_t vectored_split = 0;    /* readv/writev split into several aiocbs */
  uint64_t members_sync = 0;      /* aiocbs of a split IO the OS refused, run here instead */
  uint64_t cancel_requests = 0;   /* cancel() calls for an IO in flight */
  uint64_t canceled = 0;          /* of those, IOs whose every aiocb was cancelled */
  uint64_t suspends = 0;          /* times aio_suspend returned to the reaper */
  uint64_t idle_waits = 0;        /* times the reaper went idle */
};

/*
 * A posix_aio context on the kit (aio/kit.hh).  The kit owns its lifecycle:
 * the type-tagged context object that JavaScript holds, the reference to it
 * that is strong only while IO is in flight, the environment's cleanup
 * hook, the finalizer, argument decoding and the delivery of completions
 * (`completions`, woken once per batch).  This class is the mechanism:
 * submit (posix_aio.cc), reap (reaper.cc), wait, cancel, and Quiesce, which
 * stops the reaper only once no aiocb of the context is left with the OS.
 *
 * Pinned resources: the aiocb table, lanes, doorbell and reaper belong to
 * the context from Start until Quiesce.  The buffers of IO in flight are
 * JavaScript memory that cannot be detached (the core passes a detachable
 * buffer's IO through its own bounce memory), held from the core's handle,
 * and the kit holds the whole context object strongly, until the completion
 * is delivered.
 */
class Context final : public aio::ThreadContext {
 public:
  explicit Context(const Options &options) : opt(options) {
    aio_mutex_init(&lock);
    aio_cond_init(&wake);
  }
  ~Context() override;

  /* poll() and wait() are the kit's (aio::ThreadContext); a finished IO
     goes into `completions` (from the reaper thread, or from the JS thread
     for an IO refused in pieces). */
  bool Start(const aio::ContextArgs &args) override;
  uint32_t Submit(aio::SubmitBatch &batch) override;
  bool Holds(uint32_t index, uint32_t generation) override;
  uint32_t Cancel(uint32_t index, uint32_t generation) override;
  void Stats(Napi::Object stats) override;
  void Quiesce(bool teardown) override;

  const Options opt;
  aio_mutex lock;
  aio_cond wake;               /* signalled when an idle reaper has work or must stop */
  Slot *slots = nullptr;
  uint32_t nslots = 0;
  std::vector<int32_t> free_slots;
  std::vector<int32_t> inflight;  /* kInFlight slots, in no order */
  std::vector<int32_t> head_of;   /* by handle index: the IO's head slot, or -1 */
  std::vector<struct aiocb *> submit_list;        /* the JS thread's, during a submit */
  std::vector<const struct aiocb *> suspend_list; /* the reaper's own */
  LaneTable lanes;
  Doorbell doorbell;
  char doorbell_note[512] = {};
  ReaperState reaper_state = ReaperState::kScanning;
  bool rung = false;     /* rang since the reaper last went to sleep */
  bool stopping = false; /* the reaper exits once nothing is in flight */
  aio_thread reaper;
  bool reaper_running = false;
  Counters n;
};

/* posix_aio.cc: the IO path. */
void FinishIo(Context *c, int32_t head);
void ReleaseSlot(Context *c, int32_t id);

/* reaper.cc: the reaper thread and its wake-ups. */
int StartReaper(Context *c);
void StopReaper(Context *c, bool cancel_inflight);
void WakeReaper(Context *c);

/* probe.cc: the live probe and the process-wide aio configuration. */
void ConfigureProcess();
Napi::Value Probe(const Napi::CallbackInfo &info);

/* context.cc: the kit's description of the method (name, type tag, create). */
extern const aio::MethodOps kMethodOps;

/* context.cc: the addon's own functions beside the kit's. */
Napi::Value ForgetFile(const Napi::CallbackInfo &info);
Napi::Value DoorbellInfo(const Napi::CallbackInfo &info);
/* allocateSync(fd, offset, length, keepSize): the thread pool's file_ops.c allocate; 0 or a negative errno. */
Napi::Value AllocateSync(const Napi::CallbackInfo &info);

}  // namespace aio_posix

#endif /* AIO_POSIX_AIO_H */
