/*
 * requests.h: the portable half of the kqueue method.
 *
 * The kqueue method keeps a bounded table of requests in flight and hands
 * each one to a *provider*: the mechanism that really runs it.  On FreeBSD
 * the provider is kqueue.c (aio_read/aio_write/aio_fsync with SIGEV_KEVENT,
 * reaped with kevent and aio_return).  On Linux, where no kernel has
 * EVFILT_AIO, the tests plug in a fake provider (test/emulated) so that the
 * table, the completion dispatch and the error mapping below run for real
 * and are tested there.
 *
 * Nothing in this file calls Node-API or a platform API: it is plain C over
 * the kit's aio_io struct, and everything runs on the context's JS thread.
 */
#ifndef AIO_KQ_REQUESTS_H
#define AIO_KQ_REQUESTS_H

#include <stdint.h>

#include "aio/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most events one reap asks the provider for. */
#define AIO_RQ_REAP_BATCH 64

/* One finished request, as the provider reports it: what aio_return and aio_error said. */
typedef struct aio_rq_reaped {
  uint32_t slot; /* the table slot the request was submitted from */
  int64_t ret;   /* aio_return(): bytes transferred, or -1 */
  int err;       /* aio_error(): 0 on success, else the errno of the failed request */
} aio_rq_reaped;

/* What a provider answers to a cancellation request, whatever its OS calls it. */
enum aio_rq_cancel_answer {
  AIO_RQ_CANCEL_CANCELED = 0,    /* the request will complete with ECANCELED */
  AIO_RQ_CANCEL_NOTCANCELED = 1, /* it is being executed: it completes normally */
  AIO_RQ_CANCEL_ALLDONE = 2,     /* it already finished: its completion is queued */
  AIO_RQ_CANCEL_ERROR = 3        /* the cancel call itself failed (EBADF...) */
};

/*
 * The provider interface.  Every function runs on the context's JS thread.
 * `self` is the provider's own state.
 */
typedef struct aio_rq_provider_ops {
  /*
   * Starts the IO of `slot`.  `io` lives in the table until the request is
   * reaped, so its iovecs may be handed to the kernel as they are.  Returns
   * 0 once the request is in flight, or -errno if it was refused at once (no
   * completion will follow).
   */
  int (*submit)(void *self, uint32_t slot, aio_io *io);
  /*
   * Fills at most `max` finished requests into `out`.  With `block` set,
   * waits until at least one has finished.  Returns the count (0 if none is
   * ready, or if a blocking wait was interrupted), or -errno.  A request is
   * reported exactly once; after that its slot may be reused.
   */
  int (*reap)(void *self, aio_rq_reaped *out, uint32_t max, int block);
  /* Asks the OS to cancel the request of `slot`; returns an aio_rq_cancel_answer. */
  int (*cancel)(void *self, uint32_t slot, const aio_io *io);
  /* A descriptor that polls readable while finished requests wait to be reaped. */
  int (*pollable_fd)(void *self);
  /* Frees the provider.  Nothing may be in flight. */
  void (*destroy)(void *self);
} aio_rq_provider_ops;

typedef struct aio_rq_provider {
  const aio_rq_provider_ops *ops;
  void *self;
} aio_rq_provider;

/* Counters shown in aio.stats().methodStats. */
typedef struct aio_rq_stats {
  uint64_t accepted;          /* requests the provider took */
  uint64_t completed;         /* requests reaped and handed to JavaScript */
  uint64_t fallback_full;     /* refused: the in-flight table was full */
  uint64_t fallback_eagain;   /* refused: the OS said EAGAIN */
  uint64_t fallback_unsupported; /* refused: EOPNOTSUPP, ENOSYS, an op the OS lacks */
  uint64_t submit_errors;     /* refused with another error; the core re-runs it synchronously */
  uint64_t reap_calls;        /* provider reaps that returned at least one request */
  uint64_t reap_errors;       /* provider reaps that failed */
  uint64_t max_batch;         /* the most requests one reap returned */
  uint64_t max_inflight;      /* the most requests in flight at once */
  uint64_t cancel_requests;   /* cancellations passed to the provider */
} aio_rq_stats;

/* A slot of the table: one request, from submission until it is reaped. */
typedef struct aio_rq_slot {
  aio_io io;          /* decoded on the JS thread; see aio/io.h for who keeps the buffers alive */
  int32_t next_free;  /* the free list, while free; -1 ends it */
  int32_t busy;       /* 1 from aio_rq_reserve until the request is reaped or abandoned */
} aio_rq_slot;

typedef struct aio_rq_table {
  aio_rq_slot *slots;       /* `capacity` slots */
  uint32_t capacity;        /* the most requests in flight at once */
  uint32_t inflight;        /* requests the provider holds */
  int32_t free_head;        /* the first free slot, or -1 */
  int32_t *slot_of_handle;  /* handle index -> its slot while in flight, else -1 */
  uint32_t handles;         /* the number of handles of the context */
  aio_rq_provider provider;
  aio_rq_stats stats;
} aio_rq_table;

/*
 * Sets up a table of `capacity` slots for a context of `handles` handles
 * (capacity <= handles).  The table owns `provider` from now on.  Returns 0
 * or -ENOMEM (then the provider is not destroyed: the caller still owns it).
 */
int aio_rq_init(aio_rq_table *t, uint32_t capacity, uint32_t handles, aio_rq_provider provider);

/* Frees the table and destroys the provider.  Nothing may be in flight (see aio_rq_drain_all). */
void aio_rq_destroy(aio_rq_table *t);

/* Takes a free slot to decode an IO into; NULL when the table is full. */
aio_io *aio_rq_reserve(aio_rq_table *t, uint32_t *slot);

/* Gives back a reserved slot whose IO could not be decoded. */
void aio_rq_abandon(aio_rq_table *t, uint32_t slot);

/*
 * Hands the decoded IO of a reserved slot to the provider.  Returns the
 * aio_disposition for the core: ACCEPTED, or why the core must run the IO
 * synchronously (then the slot is free again).
 */
int aio_rq_start(aio_rq_table *t, uint32_t slot);

/*
 * Collects finished requests into `table` (the JS completion table: triples
 * [handle index, generation, raw result], `max` triples long), blocking for
 * at least one if `block` is set and anything is in flight.  Returns how many
 * triples it wrote; their slots are free again.
 */
uint32_t aio_rq_reap(aio_rq_table *t, int32_t *table, uint32_t max, int block);

/*
 * Blocks until the IO of handle `index` with `generation` has been reaped,
 * writing every request reaped meanwhile into `table`.  Returns at once
 * (after a non-blocking reap) if that IO is not in flight.
 */
uint32_t aio_rq_wait(aio_rq_table *t, int32_t index, uint32_t generation, int32_t *table, uint32_t max);

/*
 * Asks the provider to cancel the IO of (index, generation).  Returns the
 * core's cancel outcome: 0 canceled (it completes with ECANCELED), 1 not
 * canceled (it completes normally, or already has).
 */
int aio_rq_cancel(aio_rq_table *t, int32_t index, uint32_t generation);

/* The slot of (index, generation) while it is in flight, else -1. */
int32_t aio_rq_find(const aio_rq_table *t, int32_t index, uint32_t generation);

/*
 * Blocks until nothing is in flight, dropping the results: for teardown,
 * when there is no JavaScript left to deliver them to.  The buffers are
 * still alive then (see binding.c).  Returns 0, or -errno if the provider
 * cannot reap any more: then requests may still be in the kernel, and the
 * caller must not free the table (it leaks it rather than free memory the
 * kernel may still write).
 */
int aio_rq_drain_all(aio_rq_table *t);

/* The raw result the core expects (bytes, or -errno) for what aio_return/aio_error said. */
int32_t aio_rq_raw_result(int64_t ret, int err);

/* Why the provider refused a request at submission. */
enum aio_rq_refusal {
  AIO_RQ_REFUSED_EAGAIN = 0,      /* out of kernel resources: worth running synchronously */
  AIO_RQ_REFUSED_UNSUPPORTED = 1, /* the OS cannot do this op asynchronously (here, on this file) */
  AIO_RQ_REFUSED_ERROR = 2        /* a real error (EBADF...): the synchronous run reports it */
};

/* Classifies a refusal with -errno `neg_errno` of an IO with op `op` (enum aio_op). */
int aio_rq_classify_refusal(int neg_errno, int op);

/* The disposition the core gets for a refusal class: it runs every refused IO synchronously. */
int aio_rq_disposition_for_refusal(int refusal);

/* The core's cancel outcome (0 canceled, 1 not canceled, 2 unsupported) for a provider answer. */
int aio_rq_cancel_outcome(int answer);

#ifdef __cplusplus
}
#endif

#endif /* AIO_KQ_REQUESTS_H */
