/*
 * binding.h: the Node-API functions of the threadpool addon, as addon.cc
 * registers them.  They implement the core's AioNativeBinding contract
 * (packages/core/src/native-method.ts) plus the pool's own extras; every one
 * must be called on the JavaScript thread of the environment that created
 * the context it is given.
 */
#ifndef AIO_THREADPOOL_BINDING_H
#define AIO_THREADPOOL_BINDING_H

#include <node_api.h>
#include <stdint.h>

/* The AioNativeBinding contract. */
napi_value tp_probe(napi_env env, napi_callback_info info);
napi_value tp_create(napi_env env, napi_callback_info info);
napi_value tp_submit(napi_env env, napi_callback_info info);
napi_value tp_poll(napi_env env, napi_callback_info info);
napi_value tp_wait(napi_env env, napi_callback_info info);
napi_value tp_cancel(napi_env env, napi_callback_info info);
napi_value tp_stats(napi_env env, napi_callback_info info);
napi_value tp_close(napi_env env, napi_callback_info info);

/* executeSync(op, file, offset, length, views): one IO on the calling thread; bytes or -errno. */
napi_value tp_execute_sync(napi_env env, napi_callback_info info);
/* poolInfo(): the process-wide pool's numbers. */
napi_value tp_pool_info_js(napi_env env, napi_callback_info info);
/* setPaused(paused): test hook; paused workers take no new request. */
napi_value tp_set_paused(napi_env env, napi_callback_info info);

/*
 * The files a context opened itself (Windows: HANDLEs from openFile).  A
 * context owns them: closeFile() closes one, and close() or the
 * environment's teardown closes what is left, so a worker_thread that is
 * terminated with files open does not leave them open in the process.
 */
typedef struct tp_file_list {
  int64_t *handles;
  uint32_t count;
  uint32_t capacity;
} tp_file_list;

struct tp_binding;

/* The open context behind an external from create(), or NULL after throwing (binding.cc). */
struct tp_binding *tp_unwrap_open(napi_env env, napi_value value);

/* The context's own files (binding.cc). */
tp_file_list *tp_context_files(struct tp_binding *b);

/* Closes every file in the list and frees it (threadpool_win32.cc; nothing to do on POSIX). */
void tp_files_close_all(tp_file_list *files);

#ifdef _WIN32
/* openFile(context, path, flags): a HANDLE as a number, or a negative errno (threadpool_win32.cc). */
napi_value tp_open_file(napi_env env, napi_callback_info info);
/* closeFile(context, handle): 0 or a negative errno (threadpool_win32.cc). */
napi_value tp_close_file(napi_env env, napi_callback_info info);
#endif

/* Per-environment set-up: counts the environment in the pool and arranges for its teardown. */
napi_status tp_attach_env(napi_env env);

#endif /* AIO_THREADPOOL_BINDING_H */
