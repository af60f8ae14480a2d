/*
 * FreeBSD <signal.h>: struct sigevent, the part the kqueue method uses.
 * Layout: Rust libc freebsdlike/freebsd/mod.rs (sigevent: notify, signo,
 * value, then a 64-byte union); names: aio(4), sigevent(3).  For
 * SIGEV_KEVENT, sigev_notify_kqueue names the kqueue (it shares
 * sigev_signo's storage) and sigev_notify_kevent_flags sits in the union.
 */
#ifndef AIO_SHIM_SIGNAL_H
#define AIO_SHIM_SIGNAL_H

#include <stddef.h>
#include <sys/types.h>

union sigval {
  int sival_int;
  void *sival_ptr;
};

struct sigevent {
  int sigev_notify;
  int sigev_signo;
  union sigval sigev_value;
  union {
    __lwpid_t _threadid;
    unsigned short _kevent_flags;
    long __spare__[8];
  } _sigev_un;
};

#define sigev_notify_kqueue sigev_signo
#define sigev_notify_kevent_flags _sigev_un._kevent_flags
#define sigev_notify_thread_id _sigev_un._threadid

#define SIGEV_NONE 0
#define SIGEV_SIGNAL 1
#define SIGEV_THREAD 2
#define SIGEV_KEVENT 3
#define SIGEV_THREAD_ID 4

_Static_assert(sizeof(union sigval) == 8, "union sigval");
_Static_assert(sizeof(struct sigevent) == 80, "struct sigevent is 80 bytes on amd64");
_Static_assert(offsetof(struct sigevent, sigev_notify) == 0, "sigev_notify");
_Static_assert(offsetof(struct sigevent, sigev_notify_kqueue) == 4, "sigev_notify_kqueue (sigev_signo)");
_Static_assert(offsetof(struct sigevent, sigev_value) == 8, "sigev_value");
_Static_assert(offsetof(struct sigevent, _sigev_un) == 16, "the notification union");

#endif
