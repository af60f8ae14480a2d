/**
 * The kqueue method as `defineNativeMethod` (@aio/core/method) wants it,
 * for any build of the addon that follows the `AioNativeBinding` contract:
 * the FreeBSD addon in production, the emulated (fake kevent/aio) addon in
 * the Linux tests.  Nothing here is FreeBSD-specific; `index.ts` says where
 * the FreeBSD addon is and how it is probed.  The core does the rest the
 * same way for every backend: the option check, loading once per thread,
 * the cached probe, and creating a context only where the probe said yes.
 */
import * as fs from 'node:fs';
import type { AioMethod, AioMethodContext, AioMethodHost, AioProbeResult } from '@aio/core';
import {
  nativeOption,
  type AioNativeBinding,
  type NativeAddonSource,
  type NativeMethodDefinition,
  type NativeMethodSpec,
} from '@aio/core/method';

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

/** The option schema: what `kqueue(options)` accepts (AioUsageError AIO_ERR_INVALID_OPTION otherwise). */
export const KQUEUE_OPTIONS = { maxInFlight: nativeOption.integer(1, 1024) };

/** Where a build of the kqueue addon is, and what else differs between the FreeBSD and the emulated method. */
export interface KqueueAddon extends Omit<NativeAddonSource, 'name'> {
  /** The live check; may throw (reported as unavailable). */
  probe(binding: AioNativeBinding): AioProbeResult;
  /** Makes the method object over `binding` (the tests record what the addon delivers); default a NativeMethod. */
  construct?(binding: AioNativeBinding, spec: NativeMethodSpec, host: AioMethodHost, context: AioMethodContext): AioMethod;
}

/** The definition of the kqueue method over the addon `addon` describes. */
export function kqueueDefinition(addon: KqueueAddon): NativeMethodDefinition<AioNativeBinding, typeof KQUEUE_OPTIONS> {
  const { probe, construct, ...source } = addon;
  return {
    ...source,
    name: 'kqueue',
    options: KQUEUE_OPTIONS,
    probe: (binding) => probe(binding),
    context: (_binding, options, context) => {
      const maxDepth = Math.min(options.maxInFlight ?? context.maxConcurrency, context.maxConcurrency);
      return {
        capabilities: {
          // FreeBSD's aio has no stat, truncate or allocate request: the core runs those synchronously
          // with node:fs on the fd (allocate then extends with truncate: 'extended'; README.md).
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
    },
    ...(construct !== undefined && { construct }),
  };
}
