/*
 * doorbell.cc: the three ways to wake a reaper out of aio_suspend.  See
 * doorbell.h for the design and the cost of each.
 */
#include "doorbell.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <initializer_list>

namespace aio_posix {

namespace {

/*
 * The process-wide anchor of the `cancel` mode.  It is made once and never
 * torn down: its read blocks a glibc helper thread until the process exits
 * (exit ends that thread like any other).  Bells of every context of every
 * worker thread queue behind it on `pipe_fds[0]`.
 */
struct Anchor {
  int pipe_fds[2] = {-1, -1};
  struct aiocb cb = {};
  char byte = 0;
  bool up = false;
  char error[192] = "not set up yet";
};

Anchor g_anchor;
pthread_once_t g_anchor_once = PTHREAD_ONCE_INIT;

/* A close-on-exec pipe whose write end never blocks.  Returns 0 or an errno. */
int MakePipe(int fds[2]) {
  if (pipe(fds) != 0) return errno;
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFL, O_NONBLOCK);
  return 0;
}

void ClosePipe(int fds[2]) {
  for (int i = 0; i < 2; i++) {
    if (fds[i] >= 0) close(fds[i]);
    fds[i] = -1;
  }
}

/* Queues an aio_read of `bytes` from `fd` into `buf`.  Returns 0 or an errno. */
int QueueRead(struct aiocb *cb, int fd, void *buf, size_t bytes) {
  memset(cb, 0, sizeof *cb);
  cb->aio_fildes = fd;
  cb->aio_buf = buf;
  cb->aio_nbytes = bytes;
  cb->aio_offset = 0;
  cb->aio_sigevent.sigev_notify = SIGEV_NONE;
  return aio_read(cb) == 0 ? 0 : errno;
}

void InitAnchor() {
#if !defined(__GLIBC__)
  snprintf(g_anchor.error, sizeof g_anchor.error,
           "needs glibc, whose aio serves one fd with one thread at a time (a queued bell can then be cancelled)");
#else
  int err = MakePipe(g_anchor.pipe_fds);
  if (err == 0) err = QueueRead(&g_anchor.cb, g_anchor.pipe_fds[0], &g_anchor.byte, 1);
  if (err != 0) {
    ClosePipe(g_anchor.pipe_fds);
    snprintf(g_anchor.error, sizeof g_anchor.error, "cannot queue the anchor read: %s", strerror(err));
    return;
  }
  g_anchor.up = true;
  g_anchor.error[0] = '\0';
#endif
}

void Append(char *reason, size_t size, const char *text) {
  size_t used = strlen(reason);
  if (used + 1 >= size) return;
  snprintf(reason + used, size - used, "%s%s", used > 0 ? "; " : "", text);
}

}  // namespace

const char *DoorbellModeName(DoorbellMode mode) {
  switch (mode) {
    case DoorbellMode::kCancel:
      return "cancel";
    case DoorbellMode::kPipe:
      return "pipe";
    default:
      return "timeout";
  }
}

bool ParseDoorbellMode(const char *name, DoorbellMode *mode) {
  for (DoorbellMode m : {DoorbellMode::kCancel, DoorbellMode::kPipe, DoorbellMode::kTimeout}) {
    if (strcmp(name, DoorbellModeName(m)) == 0) {
      *mode = m;
      return true;
    }
  }
  return false;
}

void DoorbellInitProcess() { pthread_once(&g_anchor_once, InitAnchor); }

const char *DoorbellProcessError() { return g_anchor.up ? "" : g_anchor.error; }

void Doorbell::Open(DoorbellMode wanted, int poll_ms, char *reason, size_t reason_size) {
  poll_.tv_sec = poll_ms / 1000;
  poll_.tv_nsec = static_cast<long>(poll_ms % 1000) * 1000000L;
  reason[0] = '\0';
  mode_ = DoorbellMode::kTimeout;
  if (wanted == DoorbellMode::kCancel) {
    if (OpenCancel(reason, reason_size)) return;
    wanted = DoorbellMode::kPipe;
  }
  if (wanted == DoorbellMode::kPipe) OpenPipe(reason, reason_size);
}

bool Doorbell::OpenCancel(char *reason, size_t reason_size) {
  DoorbellInitProcess();
  if (!g_anchor.up) {
    char text[256];
    snprintf(text, sizeof text, "cancel: %s", g_anchor.error);
    Append(reason, reason_size, text);
    return false;
  }
  mode_ = DoorbellMode::kCancel;
  read_fd_ = g_anchor.pipe_fds[0];
  write_fd_ = g_anchor.pipe_fds[1];
  /* Ring once to prove that a queued bell really is cancelled here. */
  int err = ArmBell();
  int canceled = err == 0 ? aio_cancel(read_fd_, &bell_) : -1;
  if (canceled == AIO_CANCELED && aio_error(&bell_) == ECANCELED) {
    aio_return(&bell_);
    bell_armed_ = false;
    if (ArmBell() == 0) return true;
  }
  char text[160];
  snprintf(text, sizeof text, "cancel: a queued bell was not cancelled (%s)", err != 0 ? strerror(err) : "aio_cancel refused");
  Append(reason, reason_size, text);
  Close();
  return false;
}

bool Doorbell::OpenPipe(char *reason, size_t reason_size) {
  int err = MakePipe(own_pipe_);
  if (err == 0) {
    mode_ = DoorbellMode::kPipe;
    read_fd_ = own_pipe_[0];
    write_fd_ = own_pipe_[1];
    err = ArmBell();
  }
  if (err == 0) {
    /* Ring once and wait (at most a second) to prove aio reads pipes here. */
    const struct aiocb *list[1] = {&bell_};
    struct timespec limit = {1, 0};
    if (write(write_fd_, "x", 1) == 1 && aio_suspend(list, 1, &limit) == 0 && aio_error(&bell_) == 0 && aio_return(&bell_) == 1) {
      bell_armed_ = false;
      if (ArmBell() == 0) return true;
    }
    err = EIO;
  }
  char text[160];
  snprintf(text, sizeof text, "pipe: aio_read on a pipe does not work here (%s)", strerror(err));
  Append(reason, reason_size, text);
  Close();
  return false;
}

int Doorbell::ArmBell() {
  /* In `cancel` mode the bell never runs; in `pipe` mode one read drains
     several rings at once. */
  size_t bytes = mode_ == DoorbellMode::kCancel ? 1 : sizeof scratch_;
  int err = QueueRead(&bell_, read_fd_, scratch_, bytes);
  bell_armed_ = err == 0;
  return err;
}

void Doorbell::AfterWake() {
  if (!bell_armed_ || aio_error(&bell_) == EINPROGRESS) return;
  int err = aio_error(&bell_);
  aio_return(&bell_);
  bell_armed_ = false;
  /* A `cancel` bell that was not cancelled but ran means the anchor is gone
     (someone closed our pipe): every re-armed bell would complete at once. */
  if (mode_ == DoorbellMode::kCancel && err != ECANCELED) {
    Fallback();
    return;
  }
  if (ArmBell() != 0) Fallback();
}

void Doorbell::Fallback() {
  stats_.rearm_failed++;
  mode_ = DoorbellMode::kTimeout;
  if (poll_.tv_sec == 0 && poll_.tv_nsec == 0) poll_.tv_nsec = 1000000L;
}

void Doorbell::Ring() {
  if (!bell_armed_) return;
  stats_.rings++;
  if (mode_ == DoorbellMode::kCancel) {
    aio_cancel(read_fd_, &bell_);
  } else if (mode_ == DoorbellMode::kPipe) {
    /* EAGAIN means the pipe is full of earlier rings: the bell has rung. */
    ssize_t ignored = write(write_fd_, "x", 1);
    (void)ignored;
  }
}

void Doorbell::Close() {
  /* A bell still queued is cancelled; one that runs (a `pipe` bell, blocked
     in read) is completed by a byte.  Its aiocb lives in this object, so we
     do not return before glibc is done with it. */
  while (bell_armed_ && aio_error(&bell_) == EINPROGRESS) {
    if (aio_cancel(read_fd_, &bell_) == AIO_CANCELED) break;
    if (write_fd_ >= 0) {
      ssize_t ignored = write(write_fd_, "x", 1);
      (void)ignored;
    }
    const struct aiocb *list[1] = {&bell_};
    struct timespec limit = {0, 10000000L};
    aio_suspend(list, 1, &limit);
  }
  if (bell_armed_) aio_return(&bell_);
  bell_armed_ = false;
  ClosePipe(own_pipe_);
  read_fd_ = write_fd_ = -1;
}

}  // namespace aio_posix
