/*
 * binding.h: the Node-API functions of the iocp addon, as addon.cc
 * registers them.  They implement the core's AioNativeBinding contract
 * (packages/core/src/native-method.ts) plus the files and synchronous
 * execution the core asks of a HANDLE method; each must be called on the
 * JavaScript thread of the environment that created the context it gets.
 */
#ifndef AIO_IOCP_BINDING_H
#define AIO_IOCP_BINDING_H

#include <node_api.h>

/* The AioNativeBinding contract. */
napi_value iocp_probe_js(napi_env env, napi_callback_info info);
napi_value iocp_create_js(napi_env env, napi_callback_info info);
napi_value iocp_submit_js(napi_env env, napi_callback_info info);
napi_value iocp_poll_js(napi_env env, napi_callback_info info);
napi_value iocp_wait_js(napi_env env, napi_callback_info info);
napi_value iocp_cancel_js(napi_env env, napi_callback_info info);
napi_value iocp_stats_js(napi_env env, napi_callback_info info);
napi_value iocp_close_js(napi_env env, napi_callback_info info);

/* openFile(context, path, flags): a HANDLE as a number, or Node's negative errno. */
napi_value iocp_open_file_js(napi_env env, napi_callback_info info);
/* closeFile(context, handle): 0, or Node's negative errno. */
napi_value iocp_close_file_js(napi_env env, napi_callback_info info);
/* executeSync(context, op, handle, offset, length, views): one IO on this thread; bytes or a negative errno. */
napi_value iocp_execute_sync_js(napi_env env, napi_callback_info info);

/* Test hooks: errnoTable() lists the errno values the addon uses by name;
 * mapWin32Error(code, call) maps one Win32 error ('open', 'transfer', 'flush'). */
napi_value iocp_errno_table_js(napi_env env, napi_callback_info info);
napi_value iocp_map_error_js(napi_env env, napi_callback_info info);

#endif /* AIO_IOCP_BINDING_H */
