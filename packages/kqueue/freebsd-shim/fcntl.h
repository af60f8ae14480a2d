/* FreeBSD <fcntl.h>, the part the kqueue method uses (Rust libc bsd/mod.rs; O_DSYNC from FreeBSD 13). */
#ifndef AIO_SHIM_FCNTL_H
#define AIO_SHIM_FCNTL_H

#define O_SYNC 0x0080
#define O_DSYNC 0x01000000
#define F_SETFD 2
#define FD_CLOEXEC 1

int fcntl(int fd, int command, ...);

#endif
