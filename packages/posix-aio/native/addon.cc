/*
 * addon.cc: registers the posix_aio addon's functions: the kit's
 * (aio::ExportMethod: the AioNativeBinding contract of @aio/core, plus
 * liveContexts), and probe, forgetFile, doorbell and allocateSync.  The work is in
 * posix_aio.cc, reaper.cc, doorbell.cc, lanes.cc, context.cc and probe.cc.
 */
#include "posix_aio.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  /* Process-wide, once: aio_init from the environment, then the doorbell anchor. */
  aio_posix::ConfigureProcess();
  if (!aio::ExportMethod(env, exports, &aio_posix::kMethodOps) ||
      !aio::ExportFunctions(env, exports,
                            {
                                {"probe", aio_posix::Probe},
                                {"forgetFile", aio_posix::ForgetFile},
                                {"doorbell", aio_posix::DoorbellInfo},
                                {"allocateSync", aio_posix::AllocateSync},
                            })) {
    return Napi::Object();
  }
  return exports;
}

}  // namespace

NODE_API_MODULE(aio_posix_aio, Init)
