/**
 * The emulated kqueue method for the Linux tests: the real portable C
 * (binding.c, requests.c, uv_watch.c, the kit's io.c) over a fake kevent/aio
 * provider, wrapped by the same factory code as the FreeBSD addon.  Test
 * names say "kqueue (emulated)" because no FreeBSD kernel is involved.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import type { AioMethodFactory } from '@aio/core';
import type { AioNativeBinding, AioNativeContext } from '@aio/core/method';
import { makeKqueueFactory, type KqueueOptions } from '../src/factory.js';

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
  fakeConfigure(context: AioNativeContext, config: FakeConfig): void;
  fakeRelease(context: AioNativeContext, order: number[] | 'fifo' | 'reverse'): number;
  fakeState(context: AioNativeContext): FakeState;
}

const variant = process.env.AIO_KQUEUE_EMULATED_VARIANT === 'asan' ? 'asan' : 'Release';

/** The emulated addon; its build is a test prerequisite, so failing to load it fails loudly with the build's reason. */
function loadEmulated(): EmulatedBinding {
  const path = `./emulated/build/${variant}/aio_kqueue_emulated.node`;
  try {
    return createRequire(import.meta.url)(path) as EmulatedBinding;
  } catch (error) {
    let reason = (error as Error).message;
    try {
      reason = `the build skipped it: ${readFileSync(new URL(path.replace(/\.node$/, '.skipped'), import.meta.url), 'utf8').trim()}`;
    } catch {
      // No skip record: the load error says it all.
    }
    throw new Error(`kqueue (emulated): cannot load the emulated test addon (${reason})`);
  }
}

export const emulatedBinding = loadEmulated();

/** The contexts the emulated binding created, newest last, so tests can drive the fake provider. */
export const contexts: AioNativeContext[] = [];

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
    contexts.push(context);
    return context;
  },
};

/** A kqueue method factory over the emulated binding. */
export function emulatedKqueue(options: KqueueOptions = {}): AioMethodFactory {
  return makeKqueueFactory(options, { load: () => ({ binding: recording }), probe: (binding) => binding.probe() });
}

/** The fake provider's controls for the newest context. */
export function fake(): { configure(config: FakeConfig): void; release(order?: number[] | 'fifo' | 'reverse'): number; state(): FakeState } {
  const context = contexts[contexts.length - 1];
  return {
    configure: (config) => emulatedBinding.fakeConfigure(context, config),
    release: (order = 'fifo') => emulatedBinding.fakeRelease(context, order),
    state: () => emulatedBinding.fakeState(context),
  };
}

export const errno = constants.errno;
