/**
 * The kqueue method's factory over any binding that follows the
 * `AioNativeBinding` contract: the FreeBSD addon in production, the
 * emulated (fake kevent/aio) addon in the Linux tests.  Nothing here is
 * FreeBSD-specific; `index.ts` decides which binding and probe to use.
 */
import * as fs from 'node:fs';
import { AioUsageError, type AioMethodFactory, type AioProbeResult } from '@aio/core';
import { NativeMethod, unavailableMethod, type AioNativeBinding, type NativeMethodSpec } from '@aio/core/method';

/** Options of the kqueue method. */
export interface KqueueOptions {
  /**
   * The most IOs this context keeps in the kernel at once (1 to 1024; by
   * default the context's `maxConcurrency`).  FreeBSD also limits queued aio
   * requests per process (`vfs.aio.max_aio_queue_per_proc`); past either
   * limit an IO runs synchronously and counts as a fallback.
   */
  maxInFlight?: number;
}

/** Throws AioUsageError unless `options` is a valid {@link KqueueOptions}; returns a copy. */
export function checkKqueueOptions(options: unknown): KqueueOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', 'kqueue options must be an object such as { maxInFlight: 32 }');
  }
  const { maxInFlight, ...rest } = options as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', `unknown kqueue option ${JSON.stringify(unknown[0])}; known: maxInFlight`);
  }
  if (maxInFlight !== undefined && (!Number.isInteger(maxInFlight) || (maxInFlight as number) < 1 || (maxInFlight as number) > 1024)) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', `kqueue option maxInFlight must be an integer from 1 to 1024, got ${String(maxInFlight)}`);
  }
  return maxInFlight === undefined ? {} : { maxInFlight: maxInFlight as number };
}

/** Where a factory gets its binding and its live check. */
export interface KqueueBindingSource {
  /** The binding, or why there is none (loaded lazily, once). */
  load(): { binding: AioNativeBinding } | { reason: string; code: string };
  /** The live check, cached by the caller. */
  probe(binding: AioNativeBinding): AioProbeResult;
}

/** Builds the method factory for `options` over `source`. */
export function makeKqueueFactory(options: KqueueOptions, source: KqueueBindingSource): AioMethodFactory {
  let cached: AioProbeResult | undefined;
  const probe = (): AioProbeResult => {
    if (cached !== undefined) return cached;
    const loaded = source.load();
    cached = 'reason' in loaded ? { available: false, reason: loaded.reason, code: loaded.code } : source.probe(loaded.binding);
    return cached;
  };
  return {
    name: 'kqueue',
    probe,
    create(host, context) {
      const result = probe();
      const loaded = source.load();
      if (!result.available || 'reason' in loaded) throw unavailableMethod('kqueue', result.reason);
      const maxDepth = Math.min(options.maxInFlight ?? context.maxConcurrency, context.maxConcurrency);
      const spec: NativeMethodSpec = {
        name: 'kqueue',
        capabilities: {
          ops: ['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync'],
          direct: fs.constants.O_DIRECT !== undefined,
          vectored: true,
          maxDepth,
          // The kernel's aio daemons run the IO, but completions are reaped on the issuer's thread.
          completesOnOtherThread: false,
          fileKind: 'fd',
        },
        // An aio request holds its file, but a close with IO queued is never what the caller meant.
        waitOnFileBeforeClose: true,
        options: { maxInFlight: maxDepth },
      };
      return new NativeMethod(loaded.binding, spec, host, context);
    },
  };
}
