/**
 * The emulated kqueue method for the Linux tests: the real portable C
 * (binding.c, requests.c, uv_watch.c, the kit's io.c) over a fake kevent/aio
 * provider, defined by the same code as the FreeBSD method
 * (kqueueDefinition through the core's defineNativeMethod).  Test names say
 * "kqueue (emulated)" because no FreeBSD kernel is involved.
 *
 * Importing this module also sets AIO_KQUEUE_ADDON to the emulated build, so
 * that a worker_thread or child process started afterwards that loads
 * @aio/kqueue by name (the conformance suite's worker cases) gets the
 * emulated method too.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { AioMethodFactory } from '@aio/core';
import { defineNativeMethod, NativeMethod, type AioNativeBinding, type AioNativeContext } from '@aio/core/method';
import { kqueueDefinition, type KqueueOptions } from '../src/factory.js';

export interface FakeConfig {
  /** Keep submitted requests pending until fakeRelease (default false: each finishes when submitted). */
  hold?: boolean;
  /** Refuse the next `refuseCount` submissions with this errno, like aio_read() returning -1. */
  refuseErrno?: number;
  refuseCount?: number;
  /** Finish the next `failCount` requests with this aio_error(). */
  failErrno?: number;
  failCount?: number;
  /** -1: answer cancellations as FreeBSD would; else always this answer (0 canceled, 1 not canceled, 2 all done, 3 error). */
  cancelAnswer?: number;
  /** Fail the next `reapErrorCount` reaps with this errno, like kevent() returning -1. */
  reapErrno?: number;
  reapErrorCount?: number;
}

export interface FakeState {
  pending: number;
  ready: number;
  submitted: number;
  reaps: number;
  cancels: number;
  maxPending: number;
}

export interface EmulatedBinding extends AioNativeBinding {
  /** Native contexts not yet freed, in every thread of the process. */
  liveContexts(): number;
  fakeConfigure(context: AioNativeContext, config: FakeConfig): void;
  fakeRelease(context: AioNativeContext, order: number[] | 'fifo' | 'reverse'): number;
  fakeState(context: AioNativeContext): FakeState;
}

const variant = process.env.AIO_KQUEUE_EMULATED_VARIANT === 'asan' ? 'asan' : 'Release';
const addonPath = fileURLToPath(new URL(`./emulated/build/${variant}/aio_kqueue_emulated.node`, import.meta.url));

/** The emulated addon; its build is a test prerequisite, so failing to load it fails loudly with the build's reason. */
function loadEmulated(): EmulatedBinding {
  try {
    return createRequire(import.meta.url)(addonPath) as EmulatedBinding;
  } catch (error) {
    let reason = (error as Error).message;
    try {
      reason = `the build skipped it: ${readFileSync(addonPath.replace(/\.node$/, '.skipped'), 'utf8').trim()}`;
    } catch {
      // No skip record: the load error says it all.
    }
    throw new Error(`kqueue (emulated): cannot load the emulated test addon (${reason})`);
  }
}

export const emulatedBinding = loadEmulated();
// Inherited by every worker_thread and child process started from now on (see the top of the file).
process.env.AIO_KQUEUE_ADDON = addonPath;

/**
 * The newest context the emulated binding created, so tests can drive the
 * fake provider.  Held weakly: a strong list would keep every context, and
 * through its onComplete every Aio, alive, which is exactly what the
 * garbage-collection cases must be able to catch.
 */
let newest: WeakRef<AioNativeContext> | undefined;

export function newestContext(): AioNativeContext {
  const context = newest?.deref();
  if (context === undefined) throw new Error('kqueue (emulated): no live context was created yet');
  return context;
}

/** The count passed to each onComplete call the addon made from the event loop, in order. */
export const deliveries: number[] = [];

const recording: AioNativeBinding = {
  ...emulatedBinding,
  create(options, words, completions, onComplete) {
    const counted = (count: number): void => {
      deliveries.push(count);
      onComplete(count);
    };
    const context = emulatedBinding.create(options, words, completions, counted);
    newest = new WeakRef(context);
    return context;
  },
};

/** The emulated method: the emulated build, no platform check, every context recorded. */
const emulatedMethod = defineNativeMethod(
  kqueueDefinition({
    packageUrl: import.meta.url,
    addon: 'aio_kqueue_emulated',
    addonPathVariable: 'AIO_KQUEUE_ADDON',
    probe: (binding) => binding.probe(),
    construct: (_binding, spec, host, context) => new NativeMethod(recording, spec, host, context),
  }),
);

/** A kqueue method factory over the emulated binding. */
export function emulatedKqueue(options: KqueueOptions = {}): AioMethodFactory {
  return emulatedMethod.factory(options);
}

/** The fake provider's controls for the newest context. */
export function fake(): { configure(config: FakeConfig): void; release(order?: number[] | 'fifo' | 'reverse'): number; state(): FakeState } {
  const context = newestContext();
  return {
    configure: (config) => emulatedBinding.fakeConfigure(context, config),
    release: (order = 'fifo') => emulatedBinding.fakeRelease(context, order),
    state: () => emulatedBinding.fakeState(context),
  };
}

export const errno = constants.errno;
