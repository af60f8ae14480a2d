/*
 * threadpool_win32.cc: what the threadpool method does differently on
 * Windows, and nothing else.  The pool, its queue and the completions are
 * the same code on every platform (threadpool.cc, binding.cc); only the
 * file and the system calls differ:
 *
 * - Files are Win32 HANDLEs that the method opens itself (openFile, with
 *   CreateFileW).  node:fs would give a CRT fd from Node's UCRT, which this
 *   mingw-w64 build (linked against msvcrt.dll) cannot translate into a
 *   HANDLE; see /work/shared/notes/platforms.md.
 * - Handles are opened for synchronous IO.  A worker reads or writes at an
 *   offset by passing an OVERLAPPED with that offset to ReadFile/WriteFile,
 *   which on a synchronous handle blocks until the transfer is done.
 *   Windows serialises synchronous IO on one file object, so several workers
 *   on one file take turns; the iocp method is the one for parallel IO on a
 *   single file.
 * - Vectored IO has no Win32 call for arbitrary buffers (ReadFileScatter
 *   needs page-sized, page-aligned, unbuffered segments): readv and writev
 *   move one buffer after the other and stop at the first short transfer.
 * - fsync and fdatasync both map to FlushFileBuffers.
 * - Errors are returned in Node's numbering on Windows, libuv's UV_E* codes
 *   (uv/errno.h), so the core names them exactly as node:fs would.
 */
#ifdef _WIN32

#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "threadpool.h"

namespace {

/* libuv's error numbers on Windows (UV__E* in uv/errno.h). */
const int32_t kUvEacces = -4092;
const int32_t kUvEbadf = -4083;
const int32_t kUvEbusy = -4082;
const int32_t kUvEcanceled = -4081;
const int32_t kUvEexist = -4075;
const int32_t kUvEinval = -4071;
const int32_t kUvEio = -4070;
const int32_t kUvEmfile = -4066;
const int32_t kUvEnametoolong = -4064;
const int32_t kUvEnoent = -4058;
const int32_t kUvEnomem = -4057;
const int32_t kUvEnospc = -4055;
const int32_t kUvEperm = -4048;
const int32_t kUvErofs = -4043; /* -4036 is EFBIG */

/* The Win32 error codes a file IO can end with, in libuv's numbering (as uv_translate_sys_error does). */
int32_t uv_error_from_win32(DWORD error) {
  switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_INVALID_NAME:
    case ERROR_DIRECTORY:
      return kUvEnoent;
    case ERROR_ACCESS_DENIED:
      return kUvEperm;
    case ERROR_WRITE_PROTECT:
      return kUvErofs;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
      return kUvEbusy;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
      return kUvEexist;
    case ERROR_INVALID_HANDLE:
      return kUvEbadf;
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_FUNCTION:
    case ERROR_NEGATIVE_SEEK:
      return kUvEinval;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return kUvEnospc;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
      return kUvEnomem;
    case ERROR_TOO_MANY_OPEN_FILES:
      return kUvEmfile;
    case ERROR_FILENAME_EXCED_RANGE:
      return kUvEnametoolong;
    case ERROR_OPERATION_ABORTED:
      return kUvEcanceled;
    case ERROR_CANT_ACCESS_FILE:
      return kUvEacces;
    default:
      return kUvEio;
  }
}

HANDLE handle_of(const aio_io *io) { return (HANDLE)(intptr_t)io->file; }

/* At most this much per ReadFile/WriteFile call (a DWORD count, and an int32 result). */
const size_t kMaxChunk = 0x7ffff000;

/*
 * One positional transfer of `length` bytes at `offset`, in chunks.
 * Returns the bytes moved (fewer at end of file) or a negative errno.
 */
int64_t transfer(HANDLE file, bool write, char *buffer, size_t length, uint64_t offset) {
  size_t done = 0;
  while (done < length) {
    size_t chunk = length - done < kMaxChunk ? length - done : kMaxChunk;
    OVERLAPPED at;
    memset(&at, 0, sizeof at);
    at.Offset = (DWORD)((offset + done) & 0xffffffffu);
    at.OffsetHigh = (DWORD)((offset + done) >> 32);
    DWORD moved = 0;
    BOOL ok = write ? WriteFile(file, buffer + done, (DWORD)chunk, &moved, &at)
                    : ReadFile(file, buffer + done, (DWORD)chunk, &moved, &at);
    if (!ok) {
      DWORD error = GetLastError();
      if (!write && error == ERROR_HANDLE_EOF) break; /* end of file: a short read */
      if (done > 0) break;                             /* what moved before the error counts */
      /* A handle opened without the access the IO needs: libuv (fs__read,
       * fs__write) reports EBADF there, as POSIX does, not EPERM. */
      return error == ERROR_ACCESS_DENIED ? kUvEbadf : uv_error_from_win32(error);
    }
    done += moved;
    if (moved < chunk) break;
  }
  return (int64_t)done;
}

/* readv/writev: each buffer in turn at the running offset, stopping at a short transfer. */
int64_t transfer_vector(const aio_io *io, bool write) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < io->iovcnt; i++) {
    int64_t moved = transfer(handle_of(io), write, (char *)io->iov[i].base, io->iov[i].len, io->offset + total);
    if (moved < 0) return total > 0 ? (int64_t)total : moved;
    total += (uint64_t)moved;
    if ((size_t)moved < io->iov[i].len) break;
  }
  return (int64_t)total;
}

int32_t clamp_result(int64_t value) { return value > 0x7fffffff ? 0x7fffffff : (int32_t)value; }

}  // namespace

int32_t tp_execute(const aio_io *io) {
  switch (io->op) {
    case AIO_OP_READ:
    case AIO_OP_WRITE:
      return clamp_result(transfer(handle_of(io), io->op == AIO_OP_WRITE, (char *)io->iov[0].base, io->iov[0].len, io->offset));
    case AIO_OP_READV:
    case AIO_OP_WRITEV:
      return clamp_result(transfer_vector(io, io->op == AIO_OP_WRITEV));
    case AIO_OP_FSYNC:
    case AIO_OP_FDATASYNC:
      return FlushFileBuffers(handle_of(io)) ? 0 : uv_error_from_win32(GetLastError());
    default:
      return kUvEinval;
  }
}

int32_t tp_canceled_result(void) { return kUvEcanceled; }

int32_t tp_invalid_result(void) { return kUvEinval; }

/* ------------------------------------------------------------------ */
/* openFile(path, flags) and closeFile(handle)                          */
/* ------------------------------------------------------------------ */

namespace {

struct open_flags {
  bool read, write, create, exclusive, truncate, direct, dsync;
  uint32_t mode;
};

bool get_flag(napi_env env, napi_value flags, const char *name) {
  napi_value value;
  bool result = false;
  if (napi_get_named_property(env, flags, name, &value) == napi_ok) napi_get_value_bool(env, value, &result);
  return result;
}

void read_open_flags(napi_env env, napi_value flags, open_flags *out) {
  out->read = get_flag(env, flags, "read");
  out->write = get_flag(env, flags, "write");
  out->create = get_flag(env, flags, "create");
  out->exclusive = get_flag(env, flags, "exclusive");
  out->truncate = get_flag(env, flags, "truncate");
  out->direct = get_flag(env, flags, "direct");
  out->dsync = get_flag(env, flags, "dsync");
  napi_value mode;
  out->mode = 0666;
  if (napi_get_named_property(env, flags, "mode", &mode) == napi_ok) napi_get_value_uint32(env, mode, &out->mode);
}

/* CreateFileW's disposition for the POSIX-style flags, as libuv's fs__open picks it. */
DWORD creation_disposition(const open_flags &f) {
  if (f.create && f.exclusive) return CREATE_NEW;
  if (f.create && f.truncate) return CREATE_ALWAYS;
  if (f.create) return OPEN_ALWAYS;
  if (f.truncate) return TRUNCATE_EXISTING;
  return OPEN_EXISTING;
}

/* The path as UTF-16, or NULL (freed by the caller). */
wchar_t *utf16_path(napi_env env, napi_value path) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, path, NULL, 0, &length) != napi_ok) return NULL;
  char *utf8 = (char *)malloc(length + 1);
  if (utf8 == NULL) return NULL;
  napi_get_value_string_utf8(env, path, utf8, length + 1, &length);
  int wide = MultiByteToWideChar(CP_UTF8, 0, utf8, -1, NULL, 0);
  wchar_t *result = wide > 0 ? (wchar_t *)malloc(sizeof(wchar_t) * (size_t)wide) : NULL;
  if (result != NULL) MultiByteToWideChar(CP_UTF8, 0, utf8, -1, result, wide);
  free(utf8);
  return result;
}

}  // namespace

namespace {

/* Remembers a HANDLE the context opened; false if the list cannot grow. */
bool remember(tp_file_list *files, int64_t handle) {
  if (files->count == files->capacity) {
    uint32_t capacity = files->capacity == 0 ? 8 : files->capacity * 2;
    int64_t *grown = (int64_t *)realloc(files->handles, sizeof(int64_t) * capacity);
    if (grown == NULL) return false;
    files->handles = grown;
    files->capacity = capacity;
  }
  files->handles[files->count++] = handle;
  return true;
}

/* Forgets a HANDLE; false if the context never opened it (or closed it already). */
bool forget(tp_file_list *files, int64_t handle) {
  for (uint32_t i = 0; i < files->count; i++) {
    if (files->handles[i] == handle) {
      files->handles[i] = files->handles[--files->count];
      return true;
    }
  }
  return false;
}

}  // namespace

void tp_files_close_all(tp_file_list *files) {
  for (uint32_t i = 0; i < files->count; i++) CloseHandle((HANDLE)(intptr_t)files->handles[i]);
  free(files->handles);
  files->handles = NULL;
  files->count = files->capacity = 0;
}

/*
 * openFile(context, path, flags).  Returns the HANDLE as a number (HANDLE
 * values are small multiples of 4, exact in a double), or a negative errno
 * (libuv numbering) that the JavaScript side turns into an AioIoError with
 * syscall 'open'.  The context owns the HANDLE from now on (see tp_file_list).
 */
napi_value tp_open_file(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  napi_valuetype types[2] = {napi_undefined, napi_undefined};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct tp_binding *b = argc >= 3 ? tp_unwrap_open(env, argv[0]) : NULL;
  if (b == NULL) {
    if (argc < 3) napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "openFile(context, path, flags)");
    return NULL;
  }
  napi_typeof(env, argv[1], &types[0]);
  napi_typeof(env, argv[2], &types[1]);
  if (types[0] != napi_string || types[1] != napi_object) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "openFile(context, path: string, flags: object)");
    return NULL;
  }
  open_flags f;
  read_open_flags(env, argv[2], &f);
  wchar_t *path = utf16_path(env, argv[1]);
  if (path == NULL) {
    napi_create_int32(env, kUvEnomem, &result);
    return result;
  }
  DWORD access = (f.read ? GENERIC_READ : 0) | (f.write ? GENERIC_WRITE : 0);
  DWORD attributes = (f.create && !(f.mode & 0200)) ? FILE_ATTRIBUTE_READONLY : FILE_ATTRIBUTE_NORMAL;
  if (f.direct) attributes |= FILE_FLAG_NO_BUFFERING;
  if (f.dsync) attributes |= FILE_FLAG_WRITE_THROUGH;
  HANDLE file = CreateFileW(path, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                            creation_disposition(f), attributes, NULL);
  DWORD error = GetLastError();
  free(path);
  if (file == INVALID_HANDLE_VALUE) {
    napi_create_int32(env, uv_error_from_win32(error), &result);
  } else if (!remember(tp_context_files(b), (int64_t)(intptr_t)file)) {
    CloseHandle(file);
    napi_create_int32(env, kUvEnomem, &result);
  } else {
    napi_create_double(env, (double)(intptr_t)file, &result);
  }
  return result;
}

/* closeFile(context, handle): only a HANDLE this context opened and has not closed is closed. */
napi_value tp_close_file(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  double value = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct tp_binding *b = argc >= 2 ? tp_unwrap_open(env, argv[0]) : NULL;
  if (b == NULL) {
    if (argc < 2) napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "closeFile(context, handle)");
    return NULL;
  }
  bool number = napi_get_value_double(env, argv[1], &value) == napi_ok && value > 0 && value <= 9007199254740991.0;
  if (!number || !forget(tp_context_files(b), (int64_t)value)) {
    napi_create_int32(env, kUvEbadf, &result);
    return result;
  }
  BOOL ok = CloseHandle((HANDLE)(intptr_t)value);
  napi_create_int32(env, ok ? 0 : uv_error_from_win32(GetLastError()), &result);
  return result;
}

#endif /* _WIN32 */
