/*
 * route.cc: the io_uring context's own threads, for the kinds of IO the ring
 * runs worse than plain system calls on a few threads (README "Routing").
 *
 * The decision is made on the JS thread (uring.cc, RouteFor); this file is
 * only the mechanism: a FIFO of slot indexes, a few workers that run each
 * slot's IO with aio_io_execute, and a list of results that the JS thread
 * takes when the ring's eventfd wakes it.  See RouteWorkers in uring.h for
 * what is pinned and who locks what.
 */
#include "uring.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

namespace aio_uring {

bool RouteWorkers::Ensure(Slot *slots, uint32_t capacity, uint32_t count, int eventfd) {
  if (started_ > 0) return true;
  if (stopping_) return false;
  if (!initialized_) {
    aio_mutex_init(&lock_);
    aio_cond_init(&work_);
    aio_cond_init(&done_);
    initialized_ = true;
  }
  slots_ = slots;
  eventfd_ = eventfd;
  /* Sized once, before any thread exists: neither vector ever reallocates while a worker may read it. */
  queue_.assign(capacity, 0);
  results_.reserve(capacity);
  thread_ids_.resize(count);
  for (uint32_t i = 0; i < count; i++) {
    int rc = aio_thread_create(&thread_ids_[i], Main, this);
    if (rc != 0) {
      start_errno = rc;
      break;
    }
    started_++;
  }
  return started_ > 0;
}

void RouteWorkers::Enqueue(const uint32_t *indexes, uint32_t n) {
  aio_mutex_lock(&lock_);
  uint32_t size = static_cast<uint32_t>(queue_.size());
  for (uint32_t i = 0; i < n; i++) queue_[(head_ + queued_++) % size] = indexes[i];
  /*
   * One signal per IO that no sleeping worker has been woken for yet: a
   * worker that is running an IO takes the next one itself when it is done,
   * so a burst larger than the pool wakes only the idle ones.
   */
  while (wakes_owed_ < idle_ && wakes_owed_ < queued_) {
    wakes_owed_++;
    aio_cond_signal(&work_);
  }
  aio_mutex_unlock(&lock_);
}

void RouteWorkers::Take(std::vector<RoutedResult> *out) {
  out->clear();
  if (started_ == 0) return;
  aio_mutex_lock(&lock_);
  out->swap(results_);
  /* Both vectors hold `capacity` entries' room: the swap never makes a worker allocate. */
  if (results_.capacity() < out->capacity()) results_.reserve(out->capacity());
  wake_armed_ = true;
  aio_mutex_unlock(&lock_);
}

void RouteWorkers::WaitFor(uint32_t index, uint32_t generation) {
  aio_mutex_lock(&lock_);
  for (;;) {
    bool found = false;
    for (const RoutedResult &r : results_) found = found || (r.index == index && r.generation == generation);
    if (found || started_ == 0) break;
    waiting_ = true;
    aio_cond_wait(&done_, &lock_);
  }
  waiting_ = false;
  aio_mutex_unlock(&lock_);
}

bool RouteWorkers::Unqueue(uint32_t index) {
  if (started_ == 0) return false;
  aio_mutex_lock(&lock_);
  uint32_t size = static_cast<uint32_t>(queue_.size());
  bool found = false;
  for (uint32_t k = 0; k < queued_; k++) {
    uint32_t at = (head_ + k) % size;
    if (!found && queue_[at] == index) found = true;
    /* Close the gap: every later entry moves one place towards the head, keeping the order. */
    if (found && k + 1 < queued_) queue_[at] = queue_[(at + 1) % size];
  }
  if (found) queued_--;
  aio_mutex_unlock(&lock_);
  return found;
}

void RouteWorkers::Stop(std::vector<uint32_t> *dropped) {
  if (!initialized_) return;
  aio_mutex_lock(&lock_);
  stopping_ = true;
  uint32_t size = static_cast<uint32_t>(queue_.size());
  for (uint32_t k = 0; k < queued_; k++) dropped->push_back(queue_[(head_ + k) % size]);
  queued_ = 0;
  aio_cond_broadcast(&work_);
  aio_mutex_unlock(&lock_);
  /* Only regular files are routed, so a running IO ends on its own (a pipe or a terminal could block for ever). */
  for (uint32_t i = 0; i < started_; i++) aio_thread_join(thread_ids_[i]);
  started_ = 0;
  thread_ids_.clear();
  /* The results of IOs that finished meanwhile are the caller's to drop with the rest. */
  for (const RoutedResult &r : results_) dropped->push_back(r.index);
  results_.clear();
  aio_cond_destroy(&work_);
  aio_cond_destroy(&done_);
  aio_mutex_destroy(&lock_);
  initialized_ = false;
}

void RouteWorkers::Main(void *arg) { static_cast<RouteWorkers *>(arg)->Run(); }

void RouteWorkers::Run() {
  aio_mutex_lock(&lock_);
  for (;;) {
    while (queued_ == 0 && !stopping_) {
      idle_++;
      aio_cond_wait(&work_, &lock_);
      idle_--;
      if (wakes_owed_ > 0) wakes_owed_--;
    }
    if (stopping_) break;
    uint32_t index = queue_[head_];
    head_ = (head_ + 1) % static_cast<uint32_t>(queue_.size());
    queued_--;
    /* The slot is the JS thread's again once the result is pushed: read what the result needs first. */
    const aio_io *io = &slots_[index].io;
    uint32_t generation = io->generation;
    aio_mutex_unlock(&lock_);
    int32_t result = aio_io_execute(io);
    aio_mutex_lock(&lock_);
    results_.push_back({index, generation, result});
    bool wake = wake_armed_;
    wake_armed_ = false;
    if (waiting_) aio_cond_broadcast(&done_);
    if (wake) {
      /* The same wake-up as a CQE: the watcher reaps ring and routed completions together. */
      uint64_t one = 1;
      while (write(eventfd_, &one, sizeof one) < 0 && errno == EINTR) {
      }
    }
  }
  aio_mutex_unlock(&lock_);
}

}  // namespace aio_uring
