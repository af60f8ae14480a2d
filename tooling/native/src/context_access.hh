/*
 * context_access.hh: the kit's own access to a Context's private fields
 * (kit.cc, loop.cc).  Not for backends: they use the public API in
 * aio/kit.hh.
 */
#ifndef AIO_CONTEXT_ACCESS_HH
#define AIO_CONTEXT_ACCESS_HH

#include "aio/kit.hh"

namespace aio {

/* Reaches the private fields of a Context from the functions below. */
struct ContextAccess {
  static void Bind(Context *ctx, Napi::Env env, const ContextArgs &args, Napi::Float64Array words, Napi::Int32Array table,
                   Napi::Function on_complete) {
    ctx->env_ = env;
    ctx->capacity_ = args.capacity;
    ctx->words_ = args.words;
    ctx->table_ = args.table;
    ctx->words_ref_ = Napi::Persistent(words);
    ctx->table_ref_ = Napi::Persistent(table);
    ctx->on_complete_ = Napi::Weak(on_complete);
  }
  /* The last step of create: from here on the context is open and torn down with its environment. */
  static void Open(Context *ctx, Napi::Object self) {
    ctx->self_ = Napi::Weak(self);
    ctx->open_ = true;
    ctx->cleanup_ = ctx->env_.AddCleanupHook(TeardownHook, ctx);
  }
  /* The environment is going away: Node frees the hook's record after this returns. */
  static void TeardownHook(Context *ctx) {
    ctx->cleanup_ = Napi::Env::CleanupHook<void (*)(Context *), Context>();
    ctx->Close(true);
  }
  /* A started context whose object could not be made: close it and free it. */
  static void Discard(Context *ctx) {
    ctx->open_ = true;
    ctx->Close(false);
    delete ctx;
  }
  static const MethodOps *&Ops(Context *ctx) { return ctx->ops_; }
  /* Whether `value` is this context's own object (identity, not a tag check); false once closed. */
  static bool IsSelf(Context *ctx, napi_value value) {
    if (ctx->self_.IsEmpty()) return false;
    napi_value self = nullptr;
    bool same = false;
    return napi_get_reference_value(ctx->env_, ctx->self_, &self) == napi_ok && self != nullptr &&
           napi_strict_equals(ctx->env_, self, value, &same) == napi_ok && same;
  }
  static ThreadCompletions *&Threads(Context *ctx) { return ctx->threads_; }
  static LoopLiveness *&Loop(Context *ctx) { return ctx->loop_; }
};

}  // namespace aio

#endif /* AIO_CONTEXT_ACCESS_HH */
