/*
 * aio/loop.hh: completions signalled on the event loop (io_uring's eventfd,
 * a kqueue descriptor): the kit's watcher for backends whose kernel tells
 * the loop that completions are ready.  Needs libuv's uv.h: list
 * "loop.cc" in build.json "kit" and set "uv": true.
 *
 * The backend gives a file descriptor that becomes readable when
 * completions are ready, and a function the watcher calls on the loop when
 * it is; that function reaps, fills the table and calls
 * Context::Completed(n) then Context::Deliver(n).  The watcher's libuv
 * handle is referenced exactly while the context is busy (the kit calls
 * KeepLoopAlive from Context::Busy), so IO in flight keeps the process
 * alive and an idle context never does.
 *
 * Closing is asynchronous in libuv (uv_close), so the handle lives in a
 * record of its own that its close callback frees, and an async cleanup
 * hook makes Node wait for that callback when the environment goes away
 * (a worker_thread's loop cannot be closed with a handle still open).
 */
#ifndef AIO_LOOP_HH
#define AIO_LOOP_HH

#include <uv.h>

#include "aio/kit.hh"

namespace aio {

class LoopCompletions : public LoopLiveness {
 public:
  using Ready = void (*)(Context *context);

  LoopCompletions() = default;
  LoopCompletions(const LoopCompletions &) = delete;
  LoopCompletions &operator=(const LoopCompletions &) = delete;
  ~LoopCompletions() { Stop(); }

  /*
   * JS thread, in the backend's Start: watches `fd` for readability on the
   * context's event loop and calls `ready(context)` there each time.  false
   * after throwing.  The fd stays the backend's.
   */
  bool Init(Context *context, int fd, Ready ready);
  /*
   * JS thread, in Quiesce (or anywhere after Init): stops watching, so the
   * backend may close the fd right after, and closes the handle.  Safe to
   * call twice; the kit's destructor calls it too.
   */
  void Stop();
  void KeepLoopAlive(bool alive) override;

  struct Watcher; /* the libuv handle's record (loop.cc) */

 private:
  Watcher *watcher_ = nullptr;
};

}  // namespace aio

#endif /* AIO_LOOP_HH */
