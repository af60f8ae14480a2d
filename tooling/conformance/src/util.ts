/** Deterministic data and comparisons shared by the cases. */
import assert from 'node:assert/strict';
import { AioUsageError, defineAioCallbacks, type Aio, type AioCallbackId, type AioIoView, type AioMethodFactory, type AioResult } from '@aio/core';
import type { CaseContext } from './harness.js';

/** A small, fast, seeded PRNG (xorshift32), so every method sees the same sequence. */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0 || 0x9e3779b9;
  }

  /** A uint32. */
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.#state = x;
    return x;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}

/** `length` bytes that depend on `seed` and on each byte's position. */
export function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** The bytes of any ArrayBufferView. */
export function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** A plain copy of a result, for deepEqual comparisons. */
export function plainResult(result: AioResult): { status: string; result: number; errno: number | undefined } {
  return { status: result.status, result: result.result, errno: result.errno };
}

/** Asserts that two results are the same value. */
export function assertSameResult(actual: AioResult, expected: AioResult, what: string): void {
  assert.deepEqual(plainResult(actual), plainResult(expected), `${what}: result differs from the sync method`);
}

/** Completion callbacks that try one call from inside completeShared; `error` is what it threw. */
export interface CallbackAttempt {
  readonly id: AioCallbackId;
  /** `initial` until the call throws, then its error. */
  readonly error: unknown;
}

/**
 * Registers completion callbacks named `name` whose completeShared runs
 * `action` and keeps what it threw, without letting it escape: the case then
 * checks what calling into the context from inside a completion does.
 */
export function callbackAttempt(name: string, action: () => void, initial?: unknown): CallbackAttempt {
  let error = initial;
  const id = defineAioCallbacks({
    name,
    completeShared(_handle, prior) {
      try {
        action();
      } catch (thrown) {
        error = thrown;
      }
      return prior;
    },
  });
  return {
    id,
    get error() {
      return error;
    },
  };
}

/**
 * `factory`, with every method it creates seen through a proxy that shows
 * each submission to `onSubmit` before passing it on unchanged: the IO the
 * method receives is exactly what it would have received unwatched.
 */
export function submitWatched(factory: AioMethodFactory, onSubmit: (ios: readonly AioIoView[], count: number) => void): AioMethodFactory {
  return {
    name: factory.name,
    probe: () => factory.probe(),
    create(host, context) {
      const method = factory.create(host, context);
      const submit = method.submit.bind(method);
      return new Proxy(method, {
        get(target, property) {
          if (property === 'submit') {
            return (ios: readonly AioIoView[], count: number) => {
              onSubmit(ios, count);
              return submit(ios, count);
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
}

/**
 * Stops the case with a reason when `aio`'s method cannot open files with
 * O_DSYNC on this platform (the sync method on Windows: node:fs has no
 * O_DSYNC there).  Opens and closes `probe` (created if missing) to find out.
 */
export function skipUnlessDsync(aio: Aio, probe: string, methodName: string, t: CaseContext): void {
  try {
    aio.open(probe, { write: true, create: true, dsync: true }).closeSync();
  } catch (error) {
    if (error instanceof AioUsageError && error.code === 'AIO_ERR_UNSUPPORTED') {
      t.skip(`the ${methodName} method cannot open files with O_DSYNC on ${process.platform}: ${error.message}`);
    }
    throw error;
  }
}
