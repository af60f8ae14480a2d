import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AIO_DISPOSITION, AIO_OP, AIO_SUBMIT_MAX, AIO_SUBMIT_STRIDE } from '@aio/core/method';
import { binding, closeAll, fileOpSkipReason, newAio, pattern, scratchDir } from './helpers.js';

// The other ops must run in the ring for the test to show that only truncate left it.
const skip = (await fileOpSkipReason('stat')) ?? (await fileOpSkipReason('allocate'));
const dir = scratchDir();
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)('io_uring without IORING_OP_FTRUNCATE', () => {
  // A kernel before 6.9 has no FTRUNCATE: the probe leaves truncate out of capabilities.ops, as disabledOps does here.
  it('io_uring: with truncate missing from the ring, the core runs it synchronously, correct and counted, and the other ops stay in the ring', async () => {
    const aio = newAio({ disabledOps: ['truncate'] });
    expect(aio.capabilities.ops).not.toContain('truncate');
    expect(aio.capabilities.ops).toEqual(expect.arrayContaining(['stat', 'allocate', 'read']));
    const name = path.join(dir, 'no-ftruncate');
    fs.writeFileSync(name, pattern(9000));
    const file = aio.open(name, { read: true, write: true });
    const ios = aio.stats().methodStats.ios;
    await file.truncate(1234);
    expect(fs.readFileSync(name).equals(pattern(1234))).toBe(true);
    const stats = aio.stats();
    expect(stats.fallbacks).toBe(1);
    expect(stats.methodStats.ios).toBe(ios);
    expect(stats.methodStats.unsupported).toBe(0); // never submitted: the core kept it
    expect((await file.stat()).size).toBe(1234);
    expect(await file.allocate(0, 4096)).toBe('allocated');
    expect(aio.stats().methodStats.ios).toBe(ios + 2);
    expect(aio.stats().fallbacks).toBe(1);
  });
});

describe.skipIf(skip !== undefined)('io_uring file operations the addon refuses', () => {
  it('io_uring: a disabled truncate or a stat into fewer than 32 bytes submitted anyway is refused, and nothing runs', () => {
    const b = binding();
    const words = new Float64Array(AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE);
    const context = b.create({ maxConcurrency: 4, disabledOps: 1 << AIO_OP.truncate }, words, new Int32Array(12), () => {});
    const name = path.join(dir, 'refused');
    fs.writeFileSync(name, pattern(100));
    const fd = fs.openSync(name, 'r+');
    try {
      // [op, index, generation, flags, fd, offset, length, first view, view count, disposition]
      words.set([AIO_OP.truncate, 0, 1, 0, fd, 10, 0, 0, 0, -1], 0);
      words.set([AIO_OP.stat, 1, 1, 0, fd, 0, 16, 0, 1, -1], AIO_SUBMIT_STRIDE);
      b.submit(context, 2, [new Float64Array(2)]);
      expect(words[9]).toBe(AIO_DISPOSITION.unsupportedOp);
      expect(words[AIO_SUBMIT_STRIDE + 9]).toBe(AIO_DISPOSITION.unsupportedOp);
      expect(b.stats(context)).toMatchObject({ ios: 0, unsupported: 1, invalid: 1 });
      expect(fs.fstatSync(fd).size).toBe(100);
    } finally {
      fs.closeSync(fd);
      b.close(context);
    }
  });
});
