/**
 * The addon's own functions, called directly with bad input: every one must
 * throw or report an error, never crash, hang or touch the wrong memory.
 * (The core never calls them like this; the addon does not rely on that.)
 */
import * as fs from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { loadBinding, type ThreadpoolBinding } from '../src/index.js';
import { pattern, tempFile } from './helpers.js';

const loaded = loadBinding();
if (!('binding' in loaded)) throw new Error(loaded.reason);
const binding: ThreadpoolBinding = loaded.binding;

const contexts: object[] = [];
afterEach(() => {
  for (const context of contexts.splice(0)) binding.close(context);
});

function create(maxConcurrency = 4) {
  const words = new Float64Array(320);
  const completions = new Int32Array(maxConcurrency * 3);
  const delivered: number[] = [];
  const context = binding.create({ maxConcurrency }, words, completions, (count) => delivered.push(count));
  contexts.push(context);
  return { context, words, completions, delivered };
}

/** Writes one IO description (the core's layout) into slot `i` of `words`. */
function describe(words: Float64Array, i: number, values: Partial<Record<'op' | 'index' | 'gen' | 'flags' | 'file' | 'offset' | 'length' | 'first' | 'count', number>>) {
  const defaults = { op: 1, index: 0, gen: 1, flags: 0, file: -1, offset: 0, length: 16, first: 0, count: 1 };
  const v = { ...defaults, ...values };
  words.set([v.op, v.index, v.gen, v.flags, v.file, v.offset, v.length, v.first, v.count, -1], i * 10);
}

it('threadpool: the addon refuses bad arguments to create with a clear error', () => {
  const words = new Float64Array(320);
  const completions = new Int32Array(12);
  const noop = () => {};
  expect(() => binding.create(undefined as never, words, completions, noop)).toThrow(/options must be an object/);
  expect(() => binding.create({}, words, completions, noop)).toThrow(/maxConcurrency is required/);
  expect(() => binding.create({ maxConcurrency: 0 }, words, completions, noop)).toThrow(/maxConcurrency must be an integer/);
  expect(() => binding.create({ maxConcurrency: 4 }, new Float64Array(10), completions, noop)).toThrow(/words must be a Float64Array/);
  expect(() => binding.create({ maxConcurrency: 8 }, words, completions, noop)).toThrow(/completions must be an Int32Array/);
  expect(() => binding.create({ maxConcurrency: 4 }, words, completions, 'x' as never)).toThrow(/onComplete must be a function/);
  expect(() => binding.create({ maxConcurrency: 4, workers: 99 }, words, completions, noop)).toThrow(/workers must be an integer/);
  expect(() => (binding.create as (...a: unknown[]) => unknown)()).toThrow(/create\(options, words, completions, onComplete\)/);
});

it('threadpool: the addon rejects bad IO descriptions instead of running them', () => {
  const { context, words } = create();
  const views = [Buffer.alloc(16)];
  const cases = [
    { op: 0 }, { op: 10 }, { op: 1.5 }, { index: 4 }, { index: -1 }, { gen: -1 }, { offset: -1 }, { offset: Number.NaN },
    { offset: 2 ** 60 }, { length: 17 }, { first: 1 }, { count: 2 }, { count: 0 }, { op: 5, count: 1 }, { op: 2, count: 0, length: 0 },
  ];
  for (const values of cases) {
    describe(words, 0, { file: 0, ...values });
    binding.submit(context, 1, views);
    expect(words[9], JSON.stringify(values)).toBe(1); // AIO_DISPOSITION.unsupportedOp: the core runs it, and the error shows there
  }
  expect(binding.stats(context).rejected).toBe(cases.length);
  expect(binding.stats(context).accepted).toBe(0);
  expect(() => binding.submit(context, 33, views)).toThrow(/count must be an integer from 0 to 32/);
  expect(() => binding.submit(context, 1, 'x' as never)).toThrow(/views must be an array/);
  expect(() => binding.submit({} as never, 1, views)).toThrow(/expected a threadpool context/);
  expect(binding.executeSync(1, 0, 0, 17, views)).toBeLessThan(0); // length beyond the buffer: EINVAL
  expect(binding.executeSync(10, 0, 0, 16, views)).toBeLessThan(0); // an unknown op
  expect(binding.executeSync(9, 0, 0, 16, views)).toBeLessThan(0); // an allocate carries no buffer
  expect(binding.executeSync(7, 0, 0, 32, [Buffer.alloc(16)])).toBeLessThan(0); // a stat needs 32 bytes
  expect(() => binding.executeSync('1' as never, 0, 0, 16, views)).toThrow(/must be numbers/);
});

it('threadpool: a second IO on a handle whose IO is still in the pool is refused', async () => {
  const { context, words, completions, delivered } = create();
  const fd = fs.openSync(tempFile(pattern(64)), 'r');
  try {
    binding.setPaused(true);
    describe(words, 0, { file: fd, gen: 7 });
    describe(words, 1, { file: fd, gen: 8 });
    binding.submit(context, 2, [Buffer.alloc(16)]);
    expect([words[9], words[19]]).toEqual([0, 1]); // the second one names a busy slot
    binding.setPaused(false);
    while (delivered.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(Array.from(completions.subarray(0, 3))).toEqual([0, 7, 16]);
  } finally {
    binding.setPaused(false);
    fs.closeSync(fd);
  }
});

it('threadpool: the addon never accepts more IOs in flight than the context has handles', async () => {
  const words = new Float64Array(320);
  const completions = new Int32Array(6);
  const delivered: number[] = [];
  const context = binding.create({ maxConcurrency: 2, queueSize: 1 }, words, completions, (count) => delivered.push(count));
  contexts.push(context);
  const fd = fs.openSync(tempFile(pattern(64)), 'r');
  try {
    binding.setPaused(true);
    describe(words, 0, { file: fd, index: 0, gen: 1 });
    binding.submit(context, 1, [Buffer.alloc(16)]); // queued (the queue holds one)
    for (const gen of [2, 3, 4]) {
      describe(words, 0, { file: fd, index: 1, gen });
      binding.submit(context, 1, [Buffer.alloc(16)]); // the first runs in submit; then the context is full
      expect(words[9]).toBe(gen === 2 ? 0 : 1);
    }
    expect(binding.stats(context)).toMatchObject({ accepted: 2, ranInSubmit: 1, rejected: 2 });
    binding.setPaused(false);
    while (delivered.reduce((a, b) => a + b, 0) < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  } finally {
    binding.setPaused(false);
    fs.closeSync(fd);
  }
});

it('threadpool: waiting on or cancelling an IO the pool does not hold returns at once', () => {
  const { context } = create();
  expect(binding.wait(context, 3, 12345)).toBe(0);
  expect(binding.cancel!(context, 3, 12345)).toBe(1);
  expect(() => binding.wait(context, 4, 1)).toThrow(/index must be a handle index/);
  expect(() => binding.cancel!(context, 0, -1)).toThrow(/generation/);
  expect(() => (binding.wait as (...a: unknown[]) => unknown)(context)).toThrow(/wait\(context, index, generation\)/);
});

it('threadpool: a closed context is refused by every call, and closing it twice is harmless', () => {
  const { context, words } = create();
  binding.close(context);
  binding.close(context);
  describe(words, 0, {});
  expect(() => binding.submit(context, 1, [Buffer.alloc(16)])).toThrow(/closed/);
  expect(() => binding.poll(context)).toThrow(/closed/);
  expect(() => binding.wait(context, 0, 1)).toThrow(/closed/);
  expect(() => binding.cancel!(context, 0, 1)).toThrow(/closed/);
  expect(binding.stats(context).accepted).toBe(0);
});
