/* FreeBSD amd64 <sys/types.h>, the part the kqueue method uses.  See ../README.md. */
#ifndef AIO_SHIM_SYS_TYPES_H
#define AIO_SHIM_SYS_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef long ssize_t;
typedef int64_t off_t;
typedef int32_t pid_t;
typedef int64_t time_t;
typedef int32_t __lwpid_t;
typedef unsigned short u_short;
typedef unsigned int u_int;

_Static_assert(sizeof(off_t) == 8, "off_t is 64-bit on FreeBSD");
_Static_assert(sizeof(ssize_t) == 8 && sizeof(size_t) == 8, "LP64");

#endif
