/*
 * binding.h: the threadpool method's native context on the kit
 * (tooling/native/include/aio/kit.hh), and the addon's own functions, as
 * addon.cc registers them.  The kit implements the core's AioNativeBinding
 * contract (create, submit, poll, wait, cancel, stats, close) and the
 * context's lifecycle; this backend implements its mechanism: submit into
 * the process-wide pool (threadpool.cc), poll, wait, cancel and quiesce.
 * Every function runs on the JavaScript thread of the environment that
 * created the context it is given.
 */
#ifndef AIO_THREADPOOL_BINDING_H
#define AIO_THREADPOOL_BINDING_H

#include <stdint.h>

#include "aio/kit.hh"
#include "threadpool.h"

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

/* Closes every file in the list and frees it (threadpool_win32.cc; nothing to do on POSIX). */
void tp_files_close_all(tp_file_list *files);

/* The threadpool's kit description: name, type tag, create (binding.cc). */
extern const aio::MethodOps tp_method_ops;

/* The open context's own files, or nullptr after throwing (a wrong or closed context). */
tp_file_list *tp_files_of(Napi::Value context);

/* executeSync(op, file, offset, length, views): one IO on the calling thread; bytes or -errno. */
Napi::Value tp_execute_sync(const Napi::CallbackInfo &info);
/* poolInfo(): the process-wide pool's numbers. */
Napi::Value tp_pool_info_js(const Napi::CallbackInfo &info);
/* setPaused(paused): test hook; paused workers take no new request. */
Napi::Value tp_set_paused(const Napi::CallbackInfo &info);
/* probe(): a live check that a thread starts; never throws. */
Napi::Value tp_probe(const Napi::CallbackInfo &info);

#ifdef _WIN32
/* openFile(context, path, flags): a HANDLE as a number, or a negative errno (threadpool_win32.cc). */
Napi::Value tp_open_file(const Napi::CallbackInfo &info);
/* closeFile(context, handle): 0 or a negative errno (threadpool_win32.cc). */
Napi::Value tp_close_file(const Napi::CallbackInfo &info);
#endif

/* Per-environment set-up: counts the environment in the pool and arranges for its teardown; false after throwing. */
bool tp_attach_env(Napi::Env env);

#endif /* AIO_THREADPOOL_BINDING_H */
