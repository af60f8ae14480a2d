/*
 * kqueue.c: the FreeBSD request provider.  Each request is an aiocb whose
 * sigevent asks for SIGEV_KEVENT: when the kernel finishes it, it posts an
 * EVFILT_AIO event (ident = the aiocb's address, udata = sigev_value) on
 * the context's kqueue.  Reaping is kevent() with a zero timeout (or none,
 * to block), then aio_error() and aio_return() per aiocb, which also frees
 * the kernel's job.
 *
 * Everything else (the table, dispositions, error mapping, delivery to
 * JavaScript) is in the portable files; this one only speaks FreeBSD.  It is
 * compile-checked on Linux against freebsd-shim/ (scripts/check-freebsd.mjs)
 * and has never run here: see README.md.
 *
 * Needs FreeBSD 13 or newer: aio_readv/aio_writev and aio_fsync(O_DSYNC)
 * appeared in 13.0 (an older kernel refuses them and the core runs those
 * IOs synchronously), and the 64-byte struct kevent in 12.0.
 */
#include "kqueue.h"

/* sys/types.h first: older kqueue(2) pages list it before <sys/event.h>. */
#include <sys/types.h>

#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/event.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/*
 * The gate of the seeds' configure check: SIGEV_KEVENT notification exists
 * where struct sigevent has sigev_notify_kqueue (FreeBSD), not on macOS.
 */
#if !defined(SIGEV_KEVENT) || !defined(sigev_notify_kqueue) || !defined(EVFILT_AIO)
#error "the kqueue method needs aio completions posted to a kqueue (SIGEV_KEVENT, sigev_notify_kqueue): FreeBSD only"
#endif

typedef struct kq_provider {
  int kq;
  uint32_t capacity;
  /*
   * One aiocb per table slot.  The kernel owns cbs[slot] from a successful
   * aio_* call until aio_return(); the table does not reuse the slot before
   * the request was reaped, so the aiocb never moves or changes meanwhile.
   */
  struct aiocb *cbs;
  struct kevent events[AIO_RQ_REAP_BATCH];
} kq_provider;

/* Fills the aiocb of `slot` for `io`, with completion posted to our kqueue. */
static struct aiocb *kq_prepare(kq_provider *p, uint32_t slot, aio_io *io) {
  struct aiocb *cb = &p->cbs[slot];
  memset(cb, 0, sizeof *cb);
  cb->aio_fildes = (int)io->file;
  cb->aio_offset = (off_t)io->offset;
  cb->aio_sigevent.sigev_notify = SIGEV_KEVENT;
  cb->aio_sigevent.sigev_notify_kqueue = p->kq;
  cb->aio_sigevent.sigev_value.sival_ptr = (void *)(uintptr_t)slot;
  if (io->op == AIO_OP_READV || io->op == AIO_OP_WRITEV) {
    /* aio_iovec has struct iovec's layout (checked in the kit's io.c). */
    cb->aio_iov = (struct iovec *)io->iov;
    cb->aio_iovcnt = (int)io->iovcnt;
  } else if (io->op == AIO_OP_READ || io->op == AIO_OP_WRITE) {
    cb->aio_buf = io->iov[0].base;
    cb->aio_nbytes = io->iov[0].len;
  }
  return cb;
}

static int kq_submit(void *self, uint32_t slot, aio_io *io) {
  kq_provider *p = (kq_provider *)self;
  struct aiocb *cb = kq_prepare(p, slot, io);
  int rc;
  switch (io->op) {
    case AIO_OP_READ: rc = aio_read(cb); break;
    case AIO_OP_READV: rc = aio_readv(cb); break;
    case AIO_OP_WRITE: rc = aio_write(cb); break;
    case AIO_OP_WRITEV: rc = aio_writev(cb); break;
    case AIO_OP_FSYNC: rc = aio_fsync(O_SYNC, cb); break;
    case AIO_OP_FDATASYNC: rc = aio_fsync(O_DSYNC, cb); break;
    default: return -EINVAL;
  }
  return rc == 0 ? 0 : -errno;
}

/* The slot of an EVFILT_AIO event, or -1 if it is not one of ours. */
static int64_t kq_slot_of(const kq_provider *p, const struct kevent *ev) {
  if (ev->filter != EVFILT_AIO) return -1;
  const struct aiocb *cb = (const struct aiocb *)ev->ident;
  if (cb < p->cbs || cb >= p->cbs + p->capacity) return -1;
  uint32_t slot = (uint32_t)(cb - p->cbs);
  return (uintptr_t)ev->udata == slot ? (int64_t)slot : -1;
}

static int kq_reap(void *self, aio_rq_reaped *out, uint32_t max, int block) {
  kq_provider *p = (kq_provider *)self;
  struct timespec zero = {0, 0};
  int wanted = (int)(max < AIO_RQ_REAP_BATCH ? max : AIO_RQ_REAP_BATCH);
  int n = kevent(p->kq, NULL, 0, p->events, wanted, block ? NULL : &zero);
  if (n < 0) return errno == EINTR ? 0 : -errno;
  int count = 0;
  for (int i = 0; i < n; i++) {
    int64_t slot = kq_slot_of(p, &p->events[i]);
    if (slot < 0) continue;
    struct aiocb *cb = &p->cbs[slot];
    int err = aio_error(cb);
    if (err == EINPROGRESS) continue; /* not finished after all: its event comes again */
    /* aio_error() failing means the kernel does not know the aiocb: report EIO, never success. */
    if (err < 0) err = EIO;
    out[count].slot = (uint32_t)slot;
    out[count].ret = aio_return(cb);
    out[count].err = err;
    count++;
  }
  return count;
}

static int kq_cancel(void *self, uint32_t slot, const aio_io *io) {
  kq_provider *p = (kq_provider *)self;
  switch (aio_cancel((int)io->file, &p->cbs[slot])) {
    case AIO_CANCELED: return AIO_RQ_CANCEL_CANCELED;
    case AIO_NOTCANCELED: return AIO_RQ_CANCEL_NOTCANCELED;
    case AIO_ALLDONE: return AIO_RQ_CANCEL_ALLDONE;
    default: return AIO_RQ_CANCEL_ERROR;
  }
}

static int kq_pollable_fd(void *self) {
  return ((kq_provider *)self)->kq;
}

static void kq_destroy(void *self) {
  kq_provider *p = (kq_provider *)self;
  close(p->kq);
  free(p->cbs);
  free(p);
}

static const aio_rq_provider_ops KQ_OPS = {kq_submit, kq_reap, kq_cancel, kq_pollable_fd, kq_destroy};

int aio_kqueue_provider_create(uint32_t capacity, aio_rq_provider *out) {
  kq_provider *p = (kq_provider *)calloc(1, sizeof *p);
  if (p == NULL) return -ENOMEM;
  p->cbs = (struct aiocb *)calloc(capacity, sizeof(struct aiocb));
  if (p->cbs == NULL) {
    free(p);
    return -ENOMEM;
  }
  /* kqueuex(KQUEUE_CLOEXEC) would do this in one call, but only from FreeBSD 14 on. */
  p->kq = kqueue();
  if (p->kq < 0) {
    int err = errno;
    free(p->cbs);
    free(p);
    return -err;
  }
  fcntl(p->kq, F_SETFD, FD_CLOEXEC);
  p->capacity = capacity;
  out->ops = &KQ_OPS;
  out->self = p;
  return 0;
}
