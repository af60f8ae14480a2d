/*
 * files.cc: the files of one context.
 *
 * A file is opened by the method, never by node:fs: FILE_FLAG_OVERLAPPED
 * and FILE_FLAG_NO_BUFFERING cannot be asked for through node:fs, and the
 * CRT fd node:fs returns lives in Node's UCRT, which this mingw build
 * (msvcrt) cannot turn into a HANDLE.  The kit's aio::WinOpenFile opens it
 * the way node:fs would (access, sharing, disposition, attributes, errors),
 * plus FILE_FLAG_OVERLAPPED.  A HANDLE can be associated with one
 * completion port for its whole life, so each file belongs to the context
 * that opened it; the core never lets another context use it.
 *
 * The context keeps a table of its open files.  Submission looks every IO's
 * HANDLE up in it: an IO on anything else (a stale or made-up number in
 * AioFile.fd) fails with EBADF instead of reaching ReadFile, and the entry
 * says whether the file is in FILE_SKIP_COMPLETION_PORT_ON_SUCCESS mode.
 * Files still open when the context is torn down (a worker_thread
 * terminated before closing them) are closed then.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iocp.h"

namespace {

uint32_t slot_of(HANDLE handle, uint32_t capacity) {
  /* HANDLE values are multiples of 4; Fibonacci hashing spreads them. */
  uint64_t key = (uint64_t)(uintptr_t)handle >> 2;
  return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 40) & (capacity - 1);
}

/* Inserts without growing; the caller made room. */
void put(iocp_files *files, iocp_file entry) {
  uint32_t i = slot_of(entry.handle, files->capacity);
  while (files->slots[i].handle != NULL) i = (i + 1) & (files->capacity - 1);
  files->slots[i] = entry;
  files->count++;
}

/* Keeps the load at most one half; returns 0 or -ENOMEM. */
int reserve(iocp_files *files) {
  if ((files->count + 1) * 2 <= files->capacity) return 0;
  uint32_t capacity = files->capacity == 0 ? 16 : files->capacity * 2;
  iocp_file *slots = (iocp_file *)calloc(capacity, sizeof *slots);
  if (slots == NULL) return -ENOMEM;
  iocp_files grown = {slots, capacity, 0};
  for (uint32_t i = 0; i < files->capacity; i++) {
    if (files->slots[i].handle != NULL) put(&grown, files->slots[i]);
  }
  free(files->slots);
  *files = grown;
  return 0;
}

iocp_file *find_slot(const iocp_files *files, HANDLE handle) {
  if (files->capacity == 0 || handle == NULL) return NULL;
  for (uint32_t i = slot_of(handle, files->capacity);; i = (i + 1) & (files->capacity - 1)) {
    if (files->slots[i].handle == handle) return &files->slots[i];
    if (files->slots[i].handle == NULL) return NULL;
  }
}

/* Removes an entry and shifts the rest of its probe run back, so lookups never need tombstones. */
void remove_slot(iocp_files *files, iocp_file *entry) {
  uint32_t mask = files->capacity - 1;
  uint32_t hole = (uint32_t)(entry - files->slots);
  files->slots[hole].handle = NULL;
  files->count--;
  for (uint32_t i = (hole + 1) & mask; files->slots[i].handle != NULL; i = (i + 1) & mask) {
    uint32_t home = slot_of(files->slots[i].handle, files->capacity);
    /* Move it into the hole unless its home lies cyclically in (hole, i]. */
    bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if (stays) continue;
    files->slots[hole] = files->slots[i];
    files->slots[i].handle = NULL;
    hole = i;
  }
}

/*
 * Associates a new HANDLE with the context's port and, if the context
 * asks, puts it in skip mode.  Returns 0 or a Win32 error.
 */
DWORD attach(IocpContext *ctx, HANDLE handle, iocp_file *entry) {
  if (CreateIoCompletionPort(handle, ctx->port, IOCP_KEY_IO, 0) == NULL) return GetLastError();
  entry->handle = handle;
  /* FILE_SKIP_SET_EVENT_ON_HANDLE: nobody waits on the file object itself,
   * so the kernel need not signal it after every transfer. */
  entry->skip_on_success =
      ctx->skip_on_success &&
      SetFileCompletionNotificationModes(handle, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE);
  return 0;
}

/* The open iocp context of a call's first argument, after checking there are `argc` arguments; nullptr after throwing. */
IocpContext *context_argument(const Napi::CallbackInfo &info, size_t argc, const char *usage) {
  if (info.Length() < argc) {
    aio::ThrowTypeError(info.Env(), usage);
    return nullptr;
  }
  return static_cast<IocpContext *>(aio::UnwrapOpen(info[0], &iocp_method_ops));
}

}  // namespace

const iocp_file *iocp_files_find(const iocp_files *files, HANDLE handle) { return find_slot(files, handle); }

void iocp_files_close_all(iocp_files *files) {
  for (uint32_t i = 0; i < files->capacity; i++) {
    if (files->slots[i].handle != NULL) CloseHandle(files->slots[i].handle);
  }
  free(files->slots);
  files->slots = NULL;
  files->capacity = 0;
  files->count = 0;
}

Napi::Value iocp_open_file_js(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  IocpContext *ctx = context_argument(info, 3, "openFile(context, path, flags)");
  HANDLE handle = NULL;
  int32_t error = 0;
  /* The kit opens as node:fs does; this method adds FILE_FLAG_OVERLAPPED. */
  if (ctx == nullptr || !aio::WinOpenFile(info, FILE_FLAG_OVERLAPPED, &handle, &error)) return Napi::Value();
  if (handle == NULL) return Napi::Number::New(env, error);
  iocp_file entry = {NULL, 0};
  DWORD failure = reserve(&ctx->files) == 0 ? attach(ctx, handle, &entry) : ERROR_NOT_ENOUGH_MEMORY;
  if (failure != 0) {
    CloseHandle(handle);
    return Napi::Number::New(env, aio_win_errno(failure, AIO_WIN_CALL_OPEN));
  }
  /* From here the context owns the HANDLE: closeFile, or Quiesce for those still open. */
  put(&ctx->files, entry);
  return Napi::Number::New(env, (double)(intptr_t)handle);
}

Napi::Value iocp_close_file_js(const Napi::CallbackInfo &info) {
  IocpContext *ctx = context_argument(info, 2, "closeFile(context, handle)");
  double value;
  if (ctx == nullptr || !aio::ReadInteger(info[1], 0, 9007199254740991.0, "handle must be a number from openFile()", &value)) {
    return Napi::Value();
  }
  HANDLE handle = (HANDLE)(intptr_t)value;
  iocp_file *entry = find_slot(&ctx->files, handle);
  if (entry == NULL) return Napi::Number::New(info.Env(), AIO_UV_EBADF);
  remove_slot(&ctx->files, entry);
  return Napi::Number::New(info.Env(), CloseHandle(handle) ? 0 : aio_win_errno(GetLastError(), AIO_WIN_CALL_FLUSH));
}
