/*
 * emulated_addon.c: the Linux test build of the kqueue method.  It exports
 * the same AioNativeBinding functions as the FreeBSD addon (binding.c over
 * the portable request table), with the fake provider of fake.c in place of
 * aio + kevent, plus controls for the tests:
 *   fakeConfigure(context, { hold, refuseErrno, refuseCount, failErrno, failCount, cancelAnswer,
 *                            reapErrno, reapErrorCount })
 *   fakeRelease(context, positions | 'fifo' | 'reverse') -> finished count
 *   fakeState(context) -> { pending, ready, submitted, reaps, cancels, maxPending }
 */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "fake.h"

static napi_value fake_probe(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, available, reason;
  napi_create_object(env, &result);
  napi_get_boolean(env, true, &available);
  napi_create_string_utf8(env, "emulated: a fake kevent/aio provider (Linux test build, not FreeBSD)", NAPI_AUTO_LENGTH, &reason);
  napi_set_named_property(env, result, "available", available);
  napi_set_named_property(env, result, "reason", reason);
  return result;
}

static const aio_kq_provider_class FAKE_CLASS = {"emulated kqueue", fake_provider_create, fake_probe};

static fake_provider *provider_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return (fake_provider *)aio_kq_binding_provider_self(env, argv[0]);
}

/* Sets *out from options[name] when it is a number; leaves it alone otherwise. */
static void option_int(napi_env env, napi_value options, const char *name, int *out) {
  napi_value value;
  napi_valuetype type;
  int32_t number;
  if (napi_get_named_property(env, options, name, &value) != napi_ok || napi_typeof(env, value, &type) != napi_ok) return;
  if (type == napi_boolean) {
    bool flag;
    napi_get_value_bool(env, value, &flag);
    *out = flag;
  } else if (type == napi_number && napi_get_value_int32(env, value, &number) == napi_ok) {
    *out = number;
  }
}

static napi_value fake_configure(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  fake_provider *p = provider_arg(env, info, 2, argv);
  if (p == NULL) return NULL;
  int refuse_count = (int)p->refuse_count, fail_count = (int)p->fail_count, reap_error_count = (int)p->reap_error_count;
  option_int(env, argv[1], "hold", &p->hold);
  option_int(env, argv[1], "refuseErrno", &p->refuse_errno);
  option_int(env, argv[1], "refuseCount", &refuse_count);
  option_int(env, argv[1], "failErrno", &p->fail_errno);
  option_int(env, argv[1], "failCount", &fail_count);
  option_int(env, argv[1], "cancelAnswer", &p->cancel_answer);
  option_int(env, argv[1], "reapErrno", &p->reap_errno);
  option_int(env, argv[1], "reapErrorCount", &reap_error_count);
  p->refuse_count = refuse_count < 0 ? 0 : (uint32_t)refuse_count;
  p->fail_count = fail_count < 0 ? 0 : (uint32_t)fail_count;
  p->reap_error_count = reap_error_count < 0 ? 0 : (uint32_t)reap_error_count;
  return NULL;
}

/* The release order: positions from a JS array, or every pending request first-in-first-out or reversed. */
static uint32_t release_order(napi_env env, napi_value spec, const fake_provider *p, uint32_t *order) {
  bool is_array = false;
  uint32_t count = 0;
  napi_is_array(env, spec, &is_array);
  if (is_array) {
    napi_get_array_length(env, spec, &count);
    if (count > p->capacity) count = p->capacity;
    for (uint32_t i = 0; i < count; i++) {
      napi_value element;
      uint32_t position = UINT32_MAX;
      napi_get_element(env, spec, i, &element);
      napi_get_value_uint32(env, element, &position);
      order[i] = position;
    }
    return count;
  }
  char text[16] = "";
  size_t length = 0;
  napi_get_value_string_utf8(env, spec, text, sizeof text, &length);
  int reverse = strcmp(text, "reverse") == 0;
  for (uint32_t i = 0; i < p->npending; i++) order[i] = reverse ? p->npending - 1 - i : i;
  return p->npending;
}

static napi_value fake_release(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  fake_provider *p = provider_arg(env, info, 2, argv);
  if (p == NULL) return NULL;
  uint32_t *order = (uint32_t *)calloc(p->capacity, sizeof(uint32_t));
  if (order == NULL) return NULL;
  uint32_t count = release_order(env, argv[1], p, order);
  uint32_t done = fake_provider_release(p, order, count);
  free(order);
  napi_create_uint32(env, done, &result);
  return result;
}

static void set_number(napi_env env, napi_value object, const char *name, double value) {
  napi_value number;
  napi_create_double(env, value, &number);
  napi_set_named_property(env, object, name, number);
}

static napi_value fake_state(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  fake_provider *p = provider_arg(env, info, 1, argv);
  if (p == NULL) return NULL;
  napi_create_object(env, &result);
  set_number(env, result, "pending", p->npending);
  set_number(env, result, "ready", p->nready);
  set_number(env, result, "submitted", (double)p->submitted);
  set_number(env, result, "reaps", (double)p->reaps);
  set_number(env, result, "cancels", (double)p->cancels);
  set_number(env, result, "maxPending", (double)p->max_pending);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor controls[] = {
      {"fakeConfigure", NULL, fake_configure, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fakeRelease", NULL, fake_release, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fakeState", NULL, fake_state, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (aio_kq_binding_define(env, exports, &FAKE_CLASS) != napi_ok) return NULL;
  if (napi_define_properties(env, exports, 3, controls) != napi_ok) return NULL;
  return exports;
}
