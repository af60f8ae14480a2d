/* FreeBSD <string.h>, the part the kqueue method uses. */
#ifndef AIO_SHIM_STRING_H
#define AIO_SHIM_STRING_H

#include <stddef.h>

void *memcpy(void *restrict to, const void *restrict from, size_t size);
void *memmove(void *to, const void *from, size_t size);
void *memset(void *to, int byte, size_t size);
int strcmp(const char *a, const char *b);
size_t strlen(const char *text);
char *strncpy(char *restrict to, const char *restrict from, size_t size);
char *strncat(char *restrict to, const char *restrict from, size_t size);
char *strerror(int error);

#endif
