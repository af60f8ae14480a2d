/*
 * addon.c: registers the kqueue method's functions (FreeBSD).  The work is
 * in binding.c (portable Node-API glue), requests.c (portable request
 * table) and kqueue.c/probe.c (aio + kevent).
 */
#include <node_api.h>

#include "binding.h"
#include "kqueue.h"

static const aio_kq_provider_class KQUEUE_CLASS = {"kqueue", aio_kqueue_provider_create, aio_kqueue_probe};

NAPI_MODULE_INIT() {
  return aio_kq_binding_define(env, exports, &KQUEUE_CLASS) == napi_ok ? exports : NULL;
}
