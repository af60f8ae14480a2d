/* FreeBSD <time.h>, the part the kqueue method uses. */
#ifndef AIO_SHIM_TIME_H
#define AIO_SHIM_TIME_H

#include <sys/types.h>

struct timespec {
  time_t tv_sec;
  long tv_nsec;
};

_Static_assert(sizeof(struct timespec) == 16, "struct timespec on amd64");

#endif
