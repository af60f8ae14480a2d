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
import { loadNativeBinding, type AioNativeBinding } from '@aio/core/method';
import { checkKqueueOptions, makeKqueueFactory, type KqueueBindingSource, type KqueueOptions } from './factory.js';

export type { KqueueOptions } from './factory.js';

/** The method name, as `AIO_METHOD`, the CLIs and the benchmark spell it. */
export const methodName = 'kqueue';

let loaded: { binding: AioNativeBinding } | { reason: string; code: string } | undefined;
let probed: AioProbeResult | undefined;

function loadBinding(): { binding: AioNativeBinding } | { reason: string; code: string } {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'freebsd') {
    loaded = {
      reason: `wrong platform: kqueue aio with SIGEV_KEVENT needs FreeBSD (this is ${process.platform}; macOS lacks sigev_notify_kqueue, use posix_aio or threadpool)`,
      code: 'wrong-platform',
    };
    return loaded;
  }
  const result = loadNativeBinding<AioNativeBinding>(import.meta.url, 'aio_kqueue');
  loaded = 'reason' in result ? { reason: result.reason, code: 'not-built' } : result;
  return loaded;
}

/**
 * The live check on FreeBSD: the addon creates a kqueue, checks that
 * kevent() speaks the FreeBSD 12+ ABI (64-byte struct kevent), and reads one
 * byte of a scratch file with aio_read + SIGEV_KEVENT, reaped with kevent.
 */
function probeBinding(binding: AioNativeBinding): AioProbeResult {
  let dir: string | undefined;
  let fd: number | undefined;
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-kqueue-probe-'));
    const file = path.join(dir, 'probe');
    fs.writeFileSync(file, 'k');
    fd = fs.openSync(file, 'r');
    return binding.probe({ fd });
  } catch (error) {
    return { available: false, reason: `probe failed: ${(error as Error).message}`, code: 'probe-failed' };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Whether the kqueue method works here, and why not if it does not.  Never
 * throws; the answer is computed once per process.
 */
export function probe(): AioProbeResult {
  if (probed !== undefined) return probed;
  const result = loadBinding();
  probed = 'reason' in result ? { available: false, reason: result.reason, code: result.code } : probeBinding(result.binding);
  return probed;
}

/**
 * The kqueue method's factory: pass it to `new Aio({ method: kqueue() })`.
 * Throws AioUsageError for bad options; `create()` throws
 * AIO_ERR_METHOD_UNAVAILABLE with the probe's reason where the method
 * cannot work (any platform but FreeBSD).
 */
export function kqueue(options?: KqueueOptions): AioMethodFactory {
  const source: KqueueBindingSource = { load: loadBinding, probe: () => probe() };
  return makeKqueueFactory(checkKqueueOptions(options), source);
}

/** The factory under the name every backend package exports. */
export const method = kqueue;
