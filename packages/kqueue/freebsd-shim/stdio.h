/* FreeBSD <stdio.h>, the part the kqueue method uses. */
#ifndef AIO_SHIM_STDIO_H
#define AIO_SHIM_STDIO_H

#include <stddef.h>

int snprintf(char *restrict buffer, size_t size, const char *restrict format, ...) __attribute__((format(printf, 3, 4)));

#endif
