/*
 * files.cc: the files of one context.
 *
 * A file is opened here, never by node:fs: FILE_FLAG_OVERLAPPED and
 * FILE_FLAG_NO_BUFFERING cannot be asked for through node:fs, and the CRT
 * fd node:fs returns lives in Node's UCRT, which this mingw build (msvcrt)
 * cannot turn into a HANDLE.  A HANDLE can be associated with one
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

bool flag(napi_env env, napi_value flags, const char *name) {
  napi_value value;
  bool result = false;
  if (napi_get_named_property(env, flags, name, &value) == napi_ok) napi_get_value_bool(env, value, &result);
  return result;
}

/* CreateFileW's disposition for the POSIX-style flags (the same choice libuv makes for node:fs). */
DWORD disposition(bool create, bool exclusive, bool truncate) {
  if (create && exclusive) return CREATE_NEW;
  if (create && truncate) return CREATE_ALWAYS;
  if (create) return OPEN_ALWAYS;
  if (truncate) return TRUNCATE_EXISTING;
  return OPEN_EXISTING;
}

/* CreateFileW's flags and attributes: always overlapped; direct and dsync as asked. */
DWORD flags_and_attributes(napi_env env, napi_value flags) {
  DWORD result = FILE_FLAG_OVERLAPPED;
  napi_value mode_value;
  uint32_t mode = 0666;
  if (napi_get_named_property(env, flags, "mode", &mode_value) == napi_ok) napi_get_value_uint32(env, mode_value, &mode);
  /* Like node:fs: a file created without the owner's write bit is read-only. */
  result |= flag(env, flags, "create") && !(mode & 0200) ? FILE_ATTRIBUTE_READONLY : FILE_ATTRIBUTE_NORMAL;
  if (flag(env, flags, "direct")) result |= FILE_FLAG_NO_BUFFERING;
  if (flag(env, flags, "dsync")) result |= FILE_FLAG_WRITE_THROUGH;
  return result;
}

/* The open failure in Node's numbering; "access denied" on a directory is EISDIR, as POSIX open(2) says. */
int32_t open_errno(DWORD error, const wchar_t *path) {
  if (error == ERROR_ACCESS_DENIED) {
    DWORD attributes = GetFileAttributesW(path);
    if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY)) return IOCP_UV_EISDIR;
  }
  return iocp_errno(error, IOCP_CALL_OPEN);
}

/*
 * Associates a new HANDLE with the context's port and, if the context
 * asks, puts it in skip mode.  Returns 0 or a Win32 error.
 */
DWORD attach(iocp_context *ctx, HANDLE handle, iocp_file *entry) {
  if (CreateIoCompletionPort(handle, ctx->port, IOCP_KEY_IO, 0) == NULL) return GetLastError();
  entry->handle = handle;
  /* FILE_SKIP_SET_EVENT_ON_HANDLE: nobody waits on the file object itself,
   * so the kernel need not signal it after every transfer. */
  entry->skip_on_success =
      ctx->skip_on_success &&
      SetFileCompletionNotificationModes(handle, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE);
  return 0;
}

}  // namespace

const iocp_file *iocp_files_find(const iocp_files *files, HANDLE handle) { return find_slot(files, handle); }

HANDLE iocp_open(iocp_context *ctx, const wchar_t *path, napi_env env, napi_value flags, int32_t *error) {
  if (reserve(&ctx->files) != 0) {
    *error = IOCP_UV_ENOMEM;
    return NULL;
  }
  bool read = flag(env, flags, "read"), write = flag(env, flags, "write");
  DWORD access = (read ? GENERIC_READ : 0) | (write ? GENERIC_WRITE : 0);
  /* The sharing node:fs uses, so other openers (and unlink) behave the same. */
  DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
  DWORD how = disposition(flag(env, flags, "create"), flag(env, flags, "exclusive"), flag(env, flags, "truncate"));
  HANDLE handle = CreateFileW(path, access, share, NULL, how, flags_and_attributes(env, flags), NULL);
  if (handle == INVALID_HANDLE_VALUE) {
    *error = open_errno(GetLastError(), path);
    return NULL;
  }
  iocp_file entry = {NULL, 0};
  DWORD failure = attach(ctx, handle, &entry);
  if (failure != 0) {
    CloseHandle(handle);
    *error = iocp_errno(failure, IOCP_CALL_OPEN);
    return NULL;
  }
  put(&ctx->files, entry);
  return handle;
}

int32_t iocp_close_file(iocp_context *ctx, HANDLE handle) {
  iocp_file *entry = find_slot(&ctx->files, handle);
  if (entry == NULL) return IOCP_UV_EBADF;
  remove_slot(&ctx->files, entry);
  return CloseHandle(handle) ? 0 : iocp_errno(GetLastError(), IOCP_CALL_OPEN);
}

void iocp_files_close_all(iocp_files *files) {
  for (uint32_t i = 0; i < files->capacity; i++) {
    if (files->slots[i].handle != NULL) CloseHandle(files->slots[i].handle);
  }
  free(files->slots);
  files->slots = NULL;
  files->capacity = 0;
  files->count = 0;
}
