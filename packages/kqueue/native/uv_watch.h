/*
 * uv_watch.h: wakes the JS thread's event loop when a descriptor (the
 * context's kqueue) turns readable.
 *
 * This is the only part of the method that touches libuv, kept apart so
 * that the FreeBSD compile check can build it against the few libuv
 * declarations it really uses (freebsd-shim/uv.h, whose prototypes are
 * checked against Node's real uv.h on Linux by scripts/check-freebsd.mjs).
 * The uv_poll_t is allocated with uv_handle_size(), so no libuv struct
 * layout is compiled into the addon.
 *
 * All functions run on the JS thread of the environment the watch belongs to.
 */
#ifndef AIO_KQ_UV_WATCH_H
#define AIO_KQ_UV_WATCH_H

#include <node_api.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aio_uv_watch aio_uv_watch;

/*
 * Starts watching `fd` for readability on the event loop of `env`;
 * `on_ready(arg)` runs on that loop each time it polls readable.  The watch
 * starts unreferenced: it keeps the loop alive only after
 * aio_uv_watch_keep_alive(w, 1).  Returns 0 and sets *out, or a negative
 * libuv error code.
 */
int aio_uv_watch_start(napi_env env, int fd, void (*on_ready)(void *arg), void *arg, aio_uv_watch **out);

/* Whether the watch keeps the event loop alive (while IO is in flight). */
void aio_uv_watch_keep_alive(aio_uv_watch *w, int keep_alive);

/*
 * Stops watching at once (the descriptor may be closed right after) and
 * frees the watch once libuv is done with it; then `on_closed(arg)` runs,
 * if given.  `on_ready` is never called again.
 */
void aio_uv_watch_close(aio_uv_watch *w, void (*on_closed)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif

#endif /* AIO_KQ_UV_WATCH_H */
