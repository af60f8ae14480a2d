/* FreeBSD <sys/sysctl.h>, the part the kqueue method uses. */
#ifndef AIO_SHIM_SYS_SYSCTL_H
#define AIO_SHIM_SYS_SYSCTL_H

#include <stddef.h>

int sysctlbyname(const char *name, void *old_value, size_t *old_size, const void *new_value, size_t new_size);

#endif
