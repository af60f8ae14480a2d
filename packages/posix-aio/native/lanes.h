/*
 * lanes.h: several file descriptors for one file, so that glibc runs IOs on
 * it in parallel.
 *
 * glibc implements POSIX aio with helper threads and gives each file
 * descriptor to one helper thread at a time: requests on the same fd number
 * are queued behind each other and run one after the other, in submission
 * order (aio_misc.c: "It makes no sense to start another thread since this
 * new thread would fight with the running thread").  Thirty-two reads in
 * flight on one fd therefore run at a depth of one.  A lane is a dup() of
 * the caller's fd: it shares the open file description (offset-free
 * pread/pwrite, O_DIRECT and O_DSYNC included) but has another number, so
 * glibc serves it with another thread.
 *
 * Lane 0 is the caller's fd itself and is never closed here.  Further lanes
 * are opened only when every open lane already has IO in flight, so a file
 * used at depth one never gets a dup.  They are closed when the file is
 * forgotten (closed by the core) or the context shuts down, and never while
 * an aiocb on them is in flight.
 *
 * All of it runs under the context lock (the JS thread picks lanes, the
 * reaper thread releases them).
 */
#ifndef AIO_POSIX_LANES_H
#define AIO_POSIX_LANES_H

#include <stdint.h>

#include <vector>

namespace aio_posix {

/* The most lanes one file can have (the `lanes` option is 1 to this). */
constexpr int kMaxLanes = 64;

struct LaneSet {
  int fd = -1;           /* the caller's fd: lane 0, never closed here */
  int count = 1;         /* lanes open, lane 0 included */
  int oflags = 0;        /* fcntl(F_GETFL) of the fd when the set was made */
  bool detached = false; /* forgotten while IO was in flight: freed when idle */
  bool stale = false;    /* the fd no longer names the file the dups were made of */
  uint64_t dev = 0, ino = 0; /* the file the lanes are dups of */
  uint32_t inflight = 0; /* aiocbs in flight over all lanes */
  int lane_fd[kMaxLanes];
  uint32_t lane_inflight[kMaxLanes];
};

struct LaneStats {
  uint64_t opened = 0;     /* dup()s made */
  uint64_t dup_failed = 0; /* dup()s refused (EMFILE...): IO went to a busy lane */
  uint64_t open_now = 0;   /* dup()s currently open */
};

class LaneTable {
 public:
  LaneTable() = default;
  LaneTable(const LaneTable &) = delete;
  LaneTable &operator=(const LaneTable &) = delete;
  ~LaneTable();

  /* The set for `fd`, made on first use; nullptr if memory ran out. */
  LaneSet *Get(int fd);

  /*
   * Picks the lane for `n` more aiocbs of one IO (the least busy one,
   * opening a new lane first when all are busy and fewer than `max_lanes`
   * are open) and counts them in flight.  Returns the lane index.
   *
   * Before IO goes to a dup, one fstat() checks that the fd still names the
   * file the dups were made of: an fd closed (or closed and reused) behind
   * the library must fail (or reach the new file) as a plain pread would,
   * not succeed on the old file through a dup.  Such a set only uses lane
   * 0 from then on.
   */
  int Acquire(LaneSet *set, int max_lanes, uint32_t n);

  /* One aiocb on `lane` of `set` completed (or was never queued). */
  void Release(LaneSet *set, int lane);

  /* The file behind `fd` is being closed: drop its set (freed once idle). */
  void Forget(int fd);

  /* Closes every lane; nothing may be in flight. */
  void CloseAll();

  const LaneStats &stats() const { return stats_; }

 private:
  void Free(LaneSet *set);

  std::vector<LaneSet *> by_fd_;   /* indexed by fd number */
  std::vector<LaneSet *> detached_; /* forgotten sets with IO still in flight */
  LaneStats stats_;
};

}  // namespace aio_posix

#endif /* AIO_POSIX_LANES_H */
