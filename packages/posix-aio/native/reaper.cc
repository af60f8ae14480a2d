/*
 * reaper.cc: the one thread per context that collects completions.
 *
 * It sleeps in aio_suspend() over every aiocb in flight (plus the
 * doorbell), so completions are reaped without a thread per IO and without
 * signals.  On each wake-up it asks aio_error() of every watched aiocb,
 * takes the finished ones with aio_return(), and pushes each IO whose
 * aiocbs are all done to the completion queue: the first push of a batch
 * wakes the event loop once, the others ride along.  With nothing in
 * flight it sleeps on a condition variable instead.
 *
 * Cost per wake-up: O(aiocbs in flight) calls to aio_error (glibc: a memory
 * read; macOS: a system call each) and glibc registering and unregistering
 * a waiter on each of them inside aio_suspend, under its global aio mutex.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>

#include "posix_aio.h"

namespace aio_posix {

namespace {

/* At most 15 characters (Linux's limit); test/helpers.ts counts threads by it. */
constexpr char kReaperThreadName[] = "aio_posix_reap";

/* Under the lock: the aiocbs to sleep on, the doorbell included. */
void BuildList(Context *c) {
  std::vector<const struct aiocb *> &list = c->suspend_list;
  list.clear(); /* capacity reserved for the whole table plus the bell */
  for (int32_t id : c->inflight) list.push_back(&c->slots[id].cb);
  if (const struct aiocb *bell = c->doorbell.Armed()) list.push_back(bell);
}

void RemoveInflight(Context *c, Slot *s) {
  int32_t pos = s->list_pos;
  int32_t last = c->inflight.back();
  c->inflight[pos] = last;
  c->slots[last].list_pos = pos;
  c->inflight.pop_back();
  s->list_pos = -1;
}

/* Under the lock: takes every finished aiocb; completes each IO whose aiocbs are all done. */
void ReapReady(Context *c) {
  for (size_t k = 0; k < c->inflight.size();) {
    Slot *s = &c->slots[c->inflight[k]];
    int err = aio_error(&s->cb);
    if (err == EINPROGRESS) {
      k++;
      continue;
    }
    /* aio_return once per aiocb: on kernel implementations it frees the request. */
    ssize_t bytes = aio_return(&s->cb);
    if (bytes >= 0) s->result = bytes > INT32_MAX ? INT32_MAX : static_cast<int32_t>(bytes);
    else s->result = -(err > 0 ? err : EIO);
    RemoveInflight(c, s); /* another slot takes position k */
    s->reaped = true;
    s->state = SlotState::kFilling;
    Slot &head = c->slots[s->head];
    if (--head.pending == 0) FinishIo(c, s->head);
  }
}

/* Names the calling thread, so tools (and the tests' thread census) can tell reapers apart. */
void NameThisThread() {
#if defined(__APPLE__)
  pthread_setname_np(kReaperThreadName);
#elif defined(__GLIBC__) || defined(__sun)
  pthread_setname_np(pthread_self(), kReaperThreadName);
#endif
}

void ReaperMain(void *arg) {
  Context *c = static_cast<Context *>(arg);
  NameThisThread();
  aio_mutex_lock(&c->lock);
  for (;;) {
    if (c->inflight.empty()) {
      if (c->stopping) break;
      c->reaper_state = ReaperState::kIdle;
      c->n.idle_waits++;
      aio_cond_wait(&c->wake, &c->lock);
      c->reaper_state = ReaperState::kScanning;
      continue;
    }
    BuildList(c);
    /* From here on a submission rings the doorbell (once until we wake). */
    c->reaper_state = ReaperState::kSuspended;
    c->rung = false;
    const struct timespec *timeout = c->doorbell.Timeout();
    aio_mutex_unlock(&c->lock);
    /* Returns when any listed aiocb is done, on the timeout, or on EINTR;
       each case just leads to a scan. */
    aio_suspend(c->suspend_list.data(), static_cast<int>(c->suspend_list.size()), timeout);
    aio_mutex_lock(&c->lock);
    c->reaper_state = ReaperState::kScanning;
    c->n.suspends++;
    c->doorbell.AfterWake();
    ReapReady(c);
  }
  c->reaper_state = ReaperState::kStopped;
  aio_mutex_unlock(&c->lock);
}

}  // namespace

int StartReaper(Context *c) {
  /* aio_thread_create starts it with every signal blocked, so the process's
     signals are never delivered to it (and never interrupt aio_suspend). */
  int err = aio_thread_create(&c->reaper, ReaperMain, c);
  c->reaper_running = err == 0;
  return err;
}

void StopReaper(Context *c, bool cancel_inflight) {
  aio_mutex_lock(&c->lock);
  c->stopping = true;
  if (cancel_inflight) {
    /* The environment is going away: what is still queued is cancelled (it
       completes at once with ECANCELED); what runs is waited for. */
    for (int32_t id : c->inflight) aio_cancel(c->slots[id].cb.aio_fildes, &c->slots[id].cb);
  }
  if (c->reaper_state == ReaperState::kIdle) aio_cond_signal(&c->wake);
  aio_mutex_unlock(&c->lock);
  /* The reaper leaves its loop only once nothing is in flight, so after the
     join no aiocb of this context is in the OS's hands. */
  if (c->reaper_running) aio_thread_join(c->reaper);
  c->reaper_running = false;
}

void WakeReaper(Context *c) {
  if (c->reaper_state == ReaperState::kIdle) {
    aio_cond_signal(&c->wake);
  } else if (c->reaper_state == ReaperState::kSuspended && !c->rung) {
    c->rung = true;
    c->doorbell.Ring();
  }
}

}  // namespace aio_posix
