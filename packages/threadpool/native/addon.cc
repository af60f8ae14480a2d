/*
 * addon.cc: registers the threadpool addon's functions.  The kit
 * (aio/kit.hh) provides the core's contract over the context in binding.cc;
 * the pool lives in threadpool.cc, the Win32 file calls in
 * threadpool_win32.cc.
 */
#include "binding.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!tp_attach_env(env) || !aio::ExportMethod(env, exports, &tp_method_ops)) return Napi::Object();
  bool ok = aio::ExportFunctions(env, exports,
                                 {
                                     {"probe", tp_probe},
                                     {"executeSync", tp_execute_sync},
                                     {"poolInfo", tp_pool_info_js},
                                     {"setPaused", tp_set_paused},
#ifdef _WIN32
                                     {"openFile", tp_open_file},
                                     {"closeFile", tp_close_file},
#endif
                                 });
#ifdef _WIN32
  ok = ok && aio::ExportWinErrno(env, exports);
#endif
  if (!ok) return Napi::Object();
  return exports;
}

}  // namespace

NODE_API_MODULE(aio_threadpool, Init)
