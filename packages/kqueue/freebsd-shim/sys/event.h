/*
 * FreeBSD <sys/event.h>, the part the kqueue method uses: the FreeBSD 12+
 * struct kevent (64-bit data, ext[4]) from kqueue(2) and Rust libc
 * freebsd12+/mod.rs; filter and flag values from Rust libc
 * freebsdlike/freebsd/mod.rs.  The addon must bind kevent@FBSD_1.5 (see
 * ../README.md and scripts/check-freebsd.mjs).
 */
#ifndef AIO_SHIM_SYS_EVENT_H
#define AIO_SHIM_SYS_EVENT_H

#include <stddef.h>
#include <stdint.h>

struct timespec;

struct kevent {
  uintptr_t ident;
  short filter;
  unsigned short flags;
  unsigned int fflags;
  int64_t data;
  void *udata;
  uint64_t ext[4];
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_AIO (-3)
#define EVFILT_USER (-11)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_DISPATCH 0x0080
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

#define NOTE_TRIGGER 0x01000000

/* As kqueue(2) describes it: every field set, ext cleared. */
#define EV_SET(kevp, a, b, c, d, e, f)                                                          \
  do {                                                                                          \
    *(kevp) = (struct kevent){.ident = (a), .filter = (b), .flags = (c), .fflags = (d), .data = (e), \
                              .udata = (f), .ext = {0}};                                        \
  } while (0)

int kqueue(void);
int kevent(int kq, const struct kevent *changes, int nchanges, struct kevent *events, int nevents, const struct timespec *timeout);

_Static_assert(sizeof(struct kevent) == 64, "struct kevent is 64 bytes since FreeBSD 12");
_Static_assert(offsetof(struct kevent, ident) == 0, "ident");
_Static_assert(offsetof(struct kevent, filter) == 8, "filter");
_Static_assert(offsetof(struct kevent, flags) == 10, "flags");
_Static_assert(offsetof(struct kevent, fflags) == 12, "fflags");
_Static_assert(offsetof(struct kevent, data) == 16, "data");
_Static_assert(offsetof(struct kevent, udata) == 24, "udata");
_Static_assert(offsetof(struct kevent, ext) == 32, "ext");

#endif
