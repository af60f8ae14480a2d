// Smoke addon: proves that a mingw-w64 build loads in the official Windows
// node.exe and really calls Win32.  Not a backend; nothing depends on it.
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <napi.h>
#include <string>

namespace {

Napi::Value ProcessId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), GetCurrentProcessId());
}

// roundTrip(path, text): creates path, writes text, reads it back through the
// same HANDLE and returns what was read, or throws with GetLastError().
Napi::Value RoundTrip(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::u16string path = info[0].As<Napi::String>().Utf16Value();
  std::string text = info[1].As<Napi::String>().Utf8Value();
  HANDLE h = CreateFileW(reinterpret_cast<LPCWSTR>(path.c_str()), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                         CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  std::string back(text.size(), '\0');
  DWORD done = 0;
  bool ok = h != INVALID_HANDLE_VALUE && WriteFile(h, text.data(), static_cast<DWORD>(text.size()), &done, nullptr) &&
            SetFilePointer(h, 0, nullptr, FILE_BEGIN) == 0 &&
            ReadFile(h, back.data(), static_cast<DWORD>(back.size()), &done, nullptr);
  DWORD err = GetLastError();
  if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
  if (!ok) {
    Napi::Error::New(env, "roundTrip failed, GetLastError() = " + std::to_string(err)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  back.resize(done);
  return Napi::String::New(env, back);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("processId", Napi::Function::New(env, ProcessId));
  exports.Set("roundTrip", Napi::Function::New(env, RoundTrip));
  return exports;
}

}  // namespace

NODE_API_MODULE(smoke, Init)
