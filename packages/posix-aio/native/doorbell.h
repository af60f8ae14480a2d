/*
 * doorbell.h: waking the reaper thread out of aio_suspend.
 *
 * The reaper blocks in aio_suspend() over the aiocbs that were in flight
 * when it went to sleep.  aio_suspend watches only that list: an IO
 * submitted afterwards can complete without waking it, and its completion
 * would then wait for one of the older IOs (an fsync, say) to finish.  So a
 * submission that finds the reaper asleep rings a doorbell: an aiocb in the
 * reaper's list that the JS thread can complete at will.  aio_suspend cannot
 * poll a file descriptor, so the doorbell has to be an aiocb itself.
 *
 * Three ways, chosen per context (option `doorbell`):
 *
 * - `cancel` (the default with glibc).  One process-wide "anchor", an
 *   aio_read of one byte on an empty pipe that nobody ever writes to,
 *   occupies one glibc helper thread, blocked in read(2), for the life of
 *   the process.  Each context's "bell" is another aio_read on the same
 *   pipe: glibc serves one fd with one thread at a time, so the bell waits
 *   in the queue behind the anchor and never runs.  Ringing is
 *   aio_cancel(bell): a queued request is cancelled at once, marked
 *   ECANCELED, and every aio_suspend watching it wakes up.  Re-arming is one
 *   more queued aio_read.  Cost per ring: an fcntl(2) (glibc checks the fd)
 *   and a futex wake on the JS thread, and no helper-thread wake-up at all.
 *   Fixed cost: one blocked helper thread (out of aio_threads) and one pipe
 *   for the whole process, made when the addon is first loaded.
 * - `pipe`.  Each context has a pipe and its bell is an aio_read on it,
 *   which a helper thread runs and blocks in; ringing writes one byte.  Cost
 *   per ring: a write(2), the helper's wake-up and read(2), and handing the
 *   re-armed read to a helper again.  Fixed cost: one blocked helper thread
 *   per context (so more contexts than aio_threads would starve every IO of
 *   the process: use it only where `cancel` is refused).
 * - `timeout`.  No bell: aio_suspend sleeps at most `pollMs`, then the
 *   reaper picks up what was submitted meanwhile.  Costs a wake-up every
 *   `pollMs` while IO is in flight, and up to `pollMs` of extra latency for
 *   an IO that completes while the reaper sleeps on slower ones.  The
 *   fallback where aio on pipes does not work (macOS accepts only regular
 *   files).
 *
 * Whatever the mode, an idle reaper (nothing in flight) sleeps on a
 * condition variable, not in aio_suspend, and a signal on it wakes it.
 *
 * Threading: Armed, AfterWake and Ring run under the context lock (the
 * reaper re-arms, the JS thread rings); Open and Close run on the JS thread
 * while the context's reaper does not run.
 */
#ifndef AIO_POSIX_DOORBELL_H
#define AIO_POSIX_DOORBELL_H

#include <aio.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

namespace aio_posix {

enum class DoorbellMode : int32_t { kCancel = 0, kPipe = 1, kTimeout = 2 };

/* The mode's name for options and stats: "cancel", "pipe", "timeout". */
const char *DoorbellModeName(DoorbellMode mode);

/* Parses a mode name; returns false if `name` is none of them. */
bool ParseDoorbellMode(const char *name, DoorbellMode *mode);

/*
 * Sets up the process-wide anchor of the `cancel` mode, once per process
 * (later calls return at once).  Called when the addon is loaded, after
 * aio_init (the anchor is the process's first aio request, which freezes
 * glibc's aio_threads and aio_num).
 */
void DoorbellInitProcess();

/* Why the process-wide anchor could not be set up, or "" if it is up. */
const char *DoorbellProcessError();

struct DoorbellStats {
  uint64_t rings = 0;        /* times the JS thread rang */
  uint64_t rearm_failed = 0; /* re-arms refused: the context went to `timeout` */
};

class Doorbell {
 public:
  Doorbell() = default;
  Doorbell(const Doorbell &) = delete;
  Doorbell &operator=(const Doorbell &) = delete;
  ~Doorbell() { Close(); }

  /*
   * Sets the doorbell up in `wanted` mode, or in the next weaker one
   * (cancel → pipe → timeout) if this platform refuses it; `reason`
   * receives why a mode was refused ("" if none was).  Never fails:
   * `timeout` needs nothing.
   */
  void Open(DoorbellMode wanted, int poll_ms, char *reason, size_t reason_size);

  DoorbellMode mode() const { return mode_; }

  /* The aiocb the reaper adds to its aio_suspend list, or nullptr. */
  const struct aiocb *Armed() const { return bell_armed_ ? &bell_ : nullptr; }

  /* The aio_suspend timeout: nullptr (sleep until woken) or `pollMs`. */
  const struct timespec *Timeout() const { return mode_ == DoorbellMode::kTimeout ? &poll_ : nullptr; }

  /* Reaper, after aio_suspend returned: re-arms the bell if it rang. */
  void AfterWake();

  /* JS thread: wakes a reaper sleeping in aio_suspend on Armed(). */
  void Ring();

  /* Completes and reaps the bell and closes the context's pipe. */
  void Close();

  const DoorbellStats &stats() const { return stats_; }

 private:
  bool OpenCancel(char *reason, size_t reason_size);
  bool OpenPipe(char *reason, size_t reason_size);
  int ArmBell();
  void Fallback();

  DoorbellMode mode_ = DoorbellMode::kTimeout;
  struct timespec poll_ = {0, 1000000};
  int read_fd_ = -1;          /* the bell's pipe: the shared one in `cancel` mode */
  int write_fd_ = -1;         /* where a byte completes the bell's read */
  int own_pipe_[2] = {-1, -1}; /* `pipe` mode only: this context's pipe */
  /* The bell reads into `scratch_`; what it reads is thrown away. */
  struct aiocb bell_ = {};
  bool bell_armed_ = false;
  char scratch_[64] = {};
  DoorbellStats stats_;
};

}  // namespace aio_posix

#endif /* AIO_POSIX_DOORBELL_H */
