/*
 * aio/completions.h: handing completions from any thread to the JavaScript
 * thread in batches.
 *
 * Methods whose IO completes on other threads (the thread pool's workers,
 * glibc's aio threads, an IOCP reaper) push each completion here.  The first
 * push after a drain asks Node to run the queue's drain on the context's
 * event loop (one napi_threadsafe_function call, i.e. one uv_async wake-up,
 * per batch, never one per IO); the drain copies every queued completion into
 * the JavaScript completion table and calls the JS `onComplete(count)` once.
 *
 * The JS thread may also block for one IO (aio_cq_wait), which is how
 * `ref.waitSync()` and a blocking `acquire()` work on these methods.
 *
 * Liveness: the thread-safe function is referenced (keeps the event loop
 * alive) only while IO is in flight, so an idle context never keeps the
 * process running, and a process that awaits an IO does not exit under it.
 */
#ifndef AIO_COMPLETIONS_H
#define AIO_COMPLETIONS_H

#include <node_api.h>
#include <stdint.h>

#include "aio/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aio_completion {
  int32_t index;
  uint32_t generation;
  int32_t result;
} aio_completion;

/*
 * An owner that takes the delivery itself (the C++ kit's aio::Context, see
 * aio/kit.hh): the queue then holds no JavaScript function at all, so it
 * never keeps a context alive; `deliver` runs on the JS thread after a
 * drain filled `count` triples, and `busy` is told when the queue starts
 * and stops keeping the event loop alive (IO in flight or not), so the
 * owner can hold its JavaScript objects strongly exactly as long.
 */
typedef struct aio_cq_owner {
  void *data;
  void (*deliver)(void *data, uint32_t count);
  void (*busy)(void *data, int busy);
} aio_cq_owner;

typedef struct aio_completion_queue {
  aio_mutex lock;           /* guards items, count, wake_pending */
  aio_cond pushed;          /* broadcast on every push, for aio_cq_wait */
  aio_completion *items;    /* `capacity` slots: at most that many IOs are ever in flight */
  uint32_t capacity;
  uint32_t count;           /* queued, not yet drained */
  int wake_pending;         /* a drain is scheduled on the JS thread */
  napi_threadsafe_function wake;
  /* The fields below are touched on the JS thread only. */
  napi_env env;
  int32_t *table;           /* the JS completion table: capacity triples */
  uint32_t inflight;        /* accepted and not yet drained */
  int referenced;           /* whether `wake` currently keeps the loop alive */
  aio_cq_owner owner;       /* all NULL with aio_cq_init: `on_complete` is called instead */
} aio_completion_queue;

/*
 * Sets up the queue on the JS thread.  `table` is the Int32Array data of the
 * completion table; `on_complete` the JS function called with the count.
 * Returns napi_ok or throws.
 */
napi_status aio_cq_init(aio_completion_queue *q, napi_env env, uint32_t capacity, int32_t *table, napi_value on_complete, const char *name);

/*
 * Like aio_cq_init, for an owner that delivers completions itself (see
 * aio_cq_owner): the thread-safe function is created without a JavaScript
 * function.  Returns napi_ok or throws.
 */
napi_status aio_cq_init_owned(aio_completion_queue *q, napi_env env, uint32_t capacity, int32_t *table, const aio_cq_owner *owner, const char *name);

/* JS thread: `n` more IOs were accepted by the method. */
void aio_cq_accepted(aio_completion_queue *q, uint32_t n);

/* Any thread: one IO completed with `result` (bytes or -errno). */
void aio_cq_push(aio_completion_queue *q, int32_t index, uint32_t generation, int32_t result);

/* JS thread: moves queued completions into the table; returns how many. */
uint32_t aio_cq_drain(aio_completion_queue *q);

/* Any thread: whether IO (index, generation) is queued and not yet drained. */
int aio_cq_contains(aio_completion_queue *q, int32_t index, uint32_t generation);

/*
 * JS thread: blocks until IO (index, generation) is queued, then drains.
 * The IO must be in flight (accepted and not yet drained): waiting for one
 * that will never be pushed blocks forever.  Check with aio_cq_contains or
 * the method's own table first when in doubt.
 */
uint32_t aio_cq_wait(aio_completion_queue *q, int32_t index, uint32_t generation);

/*
 * JS thread, at teardown: blocks until every accepted IO has been pushed
 * (they are not delivered to JavaScript: the environment is going away, but
 * their buffers are still alive while cleanup hooks run).
 */
void aio_cq_wait_all(aio_completion_queue *q);

/*
 * JS thread: releases the thread-safe function and frees the slots.  No IO
 * may be in flight, and no thread may push afterwards.
 */
void aio_cq_destroy(aio_completion_queue *q);

#ifdef __cplusplus
}
#endif

#endif /* AIO_COMPLETIONS_H */
