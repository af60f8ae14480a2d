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
 * - stat, truncate and allocate are file_ops.c's Win32 calls
 *   (GetFileInformationByHandleEx, SetFileInformationByHandle with
 *   FileEndOfFileInfo and FileAllocationInfo), shared with the iocp method.
 * - Errors are returned in Node's numbering on Windows, libuv's UV_E* codes,
 *   through the kit's one Windows table (aio/win_errno.h), so the core names
 *   them exactly as node:fs would.
 */
#ifdef _WIN32

#include <stdlib.h>
#include <string.h>

#include "aio/win_errno.h"
#include "binding.h"
#include "threadpool.h"

namespace {

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
      /* A handle opened without the access the IO needs is EBADF (the kit's table). */
      return aio_win_errno(error, AIO_WIN_CALL_TRANSFER);
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
      return FlushFileBuffers(handle_of(io)) ? 0 : aio_win_errno(GetLastError(), AIO_WIN_CALL_FLUSH);
    case AIO_OP_STAT:
    case AIO_OP_TRUNCATE:
    case AIO_OP_ALLOCATE:
      return aio_file_op_execute(io);
    default:
      return AIO_UV_EINVAL;
  }
}

int32_t tp_canceled_result(void) { return AIO_UV_ECANCELED; }

int32_t tp_invalid_result(void) { return AIO_UV_EINVAL; }

/* ------------------------------------------------------------------ */
/* openFile(path, flags) and closeFile(handle): the kit opens (WinOpenFile) */
/* ------------------------------------------------------------------ */

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

/* The file list of the context in argument 0 of a call taking `argc` arguments; nullptr after throwing. */
tp_file_list *files_argument(const Napi::CallbackInfo &info, size_t argc, const char *usage) {
  if (info.Length() < argc) {
    aio::ThrowTypeError(info.Env(), usage);
    return nullptr;
  }
  return tp_files_of(info[0]);
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
Napi::Value tp_open_file(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  tp_file_list *files = files_argument(info, 3, "openFile(context, path, flags)");
  HANDLE file = NULL;
  int32_t error = 0;
  /* A synchronous handle: workers block in ReadFile/WriteFile (no extra flags). */
  if (files == nullptr || !aio::WinOpenFile(info, 0, &file, &error)) return Napi::Value();
  if (file == NULL) return Napi::Number::New(env, error);
  if (!remember(files, (int64_t)(intptr_t)file)) {
    CloseHandle(file);
    return Napi::Number::New(env, AIO_UV_ENOMEM);
  }
  return Napi::Number::New(env, (double)(intptr_t)file);
}

/* closeFile(context, handle): only a HANDLE this context opened and has not closed is closed. */
Napi::Value tp_close_file(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  tp_file_list *files = files_argument(info, 2, "closeFile(context, handle)");
  if (files == nullptr) return Napi::Value();
  double value = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  bool number = value > 0 && value <= 9007199254740991.0;
  if (!number || !forget(files, (int64_t)value)) return Napi::Number::New(env, AIO_UV_EBADF);
  BOOL ok = CloseHandle((HANDLE)(intptr_t)value);
  return Napi::Number::New(env, ok ? 0 : aio_win_errno(GetLastError(), AIO_WIN_CALL_FLUSH));
}

#endif /* _WIN32 */
