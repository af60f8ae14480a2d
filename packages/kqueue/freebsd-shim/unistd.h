/* FreeBSD <unistd.h>, the part the kqueue method (and the kit's io.c) uses. */
#ifndef AIO_SHIM_UNISTD_H
#define AIO_SHIM_UNISTD_H

#include <sys/types.h>

int close(int fd);
ssize_t pread(int fd, void *buffer, size_t size, off_t offset);
ssize_t pwrite(int fd, const void *buffer, size_t size, off_t offset);
int fsync(int fd);
int fdatasync(int fd);

#endif
