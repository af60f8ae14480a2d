/*
 * addon.cc: registers the posix_aio addon's functions (the AioNativeBinding
 * contract of @aio/core, plus forgetFile and doorbell).  The work is in
 * posix_aio.cc, reaper.cc, doorbell.cc, lanes.cc, context.cc and probe.cc.
 */
#include <node_api.h>

#include "posix_aio.h"

NAPI_MODULE_INIT() {
  /* Process-wide, once: aio_init from the environment, then the doorbell anchor. */
  aio_posix::ConfigureProcess();
  if (aio_posix::InitEnv(env) != napi_ok) {
    napi_throw_error(env, "AIO_ERR_NATIVE", "cannot set up the posix_aio addon in this environment");
    return nullptr;
  }
  const napi_property_descriptor functions[] = {
      {"probe", nullptr, aio_posix::Probe, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"create", nullptr, aio_posix::Create, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"submit", nullptr, aio_posix::Submit, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"poll", nullptr, aio_posix::Poll, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"wait", nullptr, aio_posix::Wait, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"cancel", nullptr, aio_posix::Cancel, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"stats", nullptr, aio_posix::Stats, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"close", nullptr, aio_posix::Close, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"forgetFile", nullptr, aio_posix::ForgetFile, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"doorbell", nullptr, aio_posix::DoorbellInfo, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
