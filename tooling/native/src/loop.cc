/*
 * loop.cc: the event-loop completion watcher.  See aio/loop.hh.
 */
#include "aio/loop.hh"

#include "context_access.hh"

namespace aio {

/*
 * Who holds what: the LoopCompletions points at the watcher until Stop;
 * after Stop the watcher belongs to libuv until its close callback, which
 * frees it and lets Node finish the environment's teardown (the async
 * cleanup hook) if that is what is waiting.
 */
struct LoopCompletions::Watcher {
  uv_poll_t poll;
  Context *context;          /* cleared by Stop: no callback reaches the context afterwards */
  LoopCompletions::Ready ready;
  napi_env env;
  /* The async context onComplete runs in (async_hooks, and microtasks run after it); until Stop. */
  napi_async_context async;
  napi_async_cleanup_hook_handle teardown; /* until the handle is closed */
  bool closing;
};

namespace {

using Watcher = LoopCompletions::Watcher;

/*
 * A libuv callback is not inside any JavaScript scope: open a handle scope
 * and a callback scope (so the microtasks onComplete queues, the awaiting
 * Promises, run right after it, as they do after a thread-safe function's
 * call), and hand an exception onComplete threw to Node as uncaught.
 */
void OnReadable(uv_poll_t *handle, int status, int events) {
  Watcher *w = static_cast<Watcher *>(handle->data);
  if (w->context == nullptr || !w->context->open()) return;
  napi_env env = w->env;
  napi_handle_scope handles;
  if (napi_open_handle_scope(env, &handles) != napi_ok) return;
  napi_value resource;
  napi_callback_scope scope = nullptr;
  if (napi_create_object(env, &resource) == napi_ok) napi_open_callback_scope(env, resource, w->async, &scope);
  /* An error on the fd still means "look": the backend's reap finds out. */
  w->ready(w->context);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
  }
  if (scope != nullptr) napi_close_callback_scope(env, scope);
  napi_close_handle_scope(env, handles);
}

void OnClosed(uv_handle_t *handle) {
  Watcher *w = static_cast<Watcher *>(handle->data);
  if (w->teardown != nullptr) napi_remove_async_cleanup_hook(w->teardown);
  delete w;
}

void Close(Watcher *w) {
  if (w->closing) return;
  w->closing = true;
  w->context = nullptr;
  if (w->async != nullptr) napi_async_destroy(w->env, w->async);
  w->async = nullptr;
  uv_poll_stop(&w->poll); /* synchronous: the fd leaves libuv's set now */
  uv_close(reinterpret_cast<uv_handle_t *>(&w->poll), OnClosed);
}

/*
 * The environment is going away.  The context's own (synchronous) hook is
 * newer, so it ran first and its Quiesce stopped the watcher; if not (a
 * backend that never called Stop), stop it here.  Node waits until
 * OnClosed removes this hook.
 */
void OnTeardown(napi_async_cleanup_hook_handle handle, void *arg) {
  Watcher *w = static_cast<Watcher *>(arg);
  Close(w);
}

}  // namespace

bool LoopCompletions::Init(Context *context, int fd, Ready ready) {
  Napi::Env env = context->env();
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    ThrowError(env, "AIO_ERR_NATIVE", "cannot reach the event loop");
    return false;
  }
  Watcher *w = new Watcher();
  w->context = context;
  w->ready = ready;
  w->env = env;
  napi_value name;
  if (napi_create_string_utf8(env, "aio:completions", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, nullptr, name, &w->async) != napi_ok) {
    delete w;
    ThrowError(env, "AIO_ERR_NATIVE", "cannot create the completion async context");
    return false;
  }
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    napi_async_destroy(env, w->async);
    delete w;
    ThrowError(env, "AIO_ERR_NATIVE", "cannot watch the completion descriptor");
    return false;
  }
  w->poll.data = w;
  if (napi_add_async_cleanup_hook(env, OnTeardown, w, &w->teardown) != napi_ok) w->teardown = nullptr;
  uv_poll_start(&w->poll, UV_READABLE, OnReadable);
  uv_unref(reinterpret_cast<uv_handle_t *>(&w->poll)); /* idle: the loop may end */
  watcher_ = w;
  ContextAccess::Loop(context) = this;
  return true;
}

void LoopCompletions::Stop() {
  if (watcher_ == nullptr) return;
  Close(watcher_);
  watcher_ = nullptr;
}

void LoopCompletions::KeepLoopAlive(bool alive) {
  if (watcher_ == nullptr) return;
  uv_handle_t *handle = reinterpret_cast<uv_handle_t *>(&watcher_->poll);
  if (alive) uv_ref(handle);
  else uv_unref(handle);
}

}  // namespace aio
