/*
 * requests.c: the bounded in-flight table, completion dispatch and error
 * mapping of the kqueue method.  Portable C; see requests.h.
 *
 * Invariants:
 * - a slot is busy from aio_rq_reserve until its request is reaped (or it is
 *   abandoned or refused); while busy, its aio_io (and the iovec array the
 *   provider may have handed to the kernel) stays where it is;
 * - slot_of_handle[i] is the slot of handle i exactly while that handle's IO
 *   is in flight, so a wait or cancel by (index, generation) never touches
 *   another IO;
 * - `inflight` counts the requests the provider accepted and has not yet
 *   reported; it never exceeds `capacity`, which never exceeds the number of
 *   handles, so one reap always fits in the JS completion table.
 */
#include "requests.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int aio_rq_init(aio_rq_table *t, uint32_t capacity, uint32_t handles, aio_rq_provider provider) {
  memset(t, 0, sizeof *t);
  if (capacity == 0 || capacity > handles) return -EINVAL;
  t->slots = (aio_rq_slot *)calloc(capacity, sizeof(aio_rq_slot));
  t->slot_of_handle = (int32_t *)malloc(sizeof(int32_t) * handles);
  if (t->slots == NULL || t->slot_of_handle == NULL) {
    free(t->slots);
    free(t->slot_of_handle);
    memset(t, 0, sizeof *t);
    return -ENOMEM;
  }
  t->capacity = capacity;
  t->handles = handles;
  for (uint32_t i = 0; i < handles; i++) t->slot_of_handle[i] = -1;
  /* The free list hands out low slots first, which keeps the provider's per-slot state compact. */
  for (uint32_t i = 0; i < capacity; i++) t->slots[i].next_free = i + 1 < capacity ? (int32_t)(i + 1) : -1;
  t->free_head = 0;
  t->provider = provider;
  return 0;
}

void aio_rq_destroy(aio_rq_table *t) {
  if (t->slots == NULL) return;
  if (t->provider.ops != NULL) t->provider.ops->destroy(t->provider.self);
  for (uint32_t i = 0; i < t->capacity; i++) aio_io_release(&t->slots[i].io);
  free(t->slots);
  free(t->slot_of_handle);
  memset(t, 0, sizeof *t);
}

aio_io *aio_rq_reserve(aio_rq_table *t, uint32_t *slot) {
  if (t->free_head < 0) return NULL;
  aio_rq_slot *s = &t->slots[t->free_head];
  *slot = (uint32_t)t->free_head;
  t->free_head = s->next_free;
  s->busy = 1;
  s->next_free = -1;
  return &s->io;
}

/* Returns a slot to the free list and frees what decoding allocated. */
static void release_slot(aio_rq_table *t, uint32_t slot) {
  aio_rq_slot *s = &t->slots[slot];
  aio_io_release(&s->io);
  s->busy = 0;
  s->next_free = t->free_head;
  t->free_head = (int32_t)slot;
}

void aio_rq_abandon(aio_rq_table *t, uint32_t slot) {
  release_slot(t, slot);
}

int aio_rq_classify_refusal(int neg_errno, int op) {
  if (neg_errno == -EAGAIN) return AIO_RQ_REFUSED_EAGAIN;
  if (neg_errno == -EOPNOTSUPP || neg_errno == -ENOSYS) return AIO_RQ_REFUSED_UNSUPPORTED;
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
  if (neg_errno == -ENOTSUP) return AIO_RQ_REFUSED_UNSUPPORTED;
#endif
  /*
   * aio_readv/aio_writev (FreeBSD 13) and aio_fsync(O_DSYNC) are newer than
   * the rest of the API: an older kernel says EINVAL for them, which is a
   * missing feature rather than a bad request.
   */
  if (neg_errno == -EINVAL && (op == AIO_OP_READV || op == AIO_OP_WRITEV || op == AIO_OP_FDATASYNC)) {
    return AIO_RQ_REFUSED_UNSUPPORTED;
  }
  return AIO_RQ_REFUSED_ERROR;
}

int aio_rq_disposition_for_refusal(int refusal) {
  return refusal == AIO_RQ_REFUSED_EAGAIN ? AIO_DISPOSITION_EAGAIN : AIO_DISPOSITION_UNSUPPORTED;
}

static void count_refusal(aio_rq_table *t, int refusal) {
  if (refusal == AIO_RQ_REFUSED_EAGAIN) t->stats.fallback_eagain++;
  else if (refusal == AIO_RQ_REFUSED_UNSUPPORTED) t->stats.fallback_unsupported++;
  else t->stats.submit_errors++;
}

int aio_rq_start(aio_rq_table *t, uint32_t slot) {
  aio_io *io = &t->slots[slot].io;
  int rc = t->provider.ops->submit(t->provider.self, slot, io);
  if (rc != 0) {
    int refusal = aio_rq_classify_refusal(rc, io->op);
    count_refusal(t, refusal);
    release_slot(t, slot);
    return aio_rq_disposition_for_refusal(refusal);
  }
  t->slot_of_handle[io->index] = (int32_t)slot;
  t->inflight++;
  t->stats.accepted++;
  if (t->inflight > t->stats.max_inflight) t->stats.max_inflight = t->inflight;
  return AIO_DISPOSITION_ACCEPTED;
}

int32_t aio_rq_raw_result(int64_t ret, int err) {
  if (err > 0) return -err;
  /* aio_return said -1 without an error: never meant to happen, so never report success. */
  if (ret < 0) return -EIO;
  /* One IO moves at most 0x7ffff000 bytes (the core's limit), so this clamp never bites. */
  return ret > INT32_MAX ? INT32_MAX : (int32_t)ret;
}

/* Moves one reaped request into the JS completion table at `at`. */
static void deliver(aio_rq_table *t, const aio_rq_reaped *r, int32_t *table, uint32_t at) {
  aio_rq_slot *s = &t->slots[r->slot];
  table[3 * at] = s->io.index;
  table[3 * at + 1] = (int32_t)s->io.generation;
  table[3 * at + 2] = aio_rq_raw_result(r->ret, r->err);
  t->slot_of_handle[s->io.index] = -1;
  t->inflight--;
  t->stats.completed++;
  release_slot(t, r->slot);
}

/* A reaped slot the table does not consider in flight would be a provider bug; it is dropped. */
static int reaped_slot_valid(const aio_rq_table *t, const aio_rq_reaped *r) {
  return r->slot < t->capacity && t->slots[r->slot].busy && t->slot_of_handle[t->slots[r->slot].io.index] == (int32_t)r->slot;
}

/*
 * One provider reap into the table from position `at`; returns the number
 * written, or -1 if the provider failed (then blocking callers must stop:
 * waiting again would fail again, or block forever).
 */
static int reap_once(aio_rq_table *t, int32_t *table, uint32_t at, uint32_t max, int block) {
  aio_rq_reaped batch[AIO_RQ_REAP_BATCH];
  uint32_t room = max - at < AIO_RQ_REAP_BATCH ? max - at : AIO_RQ_REAP_BATCH;
  if (room == 0 || t->inflight == 0) return 0;
  int n = t->provider.ops->reap(t->provider.self, batch, room, block);
  if (n < 0) {
    t->stats.reap_errors++;
    return -1;
  }
  uint32_t written = 0;
  for (int i = 0; i < n; i++) {
    if (!reaped_slot_valid(t, &batch[i])) continue;
    deliver(t, &batch[i], table, at + written);
    written++;
  }
  if (written > 0) t->stats.reap_calls++;
  if (written > t->stats.max_batch) t->stats.max_batch = written;
  return (int)written;
}

/* Collects without waiting from position `count`; returns the new count. */
static uint32_t reap_ready(aio_rq_table *t, int32_t *table, uint32_t count, uint32_t max) {
  for (;;) {
    int got = reap_once(t, table, count, max, 0);
    if (got <= 0) return count;
    count += (uint32_t)got;
  }
}

uint32_t aio_rq_reap(aio_rq_table *t, int32_t *table, uint32_t max, int block) {
  int got = 0;
  /* A blocking reap waits for the first request only; the rest is collected without waiting. */
  while (block && got == 0 && t->inflight > 0) got = reap_once(t, table, 0, max, 1);
  return reap_ready(t, table, got > 0 ? (uint32_t)got : 0, max);
}

int32_t aio_rq_find(const aio_rq_table *t, int32_t index, uint32_t generation) {
  if (index < 0 || (uint32_t)index >= t->handles) return -1;
  int32_t slot = t->slot_of_handle[index];
  if (slot < 0 || t->slots[slot].io.generation != generation) return -1;
  return slot;
}

uint32_t aio_rq_wait(aio_rq_table *t, int32_t index, uint32_t generation, int32_t *table, uint32_t max) {
  uint32_t count = reap_ready(t, table, 0, max);
  while (aio_rq_find(t, index, generation) >= 0) {
    int got = reap_once(t, table, count, max, 1);
    if (got < 0) break;
    count += (uint32_t)got;
  }
  return count;
}

int aio_rq_cancel_outcome(int answer) {
  switch (answer) {
    case AIO_RQ_CANCEL_CANCELED:
      return 0;
    case AIO_RQ_CANCEL_NOTCANCELED:
    case AIO_RQ_CANCEL_ALLDONE:
    case AIO_RQ_CANCEL_ERROR:
      /* In every one of these the request still completes through the queue, with its real result. */
      return 1;
    default:
      return 2;
  }
}

int aio_rq_cancel(aio_rq_table *t, int32_t index, uint32_t generation) {
  int32_t slot = aio_rq_find(t, index, generation);
  /* Not in flight: it was reaped already (or never accepted), so it completes with its real result. */
  if (slot < 0) return 1;
  if (t->provider.ops->cancel == NULL) return 2;
  t->stats.cancel_requests++;
  return aio_rq_cancel_outcome(t->provider.ops->cancel(t->provider.self, (uint32_t)slot, &t->slots[slot].io));
}

int aio_rq_drain_all(aio_rq_table *t) {
  aio_rq_reaped batch[AIO_RQ_REAP_BATCH];
  while (t->inflight > 0) {
    int n = t->provider.ops->reap(t->provider.self, batch, AIO_RQ_REAP_BATCH, 1);
    if (n < 0) {
      t->stats.reap_errors++;
      return n;
    }
    for (int i = 0; i < n; i++) {
      if (!reaped_slot_valid(t, &batch[i])) continue;
      aio_rq_slot *s = &t->slots[batch[i].slot];
      t->slot_of_handle[s->io.index] = -1;
      t->inflight--;
      release_slot(t, batch[i].slot);
    }
  }
  return 0;
}
