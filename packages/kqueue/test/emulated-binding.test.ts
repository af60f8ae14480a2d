import { describe, expect, it } from 'vitest';
import { AIO_SUBMIT_MAX, AIO_SUBMIT_STRIDE, type AioNativeContext } from '@aio/core/method';
import { emulatedBinding as binding } from './emulated.js';
import { pattern, useScratch } from './helpers.js';
import * as fs from 'node:fs';

const scratch = useScratch();

function tables(handles = 8): { words: Float64Array; completions: Int32Array } {
  return { words: new Float64Array(AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE), completions: new Int32Array(handles * 3) };
}

function create(handles = 8, extra: Record<string, unknown> = {}): { context: AioNativeContext; words: Float64Array; completions: Int32Array } {
  const { words, completions } = tables(handles);
  return { context: binding.create({ maxConcurrency: handles, ...extra }, words, completions, () => {}), words, completions };
}

/** Describes one read of `length` bytes at 0 on `fd` into view 0, for handle `index`. */
function describeRead(words: Float64Array, at: number, index: number, fd: number, length: number): void {
  words.set([1, index, 1, 0, fd, 0, length, at, 1, -1], at * AIO_SUBMIT_STRIDE);
}

describe('kqueue (emulated): the native binding refuses bad input with errors, never a crash', () => {
  it('kqueue (emulated): create() checks its options and tables', () => {
    const { words, completions } = tables();
    const noop = (): void => {};
    expect(() => binding.create({}, words, completions, noop)).toThrow(expect.objectContaining({ code: 'AIO_ERR_OUT_OF_RANGE' }));
    expect(() => binding.create({ maxConcurrency: 0 }, words, completions, noop)).toThrow(/maxConcurrency/);
    expect(() => binding.create({ maxConcurrency: 8, maxInFlight: 9 }, words, completions, noop)).toThrow(/maxInFlight/);
    expect(() => binding.create({ maxConcurrency: 8.5 }, words, completions, noop)).toThrow(/maxConcurrency/);
    expect(() => binding.create({ maxConcurrency: 64 }, words, completions, noop)).toThrow(expect.objectContaining({ code: 'AIO_ERR_INVALID_TYPE' }));
    expect(() => binding.create({ maxConcurrency: 8 }, new Float64Array(3), completions, noop)).toThrow(/words/);
    expect(() => binding.create({ maxConcurrency: 8 }, words, new Float64Array(24) as unknown as Int32Array, noop)).toThrow(/completions/);
    expect(() => binding.create({ maxConcurrency: 8 }, words, completions, 'no' as unknown as () => void)).toThrow(/onComplete/);
    expect(() => binding.create(null as unknown as Record<string, unknown>, words, completions, noop)).toThrow(/options/);
  });

  it('kqueue (emulated): every function refuses an object that is not one of its contexts', () => {
    for (const context of [{}, null, 42, new Float64Array(1)] as unknown as AioNativeContext[]) {
      expect(() => binding.poll(context)).toThrow(expect.objectContaining({ code: 'AIO_ERR_INVALID_TYPE', message: 'expected a emulated kqueue context from create()' }));
      expect(() => binding.stats(context)).toThrow(TypeError);
      expect(() => binding.submit(context, 0, [])).toThrow(TypeError);
      expect(() => binding.close(context)).toThrow(TypeError);
    }
  });

  it('kqueue (emulated): submit() refuses a bad batch before accepting any IO of it', () => {
    const file = scratch.file('data', pattern(4096, 51));
    const fd = fs.openSync(file, 'r');
    const { context, words } = create();
    const buffer = Buffer.alloc(16);
    try {
      expect(() => binding.submit(context, 33, [])).toThrow(/count/);
      expect(() => binding.submit(context, 1, 'views' as unknown as ArrayBufferView[])).toThrow(/views/);
      describeRead(words, 0, 0, fd, 16);
      words[0] = 9;
      expect(() => binding.submit(context, 1, [buffer])).toThrow(/op/);
      describeRead(words, 0, 8, fd, 16);
      expect(() => binding.submit(context, 1, [buffer])).toThrow(/index/);
      describeRead(words, 0, 1, -5, 16);
      expect(() => binding.submit(context, 1, [buffer])).toThrow(/file/);
      describeRead(words, 0, 1, fd, 16);
      describeRead(words, 1, 1, fd, 16);
      expect(() => binding.submit(context, 2, [buffer, buffer])).toThrow(/no IO in flight/);
      expect(binding.stats(context).accepted).toBe(0);
      // A description that does not match its buffer is not an exception: the core re-runs it synchronously.
      describeRead(words, 0, 2, fd, 4096);
      binding.submit(context, 1, [buffer]);
      expect(words[9]).toBe(1);
      expect(binding.stats(context).submitErrors).toBe(1);
      expect(() => binding.wait(context, 8, 1)).toThrow(/index/);
      expect(() => binding.wait(context, 0, -1)).toThrow(/generation/);
    } finally {
      binding.close(context);
      fs.closeSync(fd);
    }
  });

  it('kqueue (emulated): close() with IO in flight waits for it, and after close() every call but stats() and close() throws AIO_ERR_CLOSED', () => {
    const file = scratch.file('data', pattern(4096, 52));
    const fd = fs.openSync(file, 'r');
    const { context, words, completions } = create();
    binding.fakeConfigure(context, { hold: true });
    describeRead(words, 0, 3, fd, 16);
    binding.submit(context, 1, [Buffer.alloc(16)]);
    expect(words[9]).toBe(0);
    expect(binding.stats(context).inFlight).toBe(1);
    // The held read is reaped by close itself; its completion is not delivered.
    binding.close(context);
    expect(Array.from(completions.subarray(0, 3))).toEqual([0, 0, 0]);
    binding.close(context);
    expect(binding.stats(context)).toMatchObject({ inFlight: 0, accepted: 1, capacity: 8 });
    expect(() => binding.poll(context)).toThrow(expect.objectContaining({ code: 'AIO_ERR_CLOSED', message: 'the emulated kqueue context is closed' }));
    expect(() => binding.submit(context, 0, [])).toThrow(/closed/);
    expect(() => binding.wait(context, 3, 1)).toThrow(/closed/);
    expect(() => binding.cancel!(context, 3, 1)).toThrow(/closed/);
    fs.closeSync(fd);
  });
});
