/*
 * fake.h: the emulated kevent/aio provider of the Linux test build.  See fake.c.
 */
#ifndef AIO_KQ_FAKE_H
#define AIO_KQ_FAKE_H

#include <stdint.h>

#include "requests.h"

typedef struct fake_provider {
  int pipe_rd, pipe_wr;   /* the pollable descriptor: readable while `ready` is not empty */
  int signaled;           /* a byte is in the pipe */
  uint32_t capacity;
  uint32_t *pending;      /* slots submitted and not finished, oldest first */
  uint32_t npending;
  aio_rq_reaped *ready;   /* finished, not yet reaped, in the order they finished */
  uint32_t nready;
  aio_io **ios;           /* per slot: the table's aio_io while pending */
  int hold;               /* 1: requests wait for fake_provider_release; 0: they finish when submitted */
  int refuse_errno;       /* the next `refuse_count` submissions fail with this errno */
  uint32_t refuse_count;
  int fail_errno;         /* the next `fail_count` requests finish with this aio_error */
  uint32_t fail_count;
  int cancel_answer;      /* -1: answer like FreeBSD would; else always this aio_rq_cancel_answer */
  int reap_errno;         /* the next `reap_error_count` reaps fail with this errno, like kevent() returning -1 */
  uint32_t reap_error_count;
  uint64_t submitted, reaps, cancels, max_pending;
} fake_provider;

int fake_provider_create(uint32_t capacity, aio_rq_provider *out);

/* Finishes the pending requests at positions `order` (0 = oldest), in that order; returns how many. */
uint32_t fake_provider_release(fake_provider *p, const uint32_t *order, uint32_t count);

#endif /* AIO_KQ_FAKE_H */
