/** Deterministic data and comparisons shared by the cases. */
import assert from 'node:assert/strict';
import type { AioResult } from '@aio/core';

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
