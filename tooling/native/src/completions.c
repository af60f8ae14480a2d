/*
 * completions.c: the batch hand-off from completing threads to the JS
 * thread.  See aio/completions.h for the contract.
 */
#include "aio/completions.h"

#include <stdlib.h>
#include <string.h>

/* Runs on the JS thread when the thread-safe function is called. */
static void cq_call_js(napi_env env, napi_value on_complete, void *context, void *data) {
  (void)data;
  if (env == NULL) return; /* the environment is shutting down */
  aio_completion_queue *q = (aio_completion_queue *)context;
  if (q->owner.deliver != NULL) {
    uint32_t count = aio_cq_drain(q);
    if (count > 0) q->owner.deliver(q->owner.data, count);
    return;
  }
  if (on_complete == NULL) return;
  uint32_t count = aio_cq_drain(q);
  if (count == 0) return; /* a blocking wait drained them first */
  napi_value argv[1], global, ignored;
  napi_create_uint32(env, count, &argv[0]);
  napi_get_global(env, &global);
  napi_call_function(env, global, on_complete, 1, argv, &ignored);
}

/* Both initialisers: `on_complete` NULL means `owner` delivers (see aio_cq_owner). */
static napi_status cq_init(aio_completion_queue *q, napi_env env, uint32_t capacity, int32_t *table, napi_value on_complete,
                           const aio_cq_owner *owner, const char *name) {
  memset(q, 0, sizeof *q);
  if (owner != NULL) q->owner = *owner;
  q->items = (aio_completion *)calloc(capacity, sizeof(aio_completion));
  if (q->items == NULL) {
    napi_throw_error(env, "ENOMEM", "cannot allocate the completion queue");
    return napi_generic_failure;
  }
  q->capacity = capacity;
  q->env = env;
  q->table = table;
  aio_mutex_init(&q->lock);
  aio_cond_init(&q->pushed);
  napi_value resource_name;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  napi_status status = napi_create_threadsafe_function(env, on_complete, NULL, resource_name, 0, 1, NULL, NULL, q, cq_call_js, &q->wake);
  if (status != napi_ok) {
    free(q->items);
    q->items = NULL;
    napi_throw_error(env, "AIO_ERR_NATIVE", "cannot create the completion wake-up");
    return status;
  }
  /* Idle: the queue must not keep the event loop alive. */
  napi_unref_threadsafe_function(env, q->wake);
  return napi_ok;
}

napi_status aio_cq_init(aio_completion_queue *q, napi_env env, uint32_t capacity, int32_t *table, napi_value on_complete, const char *name) {
  return cq_init(q, env, capacity, table, on_complete, NULL, name);
}

napi_status aio_cq_init_owned(aio_completion_queue *q, napi_env env, uint32_t capacity, int32_t *table, const aio_cq_owner *owner, const char *name) {
  return cq_init(q, env, capacity, table, NULL, owner, name);
}

void aio_cq_accepted(aio_completion_queue *q, uint32_t n) {
  q->inflight += n;
  if (q->inflight > 0 && !q->referenced) {
    napi_ref_threadsafe_function(q->env, q->wake);
    q->referenced = 1;
    if (q->owner.busy != NULL) q->owner.busy(q->owner.data, 1);
  }
}

void aio_cq_push(aio_completion_queue *q, int32_t index, uint32_t generation, int32_t result) {
  aio_mutex_lock(&q->lock);
  /* count < capacity holds: no more IOs than handles are ever in flight. */
  aio_completion *c = &q->items[q->count++];
  c->index = index;
  c->generation = generation;
  c->result = result;
  /* The wake-up is requested under the lock: aio_cq_destroy() takes the lock
   * before releasing the thread-safe function, so a push that a waiter has
   * already seen (through `pushed`) can no longer touch a released one. */
  if (!q->wake_pending) {
    q->wake_pending = 1;
    napi_call_threadsafe_function(q->wake, NULL, napi_tsfn_nonblocking);
  }
  aio_cond_broadcast(&q->pushed);
  aio_mutex_unlock(&q->lock);
}

uint32_t aio_cq_drain(aio_completion_queue *q) {
  aio_mutex_lock(&q->lock);
  uint32_t count = q->count;
  for (uint32_t i = 0; i < count; i++) {
    q->table[3 * i] = q->items[i].index;
    q->table[3 * i + 1] = (int32_t)q->items[i].generation;
    q->table[3 * i + 2] = q->items[i].result;
  }
  q->count = 0;
  q->wake_pending = 0;
  aio_mutex_unlock(&q->lock);
  q->inflight -= count;
  if (q->inflight == 0 && q->referenced) {
    napi_unref_threadsafe_function(q->env, q->wake);
    q->referenced = 0;
    if (q->owner.busy != NULL) q->owner.busy(q->owner.data, 0);
  }
  return count;
}

static int cq_contains(const aio_completion_queue *q, int32_t index, uint32_t generation) {
  for (uint32_t i = 0; i < q->count; i++) {
    if (q->items[i].index == index && q->items[i].generation == generation) return 1;
  }
  return 0;
}

int aio_cq_contains(aio_completion_queue *q, int32_t index, uint32_t generation) {
  aio_mutex_lock(&q->lock);
  int found = cq_contains(q, index, generation);
  aio_mutex_unlock(&q->lock);
  return found;
}

uint32_t aio_cq_wait(aio_completion_queue *q, int32_t index, uint32_t generation) {
  aio_mutex_lock(&q->lock);
  while (!cq_contains(q, index, generation)) aio_cond_wait(&q->pushed, &q->lock);
  aio_mutex_unlock(&q->lock);
  return aio_cq_drain(q);
}

void aio_cq_wait_all(aio_completion_queue *q) {
  aio_mutex_lock(&q->lock);
  while (q->count < q->inflight) aio_cond_wait(&q->pushed, &q->lock);
  aio_mutex_unlock(&q->lock);
}

void aio_cq_destroy(aio_completion_queue *q) {
  if (q->items == NULL) return;
  /* Wait out a push that is still inside the lock (see aio_cq_push). */
  aio_mutex_lock(&q->lock);
  aio_mutex_unlock(&q->lock);
  napi_release_threadsafe_function(q->wake, napi_tsfn_abort);
  aio_cond_destroy(&q->pushed);
  aio_mutex_destroy(&q->lock);
  free(q->items);
  q->items = NULL;
}
