/*
 * errors.cc: Win32 error codes as the negative errno values Node uses on
 * Windows, so that the core's AioIoError gets the `code` node:fs would give
 * ('ENOENT', 'ENOSPC', ...).
 *
 * The mapping follows libuv's uv_translate_sys_error() where that is what a
 * Node user sees for the same failure, with three deliberate differences:
 * - ERROR_ACCESS_DENIED on a read, write or flush means the HANDLE lacks
 *   that access (a file opened read-only): EBADF, as node:fs reports for
 *   reads and writes.  On open it is EACCES (libuv says EPERM); the opener
 *   turns it into EISDIR first when the path is a directory.
 * - ERROR_OPERATION_ABORTED is ECANCELED (libuv: EINTR): it only happens
 *   here when CancelIoEx cancelled the IO, and the core recognises a
 *   cancelled IO by ECANCELED.
 * - An unknown code is EIO rather than libuv's UNKNOWN, so callers still
 *   get an IO error they can handle.
 * ERROR_HANDLE_EOF never gets here: a read at end of file is 0 bytes,
 * handled by the callers.
 */
#include "iocp.h"

namespace {

int32_t common_errno(DWORD error) {
  switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_NET_NAME:
      return IOCP_UV_ENOENT;
    case ERROR_DIRECTORY:
      return IOCP_UV_ENOTDIR;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
      return IOCP_UV_EEXIST;
    case ERROR_TOO_MANY_OPEN_FILES:
      return IOCP_UV_EMFILE;
    case ERROR_FILENAME_EXCED_RANGE:
      return IOCP_UV_ENAMETOOLONG;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
      return IOCP_UV_EBUSY;
    case ERROR_WRITE_PROTECT:
      return IOCP_UV_EROFS;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return IOCP_UV_ENOSPC;
    case ERROR_FILE_TOO_LARGE:
      return IOCP_UV_EFBIG;
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_FUNCTION:
    case ERROR_INVALID_DATA:
    case ERROR_NEGATIVE_SEEK:
    case ERROR_INSUFFICIENT_BUFFER:
      return IOCP_UV_EINVAL;
    case ERROR_INVALID_HANDLE:
      return IOCP_UV_EBADF;
    case ERROR_OPERATION_ABORTED:
      return IOCP_UV_ECANCELED;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_NOT_ENOUGH_QUOTA:
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_NONPAGED_SYSTEM_RESOURCES:
    case ERROR_PAGED_SYSTEM_RESOURCES:
    case ERROR_WORKING_SET_QUOTA:
    case ERROR_INVALID_USER_BUFFER:
      return IOCP_UV_ENOMEM;
    case ERROR_NOACCESS:
      return IOCP_UV_EFAULT; /* the buffer's memory is not accessible */
    case ERROR_NOT_SUPPORTED:
      return IOCP_UV_ENOTSUP;
    case ERROR_CANT_ACCESS_FILE:
      return IOCP_UV_EACCES;
    case ERROR_PRIVILEGE_NOT_HELD:
      return IOCP_UV_EPERM;
    default:
      return IOCP_UV_EIO; /* ERROR_CRC, ERROR_IO_DEVICE, ERROR_SECTOR_NOT_FOUND, ... */
  }
}

const iocp_errno_entry kTable[] = {
    {"EACCES", IOCP_UV_EACCES},   {"EBADF", IOCP_UV_EBADF},
    {"EBUSY", IOCP_UV_EBUSY},     {"ECANCELED", IOCP_UV_ECANCELED}, {"EEXIST", IOCP_UV_EEXIST},
    {"EFAULT", IOCP_UV_EFAULT},   {"EINVAL", IOCP_UV_EINVAL},       {"EIO", IOCP_UV_EIO},
    {"EISDIR", IOCP_UV_EISDIR},   {"EMFILE", IOCP_UV_EMFILE},       {"ENAMETOOLONG", IOCP_UV_ENAMETOOLONG},
    {"ENOENT", IOCP_UV_ENOENT},   {"ENOMEM", IOCP_UV_ENOMEM},       {"ENOSPC", IOCP_UV_ENOSPC},
    {"ENOTDIR", IOCP_UV_ENOTDIR}, {"ENOTSUP", IOCP_UV_ENOTSUP},     {"EPERM", IOCP_UV_EPERM},
    {"EROFS", IOCP_UV_EROFS},     {"EFBIG", IOCP_UV_EFBIG},
};

}  // namespace

int32_t iocp_errno(DWORD error, iocp_call call) {
  if (error == ERROR_ACCESS_DENIED) return call == IOCP_CALL_OPEN ? IOCP_UV_EACCES : IOCP_UV_EBADF;
  return common_errno(error);
}

int iocp_is_resource_shortage(DWORD error) {
  /* ReadFile/WriteFile documents these for "too many outstanding
   * asynchronous I/O requests"; the IO itself is fine. */
  return error == ERROR_INVALID_USER_BUFFER || error == ERROR_NOT_ENOUGH_MEMORY || error == ERROR_NOT_ENOUGH_QUOTA ||
         error == ERROR_NO_SYSTEM_RESOURCES || error == ERROR_WORKING_SET_QUOTA || error == ERROR_NONPAGED_SYSTEM_RESOURCES;
}

const iocp_errno_entry *iocp_errno_table(size_t *count) {
  *count = sizeof kTable / sizeof kTable[0];
  return kTable;
}
