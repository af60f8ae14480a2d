/*
 * probe.c: the kqueue method's live check on FreeBSD.  See kqueue.h.
 *
 * It answers three questions, in order, and stops at the first "no":
 * 1. Can this process create a kqueue?
 * 2. Does kevent() speak the FreeBSD 12+ ABI (64-byte struct kevent with
 *    ext[4])?  The addon is linked without FreeBSD's libc, so its kevent
 *    reference carries the symbol version FBSD_1.5 on purpose (see
 *    scripts/check-freebsd.mjs); an unversioned reference could bind the
 *    FreeBSD 11 compatibility symbol, whose 32-byte events would be misread.
 *    ext[2] is passed through the kernel unchanged, so an EVFILT_USER event
 *    that comes back without it proves the wrong ABI.
 * 3. Does a real aio_read with SIGEV_KEVENT complete through the kqueue?
 */
/* sys/types.h first: sysctl(3) and older kqueue(2) pages list it before their own header. */
#include <sys/types.h>

#include <aio.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/event.h>
#include <sys/sysctl.h>
#include <time.h>
#include <unistd.h>

#include "kqueue.h"

#define PROBE_MAGIC 0x616f696b71756575ULL
#define PROBE_TIMEOUT_SECONDS 5

typedef struct probe_outcome {
  int ok;
  int err;            /* errno of the failing step, or 0 */
  const char *step;   /* what failed, for the reason */
  const char *code;   /* machine-readable cause */
} probe_outcome;

static int probe_fail(probe_outcome *o, const char *step, int err, const char *code) {
  o->ok = 0;
  o->step = step;
  o->err = err;
  o->code = code;
  return -1;
}

/* Question 2: an EVFILT_USER event must come back with the ext[2] it was added with. */
static int probe_kevent_abi(int kq, probe_outcome *o) {
  struct kevent change, events[2];
  struct timespec zero = {0, 0};
  memset(&change, 0, sizeof change);
  memset(events, 0, sizeof events);
  EV_SET(&change, 1, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, NULL);
  change.ext[2] = PROBE_MAGIC;
  int n = kevent(kq, &change, 1, events, 2, &zero);
  if (n < 0) return probe_fail(o, "kevent(EVFILT_USER)", errno, "kevent-failed");
  if (n != 1 || events[0].filter != EVFILT_USER || events[0].ext[2] != PROBE_MAGIC) {
    return probe_fail(o, "kevent() is bound to the pre-FreeBSD-12 struct kevent ABI", 0, "kevent-abi");
  }
  return 0;
}

/*
 * Question 3.  The aiocb and the buffer are on the heap: if the request
 * does not finish in time and cannot be cancelled, they are left to the
 * kernel (leaked) rather than freed under it.
 */
static int probe_aio_read(int kq, int fd, probe_outcome *o) {
  struct aiocb *cb = (struct aiocb *)calloc(1, sizeof *cb);
  char *byte = (char *)calloc(1, 1);
  struct kevent event;
  struct timespec timeout = {PROBE_TIMEOUT_SECONDS, 0};
  if (cb == NULL || byte == NULL) {
    free(cb);
    free(byte);
    return probe_fail(o, "allocation", ENOMEM, "ENOMEM");
  }
  cb->aio_fildes = fd;
  cb->aio_buf = byte;
  cb->aio_nbytes = 1;
  cb->aio_sigevent.sigev_notify = SIGEV_KEVENT;
  cb->aio_sigevent.sigev_notify_kqueue = kq;
  if (aio_read(cb) != 0) {
    int err = errno;
    free(cb);
    free(byte);
    return probe_fail(o, "aio_read() with SIGEV_KEVENT", err, err == ENOSYS ? "ENOSYS" : "aio-refused");
  }
  int n;
  do n = kevent(kq, NULL, 0, &event, 1, &timeout);
  while (n < 0 && errno == EINTR);
  if (n != 1 || event.filter != EVFILT_AIO || (struct aiocb *)event.ident != cb) {
    if (aio_cancel(fd, cb) == AIO_CANCELED || aio_error(cb) != EINPROGRESS) {
      aio_return(cb);
      free(cb);
      free(byte);
    }
    return probe_fail(o, "waiting for the EVFILT_AIO event", n < 0 ? errno : ETIMEDOUT, "no-kevent");
  }
  int err = aio_error(cb);
  ssize_t got = aio_return(cb);
  int right = err == 0 && got == 1 && byte[0] == 'k';
  free(cb);
  free(byte);
  if (!right) return probe_fail(o, "the aio_read round trip returned the wrong result", err, "aio-result");
  return 0;
}

static void probe_run(int fd, probe_outcome *o) {
  memset(o, 0, sizeof *o);
  int kq = kqueue();
  if (kq < 0) {
    probe_fail(o, "kqueue()", errno, "kqueue-failed");
    return;
  }
  if (probe_kevent_abi(kq, o) == 0 && (fd < 0 || probe_aio_read(kq, fd, o) == 0)) o->ok = 1;
  close(kq);
}

/* ------------------------------------------------------------------ */
/* The JS result                                                        */
/* ------------------------------------------------------------------ */

static void set_value(napi_env env, napi_value object, const char *name, napi_value value) {
  napi_set_named_property(env, object, name, value);
}

static void set_string(napi_env env, napi_value object, const char *name, const char *text) {
  napi_value value;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value) == napi_ok) set_value(env, object, name, value);
}

/* Adds an integer sysctl to `details` when it can be read. */
static void set_sysctl(napi_env env, napi_value details, const char *name, const char *key) {
  int number = 0;
  size_t size = sizeof number;
  napi_value value;
  if (sysctlbyname(name, &number, &size, NULL, 0) == 0 && size == sizeof number && napi_create_int32(env, number, &value) == napi_ok) {
    set_value(env, details, key, value);
  }
}

/* The scratch file's descriptor from probe({ fd }), or -1 to skip the aio round trip. */
static int probe_fd_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value options, fd_value;
  napi_valuetype type;
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, &options, NULL, NULL) != napi_ok || argc < 1) return -1;
  if (napi_typeof(env, options, &type) != napi_ok || type != napi_object) return -1;
  if (napi_get_named_property(env, options, "fd", &fd_value) != napi_ok) return -1;
  if (napi_typeof(env, fd_value, &type) != napi_ok || type != napi_number) return -1;
  if (napi_get_value_int32(env, fd_value, &fd) != napi_ok || fd < 0) return -1;
  return fd;
}

napi_value aio_kqueue_probe(napi_env env, napi_callback_info info) {
  probe_outcome o;
  napi_value result, details, available;
  probe_run(probe_fd_arg(env, info), &o);
  if (napi_create_object(env, &result) != napi_ok || napi_create_object(env, &details) != napi_ok) return NULL;
  napi_get_boolean(env, o.ok != 0, &available);
  set_value(env, result, "available", available);
  if (o.ok) {
    set_string(env, result, "reason", "aio with SIGEV_KEVENT completions works (kqueue, FreeBSD 12+ kevent ABI)");
  } else {
    char reason[200];
    strncpy(reason, o.step, sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    if (o.err != 0) {
      strncat(reason, ": ", sizeof reason - strlen(reason) - 1);
      strncat(reason, strerror(o.err), sizeof reason - strlen(reason) - 1);
    }
    set_string(env, result, "reason", reason);
    set_string(env, result, "code", o.code);
  }
  set_sysctl(env, details, "vfs.aio.max_aio_queue_per_proc", "maxAioQueuePerProc");
  set_sysctl(env, details, "vfs.aio.max_aio_per_proc", "maxAioPerProc");
  set_sysctl(env, details, "vfs.aio.enable_unsafe", "enableUnsafe");
  set_value(env, result, "details", details);
  return result;
}
