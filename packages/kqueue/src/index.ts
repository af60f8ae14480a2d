/**
 * @aio/kqueue: the kqueue IO method for @aio/core on FreeBSD.
 *
 * Each IO is a POSIX aio request (aio_read, aio_readv, aio_write,
 * aio_writev, aio_fsync) whose aiocb asks for SIGEV_KEVENT notification, so
 * its completion is posted as an EVFILT_AIO event on the context's kqueue.
 * libuv watches that kqueue's descriptor; when it turns readable the addon
 * reaps every ready event with kevent() (then aio_error/aio_return per
 * request) and hands the whole batch to the core in one call.  No thread is
 * involved.  See README.md for the design and what is verified where.
 *
 * Only FreeBSD has SIGEV_KEVENT (macOS has kqueue but not this); elsewhere
 * the probe answers `wrong platform` and the selector moves on.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AioMethodFactory, AioProbeResult } from '@aio/core';
import { defineNativeMethod, type AioNativeBinding, type NativeBindingLoad } from '@aio/core/method';
import { kqueueDefinition, type KqueueOptions } from './factory.js';

export type { KqueueOptions } from './factory.js';

/** The method name, as `AIO_METHOD`, the CLIs and the benchmark spell it. */
export const methodName = 'kqueue' as const;

/**
 * `AIO_KQUEUE_ADDON` may name another build of the addon by path: the tests
 * point it at the emulated build (test/emulated) so that a worker_thread or
 * a child process that loads this package by name runs the emulated method
 * on Linux.  Such a build answers for itself in its probe, so the platform
 * check is left out then; it is read once per thread, when this module loads.
 */
const ADDON_VARIABLE = 'AIO_KQUEUE_ADDON';
const addonOverridden = (process.env[ADDON_VARIABLE] ?? '') !== '';

const kq = defineNativeMethod(
  kqueueDefinition({
    packageUrl: import.meta.url,
    addon: 'aio_kqueue',
    addonPathVariable: ADDON_VARIABLE,
    ...(!addonOverridden && {
      platform: {
        only: 'freebsd',
        reason: (platform: NodeJS.Platform) =>
          `kqueue aio with SIGEV_KEVENT needs FreeBSD (this is ${platform}; macOS lacks sigev_notify_kqueue, use posix_aio or threadpool)`,
      },
    }),
    missingCode: 'not-built',
    probe: liveCheck,
  }),
);

/**
 * The live check on FreeBSD: the addon creates a kqueue, checks that
 * kevent() speaks the FreeBSD 12+ ABI (64-byte struct kevent), and reads one
 * byte of a scratch file with aio_read + SIGEV_KEVENT, reaped with kevent.
 * Run once per thread by the core; a throw is reported as `probe failed`.
 */
function liveCheck(binding: AioNativeBinding): AioProbeResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-kqueue-probe-'));
  let fd: number | undefined;
  try {
    const file = path.join(dir, 'probe');
    fs.writeFileSync(file, 'k');
    fd = fs.openSync(file, 'r');
    return binding.probe({ fd });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The addon, or why it is not there (`wrong platform` anywhere but FreeBSD); loaded once per thread. */
export function loadBinding(): NativeBindingLoad<AioNativeBinding> {
  return kq.loadBinding();
}

/**
 * Whether the kqueue method works here, and why not if it does not.  Never
 * throws; the answer is computed once per thread.
 */
export function probe(): AioProbeResult {
  return kq.probe();
}

/**
 * The kqueue method's factory: pass it to `new Aio({ method: kqueue() })`.
 * Throws AioUsageError for bad options; `create()` throws
 * AIO_ERR_METHOD_UNAVAILABLE with the probe's reason where the method
 * cannot work (any platform but FreeBSD).
 */
export function kqueue(options?: KqueueOptions): AioMethodFactory {
  return kq.factory(options);
}

/** The factory under the name every backend package exports. */
export const method = kqueue;
