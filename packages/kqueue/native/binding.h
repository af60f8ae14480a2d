/*
 * binding.h: the AioNativeBinding functions of the kqueue method
 * (packages/core/src/native-method.ts), over any request provider.
 *
 * The FreeBSD addon (addon.c) registers them with the kqueue provider; the
 * Linux test addon (test/emulated) registers them with a fake provider, so
 * that everything here (argument checks, the context's life cycle, the
 * event-loop watch, the bulk hand-off to JavaScript, teardown with IO in
 * flight) is exercised on Linux too.
 */
#ifndef AIO_KQ_BINDING_H
#define AIO_KQ_BINDING_H

#include <node_api.h>

#include "requests.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What an addon plugs into the binding. */
typedef struct aio_kq_provider_class {
  /* The method's name in error messages. */
  const char *name;
  /*
   * Creates a provider able to hold `capacity` requests.  Returns 0 and
   * fills *out, or -errno.  Runs on the JS thread.
   */
  int (*create)(uint32_t capacity, aio_rq_provider *out);
  /* The binding's `probe(options?)`: a live check that never throws. */
  napi_callback probe;
} aio_kq_provider_class;

/*
 * Defines probe, create, submit, poll, wait, cancel, stats, close and
 * liveContexts on `exports`.  `cls` must outlive the environment (a static
 * constant).
 */
napi_status aio_kq_binding_define(napi_env env, napi_value exports, const aio_kq_provider_class *cls);

/*
 * The provider state behind a context object from `create`, or NULL after
 * throwing a TypeError.  For test controls only (the fake provider).
 */
void *aio_kq_binding_provider_self(napi_env env, napi_value context);

#ifdef __cplusplus
}
#endif

#endif /* AIO_KQ_BINDING_H */
