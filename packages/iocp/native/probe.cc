/*
 * probe.cc: the live check behind probe().  It does what the method does,
 * once: a completion port, a file associated with it (in skip mode when
 * the system allows), one overlapped write and one overlapped read of a
 * block through the port, compared byte for byte.
 */
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iocp.h"

namespace {

const DWORD kBlock = 4096;
const DWORD kTimeoutMs = 5000;

typedef const char *(__cdecl *wine_get_version_fn)(void);

/* Wine's version when this runs under Wine: ntdll exports wine_get_version there only. */
void detect_wine(iocp_probe_result *out) {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  FARPROC fn = ntdll != NULL ? GetProcAddress(ntdll, "wine_get_version") : NULL;
  if (fn != NULL) snprintf(out->wine, sizeof out->wine, "%s", ((wine_get_version_fn)(void *)fn)());
}

void fail(iocp_probe_result *out, const char *what, DWORD error) {
  out->available = 0;
  snprintf(out->code, sizeof out->code, "%s", "EIO");
  snprintf(out->reason, sizeof out->reason, "%s failed with Win32 error %lu", what, (unsigned long)error);
}

/*
 * Runs one overlapped transfer and waits for it the way the method does:
 * a success at once in skip mode is complete; anything pending (or a
 * success without skip mode) completes through the port.
 */
DWORD transfer(HANDLE port, HANDLE file, bool write, char *buffer, bool skip) {
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.Offset = kBlock;
  BOOL ok = write ? WriteFile(file, buffer, kBlock, NULL, &ov) : ReadFile(file, buffer, kBlock, NULL, &ov);
  if (!ok && GetLastError() != ERROR_IO_PENDING) return GetLastError();
  if (!(ok && skip)) {
    DWORD bytes;
    ULONG_PTR key;
    OVERLAPPED *done = NULL;
    if (!GetQueuedCompletionStatus(port, &bytes, &key, &done, kTimeoutMs) && done == NULL) {
      /* `ov` and the buffer must outlive the transfer: cancel it and wait
       * for its packet, which a cancelled transfer still gets. */
      CancelIoEx(file, &ov);
      while (done != &ov) GetQueuedCompletionStatus(port, &bytes, &key, &done, INFINITE);
      return ERROR_TIMEOUT;
    }
  }
  DWORD bytes = 0;
  if (!GetOverlappedResult(file, &ov, &bytes, FALSE)) return GetLastError();
  return bytes == kBlock ? 0 : ERROR_HANDLE_EOF;
}

/* The round trip on an open, associated file, with two blocks of `buffers`; fills `out`. */
void round_trip(iocp_probe_result *out, HANDLE port, HANDLE file, char *buffers) {
  char *written = buffers, *read_back = buffers + kBlock;
  for (DWORD i = 0; i < kBlock; i++) written[i] = (char)(i * 7 + 3);
  memset(read_back, 0, kBlock);
  DWORD error = transfer(port, file, true, written, out->skip_on_success);
  if (error != 0) return fail(out, "an overlapped WriteFile through the completion port", error);
  error = transfer(port, file, false, read_back, out->skip_on_success);
  if (error != 0) return fail(out, "an overlapped ReadFile through the completion port", error);
  if (memcmp(written, read_back, kBlock) != 0) return fail(out, "reading back what was written", ERROR_INVALID_DATA);
  out->available = 1;
  snprintf(out->reason, sizeof out->reason, "overlapped ReadFile/WriteFile through an I/O completion port work%s%s%s",
           out->skip_on_success ? " (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS available)" : "", out->wine[0] ? "; running under Wine " : "",
           out->wine);
}

}  // namespace

void iocp_probe(iocp_probe_result *out) {
  memset(out, 0, sizeof *out);
  detect_wine(out);
  wchar_t dir[MAX_PATH + 1], name[MAX_PATH + 1];
  if (GetTempPathW(MAX_PATH + 1, dir) == 0 || GetTempFileNameW(dir, L"aio", 0, name) == 0) {
    return fail(out, "creating a temporary file", GetLastError());
  }
  /* DELETE_ON_CLOSE: the file goes with the handle, whatever happens below. */
  HANDLE file = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                            FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE | FILE_ATTRIBUTE_TEMPORARY, NULL);
  if (file == INVALID_HANDLE_VALUE) {
    DWORD error = GetLastError();
    DeleteFileW(name);
    return fail(out, "CreateFileW with FILE_FLAG_OVERLAPPED", error);
  }
  /* Heap buffers: worker_threads may probe at the same time. */
  char *buffers = (char *)malloc(2 * kBlock);
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (buffers == NULL) {
    fail(out, "allocating the probe's buffers", ERROR_NOT_ENOUGH_MEMORY);
  } else if (port == NULL || CreateIoCompletionPort(file, port, IOCP_KEY_IO, 0) == NULL) {
    fail(out, "CreateIoCompletionPort", GetLastError());
  } else {
    out->skip_on_success =
        SetFileCompletionNotificationModes(file, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE) != 0;
    round_trip(out, port, file, buffers);
  }
  /* Closing the file first ends any transfer still in flight (a timed-out
   * one) before its buffer is freed. */
  CloseHandle(file);
  if (port != NULL) CloseHandle(port);
  free(buffers);
}

Napi::Value iocp_probe_js(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  iocp_probe_result probe;
  iocp_probe(&probe);
  Napi::Object result = Napi::Object::New(env), details = Napi::Object::New(env);
  result.Set("available", Napi::Boolean::New(env, probe.available != 0));
  result.Set("reason", Napi::String::New(env, probe.reason));
  if (!probe.available) result.Set("code", Napi::String::New(env, probe.code));
  details.Set("skipCompletionPortOnSuccess", Napi::Boolean::New(env, probe.skip_on_success != 0));
  if (probe.wine[0] != '\0') details.Set("wine", Napi::String::New(env, probe.wine));
  result.Set("details", details);
  return result;
}
