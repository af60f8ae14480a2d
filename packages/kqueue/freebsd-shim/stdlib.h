/* FreeBSD <stdlib.h>, the part the kqueue method uses. */
#ifndef AIO_SHIM_STDLIB_H
#define AIO_SHIM_STDLIB_H

#include <stddef.h>

void *malloc(size_t size);
void *calloc(size_t count, size_t size);
void free(void *pointer);

#endif
