/*
 * addon.cc: registers the iocp addon's functions.  The kit (aio/kit.hh)
 * provides the core's contract over the context in binding.cc; the
 * mechanism is submit.cc (IO and the reaper), files.cc and probe.cc.
 */
#include "iocp.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!aio::ExportMethod(env, exports, &iocp_method_ops)) return Napi::Object();
  bool ok = aio::ExportFunctions(env, exports,
                                 {
                                     {"probe", iocp_probe_js},
                                     {"openFile", iocp_open_file_js},
                                     {"closeFile", iocp_close_file_js},
                                     {"executeSync", iocp_execute_sync_js},
                                 });
  /* errnoTable() and mapWin32Error(): the kit's Windows errno table, for the tests. */
  return ok && aio::ExportWinErrno(env, exports) ? exports : Napi::Object();
}

}  // namespace

NODE_API_MODULE(aio_iocp, Init)
