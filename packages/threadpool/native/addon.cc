/*
 * addon.cc: registers the threadpool addon's functions.  The pool lives in
 * threadpool.cc, the Node-API surface in binding.cc, the Win32 file calls in
 * threadpool_win32.cc.
 */
#include "binding.h"

NAPI_MODULE_INIT() {
  const napi_property_descriptor functions[] = {
      {"probe", NULL, tp_probe, NULL, NULL, NULL, napi_enumerable, NULL},
      {"create", NULL, tp_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"submit", NULL, tp_submit, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poll", NULL, tp_poll, NULL, NULL, NULL, napi_enumerable, NULL},
      {"wait", NULL, tp_wait, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cancel", NULL, tp_cancel, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, tp_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, tp_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"executeSync", NULL, tp_execute_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poolInfo", NULL, tp_pool_info_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setPaused", NULL, tp_set_paused, NULL, NULL, NULL, napi_enumerable, NULL},
#ifdef _WIN32
      {"openFile", NULL, tp_open_file, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFile", NULL, tp_close_file, NULL, NULL, NULL, napi_enumerable, NULL},
#endif
  };
  if (tp_attach_env(env) != napi_ok) return NULL;
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  return exports;
}
