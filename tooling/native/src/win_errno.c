/*
 * win_errno.c: the Windows errno table.  See aio/win_errno.h for the rules
 * it follows; each group below says where a choice differs from a plain
 * reading of the Win32 name.
 */
#include "aio/win_errno.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

/* Not in every SDK's winerror.h (mingw-w64 lacks it). */
#ifndef ERROR_ELEVATION_REQUIRED
#define ERROR_ELEVATION_REQUIRED 740L
#endif

/* Paths that do not lead to a file.  ERROR_DIRECTORY ("the directory name is
 * invalid") is ENOENT in libuv, not ENOTDIR. */
static int32_t path_errno(DWORD error) {
  switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_DIRECTORY:
    case ERROR_INVALID_REPARSE_DATA:
    case ERROR_BAD_NETPATH:  /* not in libuv's table: a missing share is a missing path */
    case ERROR_BAD_NET_NAME:
      return AIO_UV_ENOENT;
    case ERROR_FILENAME_EXCED_RANGE:
      return AIO_UV_ENAMETOOLONG;
    case ERROR_CANT_RESOLVE_FILENAME:
      return AIO_UV_ELOOP;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
      return AIO_UV_EEXIST;
    case ERROR_DIR_NOT_EMPTY:
      return AIO_UV_ENOTEMPTY;
    case ERROR_NOT_SAME_DEVICE:
      return AIO_UV_EXDEV;
    case ERROR_NO_UNICODE_TRANSLATION:
      return AIO_UV_ECHARSET;
    default:
      return 0;
  }
}

/* Space, memory and other resources.  The quota and "system resources"
 * codes are not in libuv's table; ReadFile/WriteFile return them when too
 * much IO is outstanding, which is a shortage of memory, not a bad IO. */
static int32_t resource_errno(DWORD error) {
  switch (error) {
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
    case ERROR_CANNOT_MAKE:
    case ERROR_EA_TABLE_FULL:
    case ERROR_END_OF_MEDIA:
      return AIO_UV_ENOSPC;
    case ERROR_FILE_TOO_LARGE: /* not in libuv's table */
      return AIO_UV_EFBIG;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_NOT_ENOUGH_QUOTA:
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_NONPAGED_SYSTEM_RESOURCES:
    case ERROR_PAGED_SYSTEM_RESOURCES:
    case ERROR_WORKING_SET_QUOTA:
    case ERROR_INVALID_USER_BUFFER:
      return AIO_UV_ENOMEM;
    case ERROR_TOO_MANY_OPEN_FILES:
      return AIO_UV_EMFILE;
    default:
      return 0;
  }
}

/* Access, sharing and arguments.  ERROR_ACCESS_DENIED is EPERM in the
 * libuv of Node 20 (later libuv says EACCES); ERROR_NOACCESS (a buffer the
 * kernel cannot touch) is EACCES there, and ERROR_INVALID_FUNCTION (a read
 * of a directory handle, among others) EISDIR. */
static int32_t access_errno(DWORD error) {
  switch (error) {
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
      return AIO_UV_EPERM;
    case ERROR_NOACCESS:
    case ERROR_CANT_ACCESS_FILE:
    case ERROR_ELEVATION_REQUIRED:
      return AIO_UV_EACCES;
    case ERROR_WRITE_PROTECT:
      return AIO_UV_EROFS;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
      return AIO_UV_EBUSY;
    case ERROR_INVALID_HANDLE:
    case ERROR_INVALID_FLAGS:
      return AIO_UV_EBADF;
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_DATA:
    case ERROR_INSUFFICIENT_BUFFER:
    case ERROR_NEGATIVE_SEEK: /* not in libuv's table: lseek's EINVAL */
      return AIO_UV_EINVAL;
    case ERROR_INVALID_FUNCTION:
      return AIO_UV_EISDIR;
    case ERROR_BUFFER_OVERFLOW:
      return AIO_UV_EFAULT;
    case ERROR_NOT_SUPPORTED:
      return AIO_UV_ENOTSUP;
    case ERROR_OPERATION_ABORTED:
      return AIO_UV_ECANCELED;
    case ERROR_SEM_TIMEOUT:
      return AIO_UV_ETIMEDOUT;
    default:
      return 0;
  }
}

int32_t aio_win_errno(unsigned long error, aio_win_call call) {
  if (error == ERROR_ACCESS_DENIED && call != AIO_WIN_CALL_OPEN) return AIO_UV_EBADF;
  int32_t mapped = path_errno((DWORD)error);
  if (mapped == 0) mapped = resource_errno((DWORD)error);
  if (mapped == 0) mapped = access_errno((DWORD)error);
  /* ERROR_CRC, ERROR_IO_DEVICE, ERROR_SECTOR_NOT_FOUND, ... and anything unknown. */
  return mapped != 0 ? mapped : AIO_UV_EIO;
}

static const aio_win_errno_entry kNames[] = {
    {"EACCES", AIO_UV_EACCES},       {"EBADF", AIO_UV_EBADF},       {"EBUSY", AIO_UV_EBUSY},
    {"ECANCELED", AIO_UV_ECANCELED}, {"ECHARSET", AIO_UV_ECHARSET}, {"EEXIST", AIO_UV_EEXIST},
    {"EFAULT", AIO_UV_EFAULT},       {"EFBIG", AIO_UV_EFBIG},       {"EINVAL", AIO_UV_EINVAL},
    {"EIO", AIO_UV_EIO},             {"EISDIR", AIO_UV_EISDIR},     {"ELOOP", AIO_UV_ELOOP},
    {"EMFILE", AIO_UV_EMFILE},       {"ENAMETOOLONG", AIO_UV_ENAMETOOLONG},
    {"ENOENT", AIO_UV_ENOENT},       {"ENOMEM", AIO_UV_ENOMEM},     {"ENOSPC", AIO_UV_ENOSPC},
    {"ENOTDIR", AIO_UV_ENOTDIR},     {"ENOTEMPTY", AIO_UV_ENOTEMPTY}, {"ENOTSUP", AIO_UV_ENOTSUP},
    {"EPERM", AIO_UV_EPERM},         {"EROFS", AIO_UV_EROFS},       {"ETIMEDOUT", AIO_UV_ETIMEDOUT},
    {"EXDEV", AIO_UV_EXDEV},         {"EAGAIN", AIO_UV_EAGAIN},
};

const aio_win_errno_entry *aio_win_errno_names(size_t *count) {
  *count = sizeof kNames / sizeof kNames[0];
  return kNames;
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int aio_win_errno_posix_unused;
#endif
