import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { unavailable } from './helpers.js';

const skip = unavailable();

/** The addon itself, below NativeMethod: everything here is input the core would never send. */
function addon(): Record<string, (...args: unknown[]) => unknown> {
  return createRequire(import.meta.url)('../build/Release/aio_posix_aio.node');
}

function create(binding: ReturnType<typeof addon>, maxConcurrency = 4) {
  return binding.create({ maxConcurrency }, new Float64Array(320), new Int32Array(3 * maxConcurrency), () => {});
}

function expectCode(fn: () => unknown, code: string) {
  expect(fn).toThrow(expect.objectContaining({ code }));
}

describe.skipIf(skip !== undefined)('the addon', () => {
  it('posix_aio: the addon answers wrong arguments with a TypeError or RangeError, never a crash', () => {
    const binding = addon();
    expectCode(() => binding.create(), 'AIO_ERR_INVALID_TYPE');
    expectCode(() => binding.create(5, new Float64Array(320), new Int32Array(12), () => {}), 'AIO_ERR_INVALID_TYPE');
    expectCode(() => binding.create({}, new Float64Array(320), new Int32Array(12), () => {}), 'AIO_ERR_INVALID_TYPE');
    expectCode(() => binding.create({ maxConcurrency: 0 }, new Float64Array(320), new Int32Array(12), () => {}), 'AIO_ERR_OUT_OF_RANGE');
    expectCode(() => binding.create({ maxConcurrency: 4, lanes: 99 }, new Float64Array(320), new Int32Array(12), () => {}), 'AIO_ERR_OUT_OF_RANGE');
    expectCode(() => binding.create({ maxConcurrency: 4, doorbell: 'x' }, new Float64Array(320), new Int32Array(12), () => {}), 'AIO_ERR_INVALID_TYPE');
    expectCode(() => binding.create({ maxConcurrency: 4 }, new Float64Array(3), new Int32Array(12), () => {}), 'AIO_ERR_INVALID_TYPE');
    expectCode(() => binding.create({ maxConcurrency: 4 }, new Float64Array(320), new Int32Array(11), () => {}), 'AIO_ERR_INVALID_TYPE');
    expectCode(() => binding.create({ maxConcurrency: 4 }, new Float64Array(320), new Int32Array(12), 'f'), 'AIO_ERR_INVALID_TYPE');
    const context = create(binding);
    for (const fn of ['submit', 'poll', 'wait', 'cancel', 'stats', 'close', 'forgetFile']) {
      expectCode(() => binding[fn]({}, 1, []), 'AIO_ERR_INVALID_TYPE');
    }
    binding.submit(context, 0, []); // an empty batch does nothing
    expectCode(() => binding.submit(context, 33, []), 'AIO_ERR_OUT_OF_RANGE');
    expectCode(() => binding.submit(context, 1.5, []), 'AIO_ERR_OUT_OF_RANGE');
    expectCode(() => binding.submit(context, 1, 'views'), 'AIO_ERR_INVALID_TYPE');
    expectCode(() => binding.wait(context, 4, 1), 'AIO_ERR_OUT_OF_RANGE');
    expectCode(() => binding.cancel(context, -1, 1), 'AIO_ERR_OUT_OF_RANGE');
    expectCode(() => binding.wait(context, 0, 2 ** 32), 'AIO_ERR_OUT_OF_RANGE');
    expectCode(() => binding.forgetFile(context, 'fd'), 'AIO_ERR_INVALID_TYPE');
    expectCode(() => binding.forgetFile(context), 'AIO_ERR_INVALID_TYPE');
    binding.close(context);
    expectCode(() => binding.poll(context), 'AIO_ERR_CLOSED');
    expectCode(() => binding.forgetFile(context, 3), 'AIO_ERR_CLOSED');
    expectCode(() => binding.doorbell(context), 'AIO_ERR_CLOSED');
    // Closing again is a no-op, and the counters stay readable.
    binding.close(context);
    expect(binding.stats(context)).toMatchObject({ iosAccepted: 0 });
  });

  it('posix_aio: a garbage IO description is sent back to the core, and waiting on an unknown IO returns at once', () => {
    const binding = addon();
    const words = new Float64Array(320);
    const context = binding.create({ maxConcurrency: 4 }, words, new Int32Array(12), () => {});
    // op 99, a handle index out of range, a length beyond the buffer, a missing view, a detached view.
    const garbage = [
      [99, 0, 1, 0, 0, 0, 16, 0, 1],
      [1, 7, 1, 0, 0, 0, 16, 0, 1],
      [1, 0, 1, 0, 0, 0, 1 << 20, 0, 1],
      [1, 1, 1, 0, 0, 0, 16, 5, 1],
      [1, 2, 1, 0, 0, 0, 16, 1, 1],
    ];
    garbage.forEach((io, i) => words.set([...io, -1], i * 10));
    const detached = new Uint8Array(16);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    binding.submit(context, garbage.length, [Buffer.alloc(16), detached]);
    for (let i = 0; i < garbage.length; i++) expect(words[i * 10 + 9]).toBe(1);
    expect(binding.wait(context, 0, 1)).toBe(0);
    expect(binding.cancel(context, 0, 1)).toBe(1);
    expect(binding.poll(context)).toBe(0);
    expect(binding.stats(context)).toMatchObject({ unsupported: 5, iosAccepted: 0 });
    binding.close(context);
  });
});
