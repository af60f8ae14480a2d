/*
 * threadpool.cc: the process-wide IO worker pool.  See threadpool.h for the
 * contract and README.md for the design.
 *
 * Everything here is plain data with constant initialisers and no
 * destructors: a process that calls exit() while workers run must not have
 * static destructors tear down a mutex under them (Node's process.exit()
 * does not run environment cleanup hooks).
 */
#include "threadpool.h"

#include <errno.h>
#include <string.h>

#ifdef _WIN32
#define TP_MUTEX_INITIALIZER SRWLOCK_INIT
#define TP_COND_INITIALIZER CONDITION_VARIABLE_INIT
#else
#include <pthread.h>
#include <time.h>
#define TP_MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER
#define TP_COND_INITIALIZER PTHREAD_COND_INITIALIZER
#endif

namespace {

/* The lock behind every field marked "pool lock" in threadpool.h and below. */
aio_mutex pool_lock = TP_MUTEX_INITIALIZER;
/* Broadcast when a draining context's pending count reaches zero, and when
 * a stop finishes (a submitter that found the pool stopping waits here). */
aio_cond pool_changed = TP_COND_INITIALIZER;
/* One condition variable per worker, so a submitter wakes exactly the
 * worker it picked from `idle_mask` (PostgreSQL sets that worker's latch).
 * Initialised when the worker's thread is created. */
aio_cond worker_cond[TP_MAX_WORKERS];

struct pool_state {
  /* The FIFO of queued requests, all contexts mixed, oldest at `head`. */
  tp_request *head;
  tp_request *tail;
  uint32_t queued;
  uint32_t queued_peak;
  uint32_t queue_size;
  uint32_t workers_target;
  int workers_explicit; /* set by an explicit `workers` option; defaults never override it */
  int queue_explicit;
  aio_thread threads[TP_MAX_WORKERS];
  uint32_t started;   /* threads[0..started) exist */
  uint32_t idle_mask; /* bit i: worker i sleeps and may be woken for work */
  uint32_t waking;    /* workers woken for work that have not taken it yet */
  /* When worker i started its current IO (0: it runs none), when it was
   * last woken for work, and the pool's running estimates (nanoseconds) of
   * how long one IO takes and how long a wake-up takes to get a worker
   * running; see should_wake_locked(). */
  uint64_t busy_since[TP_MAX_WORKERS];
  uint64_t woken_at[TP_MAX_WORKERS];
  uint64_t service_ns;
  uint64_t wake_ns;
  int stopping;
  int paused;
  uint32_t environments;
  tp_context *live;
  uint32_t contexts;
  uint64_t executed;
  uint64_t wakeups;
  uint64_t started_count;
  int fork_handlers;
};

/* Pool lock, all of it. */
pool_state pool;

void fifo_push(tp_request *req) {
  req->prev = pool.tail;
  req->next = NULL;
  if (pool.tail != NULL) pool.tail->next = req;
  else pool.head = req;
  pool.tail = req;
  req->queued = 1;
  if (++pool.queued > pool.queued_peak) pool.queued_peak = pool.queued;
}

void fifo_unlink(tp_request *req) {
  if (req->prev != NULL) req->prev->next = req->next;
  else pool.head = req->next;
  if (req->next != NULL) req->next->prev = req->prev;
  else pool.tail = req->prev;
  req->prev = req->next = NULL;
  req->queued = 0;
  pool.queued--;
}

/* A monotonic clock in nanoseconds (vDSO on Linux: no system call). */
uint64_t now_ns(void) {
#ifdef _WIN32
  /* A function-local static is initialised once, thread-safely. */
  static const double ns_per_tick = [] {
    LARGE_INTEGER frequency;
    QueryPerformanceFrequency(&frequency);
    return 1e9 / (double)frequency.QuadPart;
  }();
  LARGE_INTEGER counter;
  QueryPerformanceCounter(&counter);
  return (uint64_t)((double)counter.QuadPart * ns_per_tick);
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* Moves an estimate an eighth of the way towards a new sample. */
void update_estimate(uint64_t *estimate, uint64_t sample) {
  *estimate = *estimate - *estimate / 8 + sample / 8;
}

/*
 * Whether one more worker should be woken for the queued requests that no
 * woken worker is on its way to take yet (the backlog).  Waking costs a
 * system call for the waker and a context switch, and takes `wake_ns`
 * before the worker runs; the workers already active drain the backlog in
 * about backlog x service_ns / active.  Wake only when that is longer than
 * a wake-up: for IO that waits on a device (direct IO, a cold cache) every
 * idle worker gets work at once, while for page-cache copies of a few
 * microseconds two or three workers take everything and the rest sleep,
 * instead of every worker waking, running one copy and sleeping again.
 * A worker whose IO has run far longer than usual is not counted as
 * active: a stuck IO must not leave the queue behind it unattended.
 * (Measured on 2 cores: with 16 workers, waking on every submit costs
 * 40-50% more CPU per page-cache read than this rule; see README.md.)
 */
bool should_wake_locked(uint64_t now) {
  uint32_t backlog = pool.queued - pool.waking;
  uint64_t stuck_after = 4 * pool.service_ns + pool.wake_ns;
  uint32_t active = pool.waking;
  for (uint32_t i = 0; i < pool.started; i++) {
    if (pool.busy_since[i] != 0 && now - pool.busy_since[i] < stuck_after) active++;
  }
  /* A backlog is never left to a single worker: a worker can be preempted
   * for milliseconds on a busy machine, and nothing else would notice. */
  if (active < 2 && backlog > active) return true;
  return (uint64_t)backlog * pool.service_ns > (uint64_t)active * pool.wake_ns;
}

/* Wakes up to `limit` idle workers for the backlog, as should_wake_locked() allows. */
void wake_idle_locked(uint32_t limit) {
  if (limit == 0 || pool.idle_mask == 0 || pool.waking >= pool.queued) return;
  uint64_t now = now_ns();
  while (limit > 0 && pool.idle_mask != 0 && pool.waking < pool.queued && should_wake_locked(now)) {
    uint32_t i = (uint32_t)__builtin_ctz(pool.idle_mask);
    pool.idle_mask &= ~(1u << i);
    pool.waking++;
    pool.wakeups++;
    pool.woken_at[i] = now;
    aio_cond_signal(&worker_cond[i]);
    limit--;
  }
}

/* Wakes every started worker so that it re-reads the pool's settings. */
void wake_all_locked(void) {
  for (uint32_t i = 0; i < pool.started; i++) aio_cond_signal(&worker_cond[i]);
}

/*
 * Worker `self` waits until it may take a request, and pops it.  Returns
 * NULL when the pool stops.  Workers numbered at or above the target size
 * park here (PostgreSQL stops surplus workers; parking is the same for the
 * queue and lets the pool grow again without creating threads).
 */
tp_request *wait_for_request(uint32_t self) {
  const uint32_t bit = 1u << self;
  for (;;) {
    if (pool.stopping) return NULL;
    int eligible = self < pool.workers_target && !pool.paused;
    if (eligible && pool.head != NULL) break;
    /* Only an eligible sleeper advertises itself; a parked or paused one
     * clears its bit, so nobody can count on it to take work. */
    if (eligible) {
      pool.idle_mask |= bit;
    } else {
      pool.idle_mask &= ~bit;
      /* Woken for work it may no longer take (the pool shrank): pass the wake on. */
      if (!pool.paused && pool.head != NULL) wake_idle_locked(1);
    }
    aio_cond_wait(&worker_cond[self], &pool_lock);
    /* Only wake_idle_locked() clears another worker's bit, and it counts
     * the wake in `waking`; a spurious or broadcast wake leaves the bit. */
    if (eligible && (pool.idle_mask & bit) == 0) {
      pool.waking--;
      update_estimate(&pool.wake_ns, now_ns() - pool.woken_at[self]);
    }
  }
  pool.idle_mask &= ~bit; /* found work without being woken for it */
  tp_request *req = pool.head;
  fifo_unlink(req);
  pool.busy_since[self] = now_ns();
  /* Fan out (PostgreSQL's IO_WORKER_WAKEUP_FANOUT): the submitter woke one
   * worker; each worker that takes a request may wake up to two more. */
  wake_idle_locked(2);
  return req;
}

/* Pool lock held: hands a finished request's result to its context. */
void complete_locked(tp_request *req, int32_t result) {
  tp_context *ctx = req->ctx;
  int32_t index = req->io.index;
  uint32_t generation = req->io.generation;
  req->busy = 0;
  /* Under the pool lock, so that a closer that took the lock after this
   * point knows this thread no longer touches the queue or its wake-up. */
  aio_cq_push(ctx->cq, index, generation, result);
  if (--ctx->pending == 0 && ctx->draining) aio_cond_broadcast(&pool_changed);
}

void worker_main(void *arg) {
  const uint32_t self = (uint32_t)(uintptr_t)arg;
  aio_mutex_lock(&pool_lock);
  for (;;) {
    tp_request *req = wait_for_request(self);
    if (req == NULL) break;
    aio_mutex_unlock(&pool_lock);
    int32_t result = tp_execute(&req->io);
    aio_io_release(&req->io);
    uint64_t finished = now_ns();
    aio_mutex_lock(&pool_lock);
    update_estimate(&pool.service_ns, finished - pool.busy_since[self]);
    pool.busy_since[self] = 0;
    pool.executed++;
    complete_locked(req, result);
  }
  aio_mutex_unlock(&pool_lock);
}

/*
 * Creates threads until `workers_target` exist.  Returns the number of
 * threads that exist; a failure to create one is not fatal as long as at
 * least one runs (the pool is then smaller than asked).
 */
uint32_t start_workers_locked(void) {
  /* Until IO has been measured, assume it waits on a device (wake eagerly)
   * and that a wake-up takes a few tens of microseconds. */
  if (pool.service_ns == 0) pool.service_ns = 100000;
  if (pool.wake_ns == 0) pool.wake_ns = 20000;
  while (pool.started < pool.workers_target) {
    uint32_t i = pool.started;
    pool.busy_since[i] = 0;
    aio_cond_init(&worker_cond[i]);
    if (aio_thread_create(&pool.threads[i], worker_main, (void *)(uintptr_t)i) != 0) {
      aio_cond_destroy(&worker_cond[i]);
      break;
    }
    if (pool.started++ == 0) pool.started_count++;
  }
  return pool.started;
}

/* Pool lock held: waits out a stop in progress, then makes sure workers run. */
int ensure_started_locked(void) {
  while (pool.stopping) aio_cond_wait(&pool_changed, &pool_lock);
  if (pool.started >= pool.workers_target) return 1;
  return start_workers_locked() > 0;
}

/*
 * Joins the `count` workers that were told to stop, then marks the pool
 * stopped.  The pool lock must not be held.  Used by the last environment.
 */
void join_workers(uint32_t count) {
  for (uint32_t i = 0; i < count; i++) aio_thread_join(pool.threads[i]);
  aio_mutex_lock(&pool_lock);
  for (uint32_t i = 0; i < count; i++) aio_cond_destroy(&worker_cond[i]);
  pool.started = 0;
  pool.idle_mask = 0;
  pool.waking = 0;
  pool.stopping = 0;
  aio_cond_broadcast(&pool_changed);
  aio_mutex_unlock(&pool_lock);
}

/* A setting applies if it is explicit, or if no explicit value was ever given. */
void apply_setting(uint32_t *value, int *is_explicit, uint32_t wanted, uint32_t max, int only_if_unset) {
  if (wanted == 0) return;
  if (only_if_unset && *is_explicit) return;
  *value = wanted > max ? max : wanted;
  if (!only_if_unset) *is_explicit = 1;
}

#ifndef _WIN32
/*
 * fork(): only the forking thread exists in the child, so the workers are
 * gone and the pool lock may be held by one of them.  The prepare handler
 * takes the lock, so the child inherits a consistent pool; the child handler
 * resets it to "not started" (the next submit starts fresh workers) and
 * forgets the requests that were queued or running: they belong to the
 * parent, which still runs them; in the child they never complete.  A
 * completion-queue lock cannot be inherited held: workers take one only
 * while holding the pool lock (see complete_locked).
 */
void fork_prepare(void) { aio_mutex_lock(&pool_lock); }

void fork_parent(void) { aio_mutex_unlock(&pool_lock); }

void fork_child(void) {
  pthread_mutex_init(&pool_lock, NULL);
  pthread_cond_init(&pool_changed, NULL);
  pool.head = pool.tail = NULL;
  pool.queued = 0;
  pool.started = 0;
  pool.idle_mask = 0;
  pool.waking = 0;
  pool.stopping = 0;
  /* No worker runs an IO here: none may count as active (should_wake_locked). */
  memset(pool.busy_since, 0, sizeof pool.busy_since);
  for (tp_context *ctx = pool.live; ctx != NULL; ctx = ctx->next_live) {
    ctx->pending = 0;
    ctx->draining = 0;
    for (uint32_t i = 0; i < ctx->capacity; i++) {
      ctx->requests[i].busy = 0;
      ctx->requests[i].queued = 0;
    }
  }
}
#endif

void probe_thread(void *arg) { (void)arg; }

}  // namespace

void tp_pool_attach_env(void) {
  aio_mutex_lock(&pool_lock);
  pool.environments++;
#ifndef _WIN32
  if (!pool.fork_handlers) {
    /* glibc unregisters these when the addon is unloaded (dlclose). */
    pool.fork_handlers = pthread_atfork(fork_prepare, fork_parent, fork_child) == 0;
  }
#endif
  aio_mutex_unlock(&pool_lock);
}

void tp_pool_detach_env(void) {
  aio_mutex_lock(&pool_lock);
  uint32_t count = 0;
  /* Deciding to stop and raising `stopping` under one hold of the lock means
   * an environment that attaches meanwhile waits for the stop to finish
   * (ensure_started_locked) and then starts fresh workers. */
  if (--pool.environments == 0 && pool.started > 0) {
    count = pool.started;
    pool.stopping = 1;
    wake_all_locked();
  }
  aio_mutex_unlock(&pool_lock);
  if (count > 0) join_workers(count);
}

void tp_pool_configure(uint32_t workers, uint32_t queue_size, int only_if_unset) {
  aio_mutex_lock(&pool_lock);
  uint32_t before = pool.workers_target;
  apply_setting(&pool.workers_target, &pool.workers_explicit, workers, TP_MAX_WORKERS, only_if_unset);
  apply_setting(&pool.queue_size, &pool.queue_explicit, queue_size, TP_MAX_QUEUE_SIZE, only_if_unset);
  if (pool.workers_target == 0) pool.workers_target = 1;
  if (pool.queue_size == 0) pool.queue_size = TP_DEFAULT_QUEUE_SIZE;
  /* A running pool follows a new size at once: grow now, or let surplus workers park. */
  if (pool.workers_target != before && pool.started > 0 && !pool.stopping) {
    start_workers_locked();
    wake_all_locked();
  }
  aio_mutex_unlock(&pool_lock);
}

void tp_pool_register(tp_context *ctx) {
  aio_mutex_lock(&pool_lock);
  ctx->prev_live = NULL;
  ctx->next_live = pool.live;
  if (pool.live != NULL) pool.live->prev_live = ctx;
  pool.live = ctx;
  pool.contexts++;
  aio_mutex_unlock(&pool_lock);
}

void tp_pool_unregister(tp_context *ctx) {
  aio_mutex_lock(&pool_lock);
  ctx->draining = 1;
  while (ctx->pending > 0) aio_cond_wait(&pool_changed, &pool_lock);
  ctx->draining = 0;
  if (ctx->prev_live != NULL) ctx->prev_live->next_live = ctx->next_live;
  else pool.live = ctx->next_live;
  if (ctx->next_live != NULL) ctx->next_live->prev_live = ctx->prev_live;
  ctx->next_live = ctx->prev_live = NULL;
  pool.contexts--;
  aio_mutex_unlock(&pool_lock);
}

void tp_pool_submit(tp_context *ctx, aio_io *ios, uint32_t n, uint8_t *outcome) {
  aio_mutex_lock(&pool_lock);
  int running = ensure_started_locked();
  for (uint32_t i = 0; i < n; i++) {
    if (outcome[i] != TP_OUTCOME_PENDING) continue;
    tp_request *req = &ctx->requests[ios[i].index];
    if (req->busy) {
      outcome[i] = TP_OUTCOME_BUSY;
    } else if (!running || pool.queued >= pool.queue_size) {
      outcome[i] = TP_OUTCOME_FULL;
    } else {
      aio_io_move(&req->io, &ios[i]); /* the slot owns an allocated buffer list now */
      req->busy = 1;
      ctx->pending++;
      fifo_push(req);
      outcome[i] = TP_OUTCOME_QUEUED;
    }
  }
  wake_idle_locked(1);
  aio_mutex_unlock(&pool_lock);
}

int tp_pool_cancel(tp_request *req, uint32_t generation) {
  aio_mutex_lock(&pool_lock);
  int removed = req->busy && req->queued && req->io.generation == generation;
  if (removed) {
    fifo_unlink(req);
    aio_io_release(&req->io);
    complete_locked(req, tp_canceled_result());
  }
  aio_mutex_unlock(&pool_lock);
  return removed;
}

int tp_pool_busy(tp_request *req, uint32_t generation) {
  aio_mutex_lock(&pool_lock);
  int busy = req->busy && req->io.generation == generation;
  aio_mutex_unlock(&pool_lock);
  return busy;
}

void tp_pool_set_paused(int paused) {
  aio_mutex_lock(&pool_lock);
  pool.paused = paused;
  if (!paused) wake_all_locked(); /* each worker re-checks the queue */
  aio_mutex_unlock(&pool_lock);
}

void tp_pool_get_info(tp_pool_info *info) {
  aio_mutex_lock(&pool_lock);
  info->workers_target = pool.workers_target;
  info->workers_started = pool.started;
  info->queue_size = pool.queue_size;
  info->queued = pool.queued;
  info->queued_peak = pool.queued_peak;
  info->contexts = pool.contexts;
  info->environments = pool.environments;
  info->executed = pool.executed;
  info->wakeups = pool.wakeups;
  info->service_ns = pool.service_ns;
  info->wake_ns = pool.wake_ns;
  info->started_count = pool.started_count;
  aio_mutex_unlock(&pool_lock);
}

int tp_pool_probe(void) {
  aio_thread thread;
  int rc = aio_thread_create(&thread, probe_thread, NULL);
  if (rc == 0) aio_thread_join(thread);
  return rc;
}

#ifndef _WIN32
/* Reads, writes and syncs are the kit's; stat, truncate and allocate are file_ops.c's. */
int32_t tp_execute(const aio_io *io) { return aio_file_op_is(io->op) ? aio_file_op_execute(io) : aio_io_execute(io); }

int32_t tp_canceled_result(void) { return -ECANCELED; }

int32_t tp_invalid_result(void) { return -EINVAL; }
#endif
