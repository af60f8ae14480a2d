/** Small IO helpers shared by the core tests. */
import assert from 'node:assert/strict';
import { AioIoError, AioReturn, AioWaitRef, type Aio, type AioFile } from '../src/index.js';
import { injectErrno } from '../src/testing.js';

/** `length` bytes from a seeded xorshift, so that every block differs from its neighbours. */
export function seededBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Starts a read on a fresh handle through the handle API; returns its return object and wait reference. */
export function startRead(aio: Aio, file: AioFile, buffer: ArrayBufferView, offset: number): { ret: AioReturn; ref: AioWaitRef } {
  const ret = new AioReturn();
  const ref = new AioWaitRef();
  const handle = aio.acquire(ret);
  handle.getWaitRef(ref);
  handle.startRead(file, buffer, offset);
  return { ret, ref };
}

/**
 * Consumes `stream`, making every read and readv fail with EIO once block
 * `failAt` has arrived, and asserts that the stream rejects with that EIO;
 * returns the blocks it delivered before.
 */
export async function blocksBeforeEio(stream: AsyncIterable<{ block: number }>, failAt: number): Promise<number[]> {
  const got: number[] = [];
  await assert.rejects(async () => {
    for await (const item of stream) {
      got.push(item.block);
      if (item.block === failAt) injectErrno('EIO', { op: ['read', 'readv'] });
    }
  }, (error: unknown) => error instanceof AioIoError && error.code === 'EIO');
  return got;
}
