/* FreeBSD <sys/uio.h>, the part the kqueue method (and the kit's io.c) uses. */
#ifndef AIO_SHIM_SYS_UIO_H
#define AIO_SHIM_SYS_UIO_H

#include <sys/types.h>

struct iovec {
  void *iov_base;
  size_t iov_len;
};

ssize_t preadv(int fd, const struct iovec *iov, int count, off_t offset);
ssize_t pwritev(int fd, const struct iovec *iov, int count, off_t offset);

_Static_assert(sizeof(struct iovec) == 16, "struct iovec on amd64");

#endif
