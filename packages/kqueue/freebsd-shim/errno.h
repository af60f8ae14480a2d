/* FreeBSD <errno.h>, the part the kqueue method uses (errno(2); Rust libc freebsdlike/mod.rs). */
#ifndef AIO_SHIM_ERRNO_H
#define AIO_SHIM_ERRNO_H

int *__error(void);
#define errno (*__error())

#define EPERM 1
#define ENOENT 2
#define EINTR 4
#define EIO 5
#define EBADF 9
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EINVAL 22
#define ENFILE 23
#define EMFILE 24
#define ENOSPC 28
#define EAGAIN 35
#define EWOULDBLOCK EAGAIN
#define EINPROGRESS 36
#define EOPNOTSUPP 45
#define ENOTSUP EOPNOTSUPP
#define ETIMEDOUT 60
#define ENOSYS 78
#define EOVERFLOW 84
#define ECANCELED 85

#endif
