/*
 * FreeBSD <aio.h>, the part the kqueue method uses.
 * Layout: Rust libc freebsdlike/freebsd/mod.rs `struct aiocb` (fildes,
 * offset, buf, nbytes, two spare ints, a spare pointer, lio_opcode,
 * reqprio, the kernel's private status/error/pointer, then the sigevent);
 * functions and AIO_* values: aio_read(2), aio_write(2), aio_fsync(2),
 * aio_cancel(2), aio_error(2), aio_return(2), Rust libc freebsdlike/mod.rs.
 * aio_readv/aio_writev (FreeBSD 13) reuse aio_buf/aio_nbytes as the iovec
 * array and its length.
 */
#ifndef AIO_SHIM_AIO_H
#define AIO_SHIM_AIO_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

struct __aiocb_private {
  long status;
  long error;
  void *kernelinfo;
};

typedef struct aiocb {
  int aio_fildes;
  off_t aio_offset;
  volatile void *aio_buf;
  size_t aio_nbytes;
  int __spare__[2];
  void *__spare2__;
  int aio_lio_opcode;
  int aio_reqprio;
  struct __aiocb_private _aiocb_private;
  struct sigevent aio_sigevent;
} aiocb_t;

#define aio_iov aio_buf
#define aio_iovcnt aio_nbytes

#define AIO_CANCELED 1
#define AIO_NOTCANCELED 2
#define AIO_ALLDONE 3

int aio_read(struct aiocb *iocb);
int aio_readv(struct aiocb *iocb);
int aio_write(struct aiocb *iocb);
int aio_writev(struct aiocb *iocb);
int aio_fsync(int op, struct aiocb *iocb);
int aio_error(const struct aiocb *iocb);
ssize_t aio_return(struct aiocb *iocb);
int aio_cancel(int fd, struct aiocb *iocb);

_Static_assert(sizeof(struct aiocb) == 160, "struct aiocb is 160 bytes on amd64");
_Static_assert(offsetof(struct aiocb, aio_fildes) == 0, "aio_fildes");
_Static_assert(offsetof(struct aiocb, aio_offset) == 8, "aio_offset");
_Static_assert(offsetof(struct aiocb, aio_buf) == 16, "aio_buf (aio_iov)");
_Static_assert(offsetof(struct aiocb, aio_nbytes) == 24, "aio_nbytes (aio_iovcnt)");
_Static_assert(offsetof(struct aiocb, aio_lio_opcode) == 48, "aio_lio_opcode");
_Static_assert(offsetof(struct aiocb, _aiocb_private) == 56, "the kernel's private part");
_Static_assert(offsetof(struct aiocb, aio_sigevent) == 80, "aio_sigevent");

#endif
