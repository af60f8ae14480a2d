/*
 * addon.cc: registers the io_uring method's functions (the AioNativeBinding
 * contract of @aio/core, plus forgetFile and describeSetupError).  The work
 * is in uring.cc and probe.cc.  Context-aware: nothing here is global, so
 * the addon loads in any number of worker threads at once.
 */
#include "uring.h"

NAPI_MODULE_INIT() {
  using namespace aio_uring;
  const napi_property_descriptor functions[] = {
      {"probe", nullptr, Probe, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"create", nullptr, Create, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"submit", nullptr, Submit, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"poll", nullptr, Poll, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"wait", nullptr, Wait, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"cancel", nullptr, Cancel, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"stats", nullptr, Stats, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"forgetFile", nullptr, ForgetFile, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"describeSetupError", nullptr, DescribeSetupError, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return nullptr;
  return exports;
}
