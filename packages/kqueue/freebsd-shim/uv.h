/*
 * The libuv declarations native/uv_watch.c uses, for the FreeBSD compile
 * check (Node's uv.h is not available for FreeBSD here).  They are ABI
 * stable across libuv 1.x.  scripts/check-freebsd.mjs also compiles this
 * file right after Node's real uv.h on Linux: the prototypes must then be
 * compatible redeclarations, and the two constants must match.
 *
 * uv_poll_t is opaque: the addon allocates it with uv_handle_size(UV_POLL),
 * so no libuv struct layout is compiled in.
 */
#ifndef AIO_SHIM_UV_H
#define AIO_SHIM_UV_H

#include <errno.h>
#include <stddef.h>

#define AIO_SHIM_UV_POLL 8
#define AIO_SHIM_UV_READABLE 1

#ifndef UV_H /* the real uv.h already defines these */
#define UV_H
typedef struct uv_loop_s uv_loop_t;
typedef struct uv_handle_s uv_handle_t;
typedef struct uv_poll_s uv_poll_t;
typedef void (*uv_close_cb)(uv_handle_t *handle);
typedef void (*uv_poll_cb)(uv_poll_t *handle, int status, int events);
typedef enum { UV_UNKNOWN_HANDLE = 0, UV_POLL = AIO_SHIM_UV_POLL } uv_handle_type;
enum uv_poll_event { UV_READABLE = AIO_SHIM_UV_READABLE };
#define UV_EINVAL (-EINVAL)
#define UV_ENOMEM (-ENOMEM)
#endif

size_t uv_handle_size(uv_handle_type type);
int uv_poll_init(uv_loop_t *loop, uv_poll_t *handle, int fd);
int uv_poll_start(uv_poll_t *handle, int events, uv_poll_cb cb);
void uv_close(uv_handle_t *handle, uv_close_cb close_cb);
void uv_ref(uv_handle_t *handle);
void uv_unref(uv_handle_t *handle);
void *uv_handle_get_data(const uv_handle_t *handle);
void uv_handle_set_data(uv_handle_t *handle, void *data);

#endif
