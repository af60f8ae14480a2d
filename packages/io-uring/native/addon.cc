/*
 * addon.cc: registers the io_uring method's functions: the core's contract
 * (AioNativeBinding in @aio/core: create, submit, poll, wait, cancel,
 * stats, close), which the shared kit (aio/kit.hh) provides over the
 * context in uring.cc, plus probe and describeSetupError (probe.cc) and
 * forgetFile.  Context-aware: nothing here is global, so the addon loads in
 * any number of worker threads at once.
 */
#include <cstdlib>
#include <cstring>

#include "uring.h"

namespace {

using namespace aio_uring;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  /* The probe is plain Node-API (probe.cc): it makes no context. */
  const napi_property_descriptor probes[] = {
      {"probe", nullptr, Probe, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"describeSetupError", nullptr, DescribeSetupError, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  if (!aio::ExportMethod(env, exports, &uring_ops) || !aio::ExportFunctions(env, exports, {{"forgetFile", ForgetFile}}) ||
      napi_define_properties(env, exports, 2, probes) != napi_ok) {
    return Napi::Object();
  }
  /* Fault injection for the tests only: absent unless the process asked for it before loading the addon. */
  const char *hooks = getenv("AIO_IO_URING_TEST_HOOKS");
  if (hooks != nullptr && strcmp(hooks, "1") == 0 && !aio::ExportFunctions(env, exports, {{"injectEnterFaults", InjectEnterFaults}})) {
    return Napi::Object();
  }
  return exports;
}

}  // namespace

NODE_API_MODULE(aio_io_uring, Init)
