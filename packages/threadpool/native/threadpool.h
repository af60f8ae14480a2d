/*
 * threadpool.h: the process-wide IO worker pool (PostgreSQL's `worker` IO
 * method, with threads instead of processes).
 *
 * One pool serves every AIO context of every environment (the main thread and
 * each worker_thread that loads the addon).  It is started lazily by the first
 * IO submitted anywhere, and stopped when the last environment that loaded
 * the addon goes away.  Contexts hand it requests through one bounded FIFO
 * guarded by one lock; a worker pops a request, runs it with a plain
 * synchronous system call, and pushes the result into the issuing context's
 * completion queue (the kit's aio/completions.h), which wakes that context's
 * event loop once per batch of completions.
 *
 * Locking: `tp_pool.lock` guards everything marked "pool lock" below.  A
 * context's completion-queue lock is only ever taken *inside* the pool lock
 * by workers (never the other way round), so a fork can never inherit a
 * completion queue locked by a thread that does not exist in the child.
 */
#ifndef AIO_THREADPOOL_H
#define AIO_THREADPOOL_H

#include <stdint.h>

#include "aio/completions.h"
#include "aio/io.h"
#include "aio/platform.h"
#include "file_ops.h"

/* The most worker threads the pool ever runs (PostgreSQL's MAX_IO_WORKERS). */
#define TP_MAX_WORKERS 32
/* The largest submission queue; the default bound is TP_DEFAULT_QUEUE_SIZE. */
#define TP_MAX_QUEUE_SIZE 1024
#define TP_DEFAULT_QUEUE_SIZE 256

struct tp_context;

/*
 * One IO handed to the pool.  Each context owns one request per handle
 * index (at most one IO per handle is ever in flight), so submitting
 * allocates nothing.
 */
typedef struct tp_request {
  /* Filled on the JS thread before the request is queued; read by exactly
   * one worker afterwards.  Its iovecs point into JavaScript buffers that the
   * core keeps referenced until the completion has been processed. */
  aio_io io;
  struct tp_context *ctx;
  /* Pool lock.  Set when the request is queued; cleared when its completion
   * is pushed (by a worker) or when it is cancelled.  While set, nobody but
   * the worker that popped it may touch `io`. */
  int busy;
  /* Pool lock.  Set while the request sits in the FIFO, whose links are
   * `prev`/`next`: cancel unlinks a queued request in O(1) and can tell
   * "queued" from "running" without scanning. */
  int queued;
  struct tp_request *prev;
  struct tp_request *next;
} tp_request;

/* The part of a context that the pool sees. */
typedef struct tp_context {
  /* The context's completion queue (the kit's aio::ThreadCompletions owns it). */
  aio_completion_queue *cq;
  tp_request *requests; /* `capacity` slots, one per handle index */
  uint32_t capacity;
  /* Pool lock: requests queued or running whose completion is not pushed
   * yet.  Closing waits for zero, which also proves that no worker touches
   * this context (or its thread-safe function) any more. */
  uint32_t pending;
  /* Pool lock: a close or an environment teardown waits for `pending == 0`. */
  int draining;
  /* Pool lock: the registry of live contexts (for fork and for counts). */
  struct tp_context *next_live;
  struct tp_context *prev_live;
} tp_context;

/* Point-in-time numbers about the pool, for stats() and poolInfo(). */
typedef struct tp_pool_info {
  uint32_t workers_target;  /* how many workers should take work */
  uint32_t workers_started; /* threads created (parked ones included) */
  uint32_t queue_size;      /* the bound on queued requests */
  uint32_t queued;          /* requests in the FIFO right now */
  uint32_t queued_peak;     /* the most requests ever queued at once */
  uint32_t contexts;        /* live contexts, all environments */
  uint32_t environments;    /* environments that loaded the addon */
  uint64_t executed;        /* requests run by workers */
  uint64_t wakeups;         /* condition-variable signals sent to idle workers */
  uint64_t service_ns;      /* running estimate of one IO's duration in a worker */
  uint64_t wake_ns;         /* running estimate of a wake-up's latency */
  uint64_t started_count;   /* times the pool started (it restarts after a full stop) */
} tp_pool_info;

/* An environment loaded the addon.  Registers the fork handlers once. */
void tp_pool_attach_env(void);

/*
 * An environment went away.  When it was the last one, the workers are
 * stopped and joined, so the addon's code can be unloaded safely.  Must be
 * called after every context of that environment was closed or drained.
 */
void tp_pool_detach_env(void);

/*
 * Sets the pool size and queue bound.  `workers` (1..TP_MAX_WORKERS) and
 * `queue_size` (1..TP_MAX_QUEUE_SIZE) of 0 mean "keep".  With `only_if_unset`
 * the values apply only if nothing was configured before (a default never
 * overrides an explicit choice).  A running pool grows at once; surplus
 * workers park after their current IO.
 */
void tp_pool_configure(uint32_t workers, uint32_t queue_size, int only_if_unset);

/* Adds a context to the registry (JS thread, at create). */
void tp_pool_register(tp_context *ctx);

/*
 * Waits until no request of `ctx` is queued or running, then removes it from
 * the registry.  After it returns no worker will touch `ctx` again.
 */
void tp_pool_unregister(tp_context *ctx);

/* What tp_pool_submit decided for each IO of a batch. */
enum tp_outcome {
  TP_OUTCOME_SKIP = 0,     /* input: the caller already rejected it (bad description) */
  TP_OUTCOME_PENDING = 1,  /* input: please queue it */
  TP_OUTCOME_QUEUED = 2,   /* moved into its request slot and queued; a worker will run it */
  TP_OUTCOME_FULL = 3,     /* did not fit (queue full, or no worker could start): the caller runs it */
  TP_OUTCOME_BUSY = 4      /* its handle's slot still holds an IO in flight: a caller bug, not run */
};

/*
 * Queues the IOs of one context whose outcome is TP_OUTCOME_PENDING, in
 * order, starting the pool if needed, under one acquisition of the pool
 * lock.  A queued IO is moved into `ctx->requests[io->index]`; `ios[i]` is
 * left untouched otherwise (so the caller can run a FULL one itself).
 * Wakes at most one idle worker; workers wake their peers as they go.
 */
void tp_pool_submit(tp_context *ctx, aio_io *ios, uint32_t n, uint8_t *outcome);

/*
 * Removes a queued request and completes it with tp_canceled_result().
 * Returns 1 if it was still queued (it never runs), 0 if a worker runs it
 * or it already completed (it completes normally).
 */
int tp_pool_cancel(tp_request *request, uint32_t generation);

/* Whether `request` with `generation` is queued or running. */
int tp_pool_busy(tp_request *request, uint32_t generation);

/* Test hook: paused workers take no new request (running ones finish). */
void tp_pool_set_paused(int paused);

void tp_pool_get_info(tp_pool_info *info);

/* The live check behind probe(): starts and joins one thread.  0 or an errno. */
int tp_pool_probe(void);

/*
 * Runs one IO synchronously on the calling thread and returns bytes or a
 * negative errno in Node's numbering (POSIX errno; libuv's codes on Windows).
 * POSIX: the kit's aio_io_execute, and file_ops.c for stat, truncate and
 * allocate.  Windows: threadpool_win32.cc, and file_ops.c for those three.
 */
int32_t tp_execute(const aio_io *io);

/* The raw result of a cancelled IO: -ECANCELED in Node's numbering. */
int32_t tp_canceled_result(void);

/* The raw result of an IO whose description is invalid: -EINVAL in Node's numbering. */
int32_t tp_invalid_result(void);

#endif /* AIO_THREADPOOL_H */
