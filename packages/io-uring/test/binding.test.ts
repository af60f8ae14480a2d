/**
 * The addon called directly, with everything JavaScript could pass it by
 * mistake: it answers with an error or a refusal, never a crash.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AIO_SUBMIT_MAX, AIO_SUBMIT_STRIDE } from '@aio/core/method';
import { binding, patternFile, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function newContext(maxConcurrency = 4) {
  const words = new Float64Array(AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE);
  const table = new Int32Array(maxConcurrency * 3);
  const delivered: number[] = [];
  const context = binding().create({ maxConcurrency }, words, table, (count) => delivered.push(count));
  return { context, words, table, delivered };
}

/** One IO description: [op, index, generation, flags, fd, offset, length, first view, view count]. */
function describeIo(words: Float64Array, i: number, values: number[]): void {
  words.set([...values, -1], i * AIO_SUBMIT_STRIDE);
}

describe.skipIf(skip !== undefined)('io_uring addon misuse', () => {
  it('io_uring: create refuses bad arguments with errors', () => {
    const b = binding();
    const words = new Float64Array(AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE);
    expect(() => b.create(null as never, words, new Int32Array(192), () => {})).toThrow(/options must be an object/);
    expect(() => b.create({ maxConcurrency: 0 }, words, new Int32Array(3), () => {})).toThrow(/maxConcurrency/);
    expect(() => b.create({}, words, new Int32Array(192), () => {})).toThrow(/maxConcurrency is required/);
    const options = { maxConcurrency: 64 };
    expect(() => b.create(options, new Float64Array(3), new Int32Array(192), () => {})).toThrow(/words must be/);
    expect(() => b.create(options, words, new Int32Array(3), () => {})).toThrow(/completions must be/);
    expect(() => b.create(options, words, new Int32Array(192), 'no' as never)).toThrow(/onComplete/);
    expect(() => b.create({ ...options, registeredBuffers: [new Uint16Array(4)] }, words, new Int32Array(192), () => {})).toThrow(
      /registeredBuffers/,
    );
    expect(() => b.create({ ...options, iosqeAsync: 'maybe' }, words, new Int32Array(192), () => {})).toThrow(/iosqeAsync/);
  });

  it('io_uring: every entry point refuses objects that are not its contexts', () => {
    const b = binding();
    for (const bogus of [{}, null, 1, 'x', new Float64Array(1)]) {
      expect(() => b.submit(bogus as never, 0, [])).toThrow(/io_uring context/);
      expect(() => b.poll(bogus as never)).toThrow(/io_uring context/);
      expect(() => b.wait(bogus as never, 0, 1)).toThrow(/io_uring context/);
      expect(() => b.stats(bogus as never)).toThrow(/io_uring context/);
      expect(() => b.close(bogus as never)).toThrow(/io_uring context/);
    }
  });

  it('io_uring: IO descriptions that do not add up are refused one by one, never executed', () => {
    const b = binding();
    const { context, words } = newContext();
    const fd = fs.openSync(patternFile(dir, 4096), 'r');
    const buffer = Buffer.alloc(4096);
    const cases: number[][] = [
      [1, 0, 1, 0, fd, 0, 16, 0, 0], // a read without a buffer
      [1, 0, 1, 0, fd, 0, 8192, 0, 1], // longer than its buffer
      [1, 9, 1, 0, fd, 0, 16, 0, 1], // no such handle index
      [1, 0, 1, 0, fd, NaN, 16, 0, 1], // NaN offset
      [1, 0, 1, 0, fd, -1, 16, 0, 1], // negative offset
      [1, 0, 1, 0, fd, 0, 16, 5, 1], // view out of range
      [9, 0, 1, 0, fd, 0, 16, 0, 1], // no such op
      [0, 0, 1, 0, fd, 0, 16, 0, 1], // the invalid op
      [2, 0, 1, 0, fd, 0, 16, 0, 1025], // more vectors than the kernel takes
    ];
    for (const values of cases) {
      describeIo(words, 0, values);
      b.submit(context, 1, [buffer]);
      expect(words[9], JSON.stringify(values)).toBe(1);
    }
    describeIo(words, 0, [1, 0, 1, 0, fd, 0, 16, 0, 1]);
    b.submit(context, 1, ['not a buffer' as never]);
    expect(words[9]).toBe(1);
    expect(() => b.submit(context, 33, [])).toThrow(RangeError);
    expect(() => b.submit(context, 1, 'x' as never)).toThrow(/views/);
    expect(() => b.wait(context, 99, 1)).toThrow(RangeError);
    expect(() => b.cancel?.(context, -1, 1)).toThrow(RangeError);
    expect(b.stats(context).invalid + b.stats(context).unsupported).toBe(cases.length + 1);
    expect(b.stats(context).ios).toBe(0);
    b.close(context);
    fs.closeSync(fd);
  });

  it('io_uring: a raw context reads, reports through the table and refuses a busy slot', () => {
    const b = binding();
    const { context, words, table } = newContext();
    const fd = fs.openSync(patternFile(dir, 4096, 5, 'raw'), 'r');
    const buffer = Buffer.alloc(4096);
    describeIo(words, 0, [1, 2, 7, 0, fd, 0, 4096, 0, 1]);
    b.submit(context, 1, [buffer]);
    expect(words[9]).toBe(0);
    b.submit(context, 1, [buffer]); // the same handle again while busy
    expect(words[9]).toBe(1);
    const count = b.wait(context, 2, 7);
    expect(count).toBe(1);
    expect(Array.from(table.subarray(0, 3))).toEqual([2, 7, 4096]);
    expect(b.wait(context, 2, 7)).toBe(0); // done: returns at once
    b.close(context);
    b.close(context); // idempotent
    expect(() => b.submit(context, 0, [])).toThrow(/closed/);
    expect(() => b.poll(context)).toThrow(/closed/);
    expect(b.stats(context).ios).toBe(1);
    fs.closeSync(fd);
  });

  it('io_uring: close() with a read parked in the kernel cancels it, waits for the kernel and delivers nothing', () => {
    const b = binding();
    const { context, words, delivered } = newContext();
    const fifo = path.join(dir, 'parked');
    execFileSync('mkfifo', [fifo]);
    const fd = fs.openSync(fifo, fs.constants.O_RDWR);
    const buffer = Buffer.alloc(16);
    describeIo(words, 0, [1, 1, 3, 0, fd, 0, 16, 0, 1]);
    b.submit(context, 1, [buffer]);
    expect(words[9]).toBe(0);
    expect(b.poll(context)).toBe(0); // submitted, and parked on the empty FIFO
    b.close(context);
    expect(b.stats(context).ringCreated).toBe(0);
    fs.writeSync(fd, 'late');
    expect(fs.readSync(fd, Buffer.alloc(16))).toBe(4); // the canceled read took nothing
    expect(delivered).toEqual([]);
    fs.closeSync(fd);
  });
});
