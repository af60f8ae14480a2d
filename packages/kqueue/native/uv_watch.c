/*
 * uv_watch.c: a uv_poll_t on the context's pollable descriptor.  See uv_watch.h.
 */
#include "uv_watch.h"

#include <stdlib.h>
#include <uv.h>

struct aio_uv_watch {
  uv_poll_t *poll;             /* uv_handle_size(UV_POLL) bytes, owned by libuv from init until the close callback */
  void (*on_ready)(void *arg);
  void *arg;
  void (*on_closed)(void *arg);
  void *closed_arg;
};

static void watch_ready(uv_poll_t *poll, int status, int events) {
  (void)events;
  aio_uv_watch *w = (aio_uv_watch *)uv_handle_get_data((uv_handle_t *)poll);
  /*
   * An error status still drains: the reap then reports what is wrong, and
   * the core's own poll()/wait() calls keep working without the loop.
   */
  (void)status;
  w->on_ready(w->arg);
}

static void watch_closed(uv_handle_t *handle) {
  aio_uv_watch *w = (aio_uv_watch *)uv_handle_get_data(handle);
  if (w->on_closed != NULL) w->on_closed(w->closed_arg);
  free(w->poll);
  free(w);
}

int aio_uv_watch_start(napi_env env, int fd, void (*on_ready)(void *arg), void *arg, aio_uv_watch **out) {
  struct uv_loop_s *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) return UV_EINVAL;
  aio_uv_watch *w = (aio_uv_watch *)calloc(1, sizeof *w);
  uv_poll_t *poll = (uv_poll_t *)calloc(1, uv_handle_size(UV_POLL));
  if (w == NULL || poll == NULL) {
    free(w);
    free(poll);
    return UV_ENOMEM;
  }
  int rc = uv_poll_init(loop, poll, fd);
  if (rc != 0) {
    /* uv_poll_init failed before the handle joined the loop: plain free is right. */
    free(w);
    free(poll);
    return rc;
  }
  w->poll = poll;
  w->on_ready = on_ready;
  w->arg = arg;
  uv_handle_set_data((uv_handle_t *)poll, w);
  uv_unref((uv_handle_t *)poll);
  rc = uv_poll_start(poll, UV_READABLE, watch_ready);
  if (rc != 0) {
    aio_uv_watch_close(w, NULL, NULL);
    return rc;
  }
  *out = w;
  return 0;
}

void aio_uv_watch_keep_alive(aio_uv_watch *w, int keep_alive) {
  if (keep_alive) uv_ref((uv_handle_t *)w->poll);
  else uv_unref((uv_handle_t *)w->poll);
}

void aio_uv_watch_close(aio_uv_watch *w, void (*on_closed)(void *arg), void *arg) {
  w->on_closed = on_closed;
  w->closed_arg = arg;
  uv_close((uv_handle_t *)w->poll, watch_closed);
}
