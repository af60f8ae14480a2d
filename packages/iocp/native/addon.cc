/*
 * addon.cc: registers the iocp addon's functions.  The Node-API surface is
 * binding.cc; the mechanism is submit.cc (IO and the reaper), files.cc,
 * errors.cc and probe.cc.
 */
#include "binding.h"

#define IOCP_FUNCTION(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

NAPI_MODULE_INIT() {
  const napi_property_descriptor functions[] = {
      IOCP_FUNCTION("probe", iocp_probe_js),
      IOCP_FUNCTION("create", iocp_create_js),
      IOCP_FUNCTION("submit", iocp_submit_js),
      IOCP_FUNCTION("poll", iocp_poll_js),
      IOCP_FUNCTION("wait", iocp_wait_js),
      IOCP_FUNCTION("cancel", iocp_cancel_js),
      IOCP_FUNCTION("stats", iocp_stats_js),
      IOCP_FUNCTION("close", iocp_close_js),
      IOCP_FUNCTION("openFile", iocp_open_file_js),
      IOCP_FUNCTION("closeFile", iocp_close_file_js),
      IOCP_FUNCTION("executeSync", iocp_execute_sync_js),
      IOCP_FUNCTION("errnoTable", iocp_errno_table_js),
      IOCP_FUNCTION("mapWin32Error", iocp_map_error_js),
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  return exports;
}
