/*
 * kqueue.h: the FreeBSD provider of the kqueue method (aio + SIGEV_KEVENT +
 * kevent) and its live check.  See kqueue.c and probe.c.
 */
#ifndef AIO_KQ_KQUEUE_H
#define AIO_KQ_KQUEUE_H

#include <node_api.h>
#include <stdint.h>

#include "requests.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a provider (one kqueue, `capacity` aiocbs); 0, or -errno. */
int aio_kqueue_provider_create(uint32_t capacity, aio_rq_provider *out);

/*
 * probe({ fd }) -> AioProbeResult.  Creates a kqueue, checks the kevent ABI,
 * and reads one byte of `fd` (a scratch file the JS side made) with aio_read
 * and SIGEV_KEVENT.  Never throws.
 */
napi_value aio_kqueue_probe(napi_env env, napi_callback_info info);

#ifdef __cplusplus
}
#endif

#endif /* AIO_KQ_KQUEUE_H */
