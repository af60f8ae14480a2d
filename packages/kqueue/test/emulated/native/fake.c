/*
 * fake.c: a request provider that behaves like FreeBSD's aio + kqueue, for
 * testing the portable part of the kqueue method on Linux.
 *
 * It runs each IO for real (aio_io_execute: pread/pwrite/preadv/pwritev/
 * fsync/fdatasync), so results can be compared with the sync method byte for
 * byte, and reports it the way kevent + aio_error + aio_return would: later,
 * through a pollable descriptor (a pipe that holds one byte while finished
 * requests wait to be reaped), in an order the test chooses.  Tests script
 * refusals (EAGAIN, EOPNOTSUPP...), asynchronous errors and cancel answers.
 *
 * Everything runs on the JS thread; nothing here is used by the FreeBSD addon.
 */
#include "fake.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fake_signal(fake_provider *p) {
  if (p->signaled) return;
  char byte = 1;
  if (write(p->pipe_wr, &byte, 1) == 1) p->signaled = 1;
}

static void fake_unsignal(fake_provider *p) {
  char byte;
  while (p->signaled && read(p->pipe_rd, &byte, 1) == 1) p->signaled = 0;
}

/* Runs pending request `at` and moves it to the ready queue with an aio_error/aio_return-style result. */
static void fake_finish(fake_provider *p, uint32_t at, int canceled) {
  uint32_t slot = p->pending[at];
  aio_io *io = p->ios[slot];
  aio_rq_reaped *r = &p->ready[p->nready++];
  r->slot = slot;
  if (canceled) {
    r->ret = -1;
    r->err = ECANCELED;
  } else if (p->fail_count > 0) {
    p->fail_count--;
    r->ret = -1;
    r->err = p->fail_errno;
  } else {
    int32_t raw = aio_io_execute(io);
    r->ret = raw < 0 ? -1 : raw;
    r->err = raw < 0 ? -raw : 0;
  }
  memmove(&p->pending[at], &p->pending[at + 1], sizeof(uint32_t) * (p->npending - at - 1));
  p->npending--;
  p->ios[slot] = NULL;
  fake_signal(p);
}

static int fake_submit(void *self, uint32_t slot, aio_io *io) {
  fake_provider *p = (fake_provider *)self;
  if (p->refuse_count > 0) {
    p->refuse_count--;
    return -p->refuse_errno;
  }
  p->submitted++;
  p->ios[slot] = io;
  p->pending[p->npending++] = slot;
  if (p->npending > p->max_pending) p->max_pending = p->npending;
  if (!p->hold) fake_finish(p, p->npending - 1, 0);
  return 0;
}

static int fake_reap(void *self, aio_rq_reaped *out, uint32_t max, int block) {
  fake_provider *p = (fake_provider *)self;
  if (p->reap_error_count > 0) {
    p->reap_error_count--;
    return -p->reap_errno;
  }
  /* A blocking reap finishes the newest pending request, so blocking waits also see completions out of order. */
  if (block && p->nready == 0 && p->npending > 0) fake_finish(p, p->npending - 1, 0);
  uint32_t n = p->nready < max ? p->nready : max;
  memcpy(out, p->ready, sizeof(aio_rq_reaped) * n);
  memmove(p->ready, p->ready + n, sizeof(aio_rq_reaped) * (p->nready - n));
  p->nready -= n;
  if (p->nready == 0) fake_unsignal(p);
  if (n > 0) p->reaps++;
  return (int)n;
}

static int fake_cancel(void *self, uint32_t slot, const aio_io *io) {
  fake_provider *p = (fake_provider *)self;
  (void)io;
  p->cancels++;
  if (p->cancel_answer >= 0) return p->cancel_answer;
  for (uint32_t i = 0; i < p->npending; i++) {
    if (p->pending[i] != slot) continue;
    fake_finish(p, i, 1);
    return AIO_RQ_CANCEL_CANCELED;
  }
  return AIO_RQ_CANCEL_ALLDONE;
}

static int fake_pollable_fd(void *self) {
  return ((fake_provider *)self)->pipe_rd;
}

static void fake_destroy(void *self) {
  fake_provider *p = (fake_provider *)self;
  close(p->pipe_rd);
  close(p->pipe_wr);
  free(p->pending);
  free(p->ready);
  free(p->ios);
  free(p);
}

static const aio_rq_provider_ops FAKE_OPS = {fake_submit, fake_reap, fake_cancel, fake_pollable_fd, fake_destroy};

int fake_provider_create(uint32_t capacity, aio_rq_provider *out) {
  fake_provider *p = (fake_provider *)calloc(1, sizeof *p);
  int fds[2];
  if (p == NULL) return -ENOMEM;
  p->pending = (uint32_t *)calloc(capacity, sizeof(uint32_t));
  p->ready = (aio_rq_reaped *)calloc(capacity, sizeof(aio_rq_reaped));
  p->ios = (aio_io **)calloc(capacity, sizeof(aio_io *));
  if (p->pending == NULL || p->ready == NULL || p->ios == NULL || pipe(fds) != 0) {
    int err = p->pending == NULL || p->ready == NULL || p->ios == NULL ? ENOMEM : errno;
    free(p->pending);
    free(p->ready);
    free(p->ios);
    free(p);
    return -err;
  }
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  fcntl(fds[1], F_SETFL, O_NONBLOCK);
  p->pipe_rd = fds[0];
  p->pipe_wr = fds[1];
  p->capacity = capacity;
  p->cancel_answer = -1;
  out->ops = &FAKE_OPS;
  out->self = p;
  return 0;
}

uint32_t fake_provider_release(fake_provider *p, const uint32_t *order, uint32_t count) {
  uint32_t done = 0;
  /* `order` holds positions in the pending list as it was before this call. */
  uint32_t *slots = (uint32_t *)malloc(sizeof(uint32_t) * (count > 0 ? count : 1));
  if (slots == NULL) return 0;
  for (uint32_t i = 0; i < count; i++) slots[i] = order[i] < p->npending ? p->pending[order[i]] : UINT32_MAX;
  for (uint32_t i = 0; i < count; i++) {
    for (uint32_t at = 0; at < p->npending; at++) {
      if (p->pending[at] != slots[i]) continue;
      fake_finish(p, at, 0);
      done++;
      break;
    }
  }
  free(slots);
  return done;
}
