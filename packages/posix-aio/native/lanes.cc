/*
 * lanes.cc: the fd lanes of a context.  See lanes.h for why they exist.
 */
#include "lanes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <new>

namespace aio_posix {

LaneTable::~LaneTable() { CloseAll(); }

LaneSet *LaneTable::Get(int fd) {
  if (fd < 0) return nullptr;
  if (static_cast<size_t>(fd) < by_fd_.size() && by_fd_[fd] != nullptr) return by_fd_[fd];
  LaneSet *set = new (std::nothrow) LaneSet();
  if (set == nullptr) return nullptr;
  try {
    if (static_cast<size_t>(fd) >= by_fd_.size()) by_fd_.resize(static_cast<size_t>(fd) + 1, nullptr);
  } catch (const std::bad_alloc &) {
    delete set;
    return nullptr;
  }
  set->fd = fd;
  set->lane_fd[0] = fd;
  set->lane_inflight[0] = 0;
  /* The flags tell the submitter whether the file is O_DIRECT; a bad fd
     gives -1 here and fails again, with the right errno, when the IO runs. */
  set->oflags = fcntl(fd, F_GETFL);
  struct stat st;
  if (fstat(fd, &st) == 0) {
    set->dev = static_cast<uint64_t>(st.st_dev);
    set->ino = static_cast<uint64_t>(st.st_ino);
  } else {
    set->stale = true; /* a bad fd: IO on lane 0 fails as it should */
  }
  by_fd_[fd] = set;
  return set;
}

namespace {

bool SameFile(const LaneSet *set) {
  struct stat st;
  return fstat(set->fd, &st) == 0 && static_cast<uint64_t>(st.st_dev) == set->dev && static_cast<uint64_t>(st.st_ino) == set->ino;
}

}  // namespace

int LaneTable::Acquire(LaneSet *set, int max_lanes, uint32_t n) {
  int best = 0;
  for (int i = 1; i < set->count && !set->stale; i++) {
    if (set->lane_inflight[i] < set->lane_inflight[best]) best = i;
  }
  if (!set->stale && set->lane_inflight[best] > 0 && set->count < std::min(max_lanes, kMaxLanes)) {
    /* Every lane is busy: a new lane lets another glibc thread take this
       IO.  CLOEXEC because the dup is ours alone, never a child's. */
    int dup_fd = fcntl(set->fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd >= 0) {
      best = set->count++;
      set->lane_fd[best] = dup_fd;
      set->lane_inflight[best] = 0;
      stats_.opened++;
      stats_.open_now++;
    } else {
      stats_.dup_failed++;
    }
  }
  if (best > 0 && !SameFile(set)) {
    set->stale = true;
    best = 0;
  }
  set->lane_inflight[best] += n;
  set->inflight += n;
  return best;
}

void LaneTable::Release(LaneSet *set, int lane) {
  set->lane_inflight[lane]--;
  set->inflight--;
  if (set->detached && set->inflight == 0) {
    detached_.erase(std::remove(detached_.begin(), detached_.end(), set), detached_.end());
    Free(set);
  }
}

void LaneTable::Forget(int fd) {
  if (fd < 0 || static_cast<size_t>(fd) >= by_fd_.size() || by_fd_[fd] == nullptr) return;
  LaneSet *set = by_fd_[fd];
  by_fd_[fd] = nullptr;
  if (set->inflight == 0) {
    Free(set);
    return;
  }
  /* Only possible when two AioFiles share an fd number (a stale fromFd
     file): the set stays alive until its last aiocb completes. */
  set->detached = true;
  try {
    detached_.push_back(set);
  } catch (const std::bad_alloc &) {
    set->detached = false; /* kept forever rather than freed under an IO */
  }
}

void LaneTable::CloseAll() {
  for (LaneSet *&set : by_fd_) {
    if (set != nullptr) Free(set);
    set = nullptr;
  }
  for (LaneSet *set : detached_) Free(set);
  by_fd_.clear();
  detached_.clear();
}

void LaneTable::Free(LaneSet *set) {
  /* Lane 0 is the caller's fd: closing it is the caller's business. */
  for (int i = 1; i < set->count; i++) {
    close(set->lane_fd[i]);
    stats_.open_now--;
  }
  delete set;
}

}  // namespace aio_posix
