import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aio, AioIoError, syncMethod } from '@aio/core';
import { aligned, context, finish, methodStats, pattern, patternFile, scratchDir, unavailable } from './helpers.js';

const skip = unavailable();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs the same readv with the sync method and returns bytes and buffer contents. */
async function readvBoth(path: string, sizes: number[], offset: number, posix: Aio) {
  const oracle = new Aio({ method: syncMethod() });
  const results = [];
  for (const aio of [posix, oracle]) {
    const file = aio.open(path);
    const bufs = sizes.map((size) => Buffer.alloc(size, 0xee));
    const n = await file.readv(bufs, offset);
    results.push({ n, data: Buffer.concat(bufs) });
    await file.close();
  }
  await oracle.close();
  return results;
}

describe.skipIf(skip !== undefined)('vectored IO', () => {
  it('posix_aio: a readv split into one aiocb per buffer returns what preadv returns, short reads included', async () => {
    const path = patternFile(dir, 'readv.bin', 10_000);
    const aio = context();
    const cases: Array<[number[], number]> = [
      [[4096, 100, 5000], 0],
      [[1, 2, 3, 4, 5], 9_990],
      [[3000, 3000, 3000], 5_000], // the second piece is short: the third must not count
      [[10, 10], 10_000], // at EOF
      [[0, 16, 0], 8],
    ];
    for (const [sizes, offset] of cases) {
      const [mine, oracle] = await readvBoth(path, sizes, offset, aio);
      expect(mine.n, `${sizes} @ ${offset}`).toBe(oracle.n);
      expect(mine.data.subarray(0, mine.n).equals(oracle.data.subarray(0, oracle.n))).toBe(true);
    }
    expect(methodStats(aio).vectoredSplit).toBeGreaterThanOrEqual(4);
    expect(aio.stats().fallbacks).toBe(0);
    await finish(aio);
  });

  it('posix_aio: a writev split into one aiocb per buffer writes every piece in order', async () => {
    const path = join(dir, 'writev.bin');
    const aio = context();
    const file = aio.open(path, { read: true, write: true, create: true, truncate: true });
    const pieces = [pattern(4096, 0), pattern(7, 4096), pattern(12_000, 4103)];
    expect(await file.writev(pieces, 0)).toBe(16_103);
    expect(fs.readFileSync(path).equals(pattern(16_103, 0))).toBe(true);
    expect(methodStats(aio).vectoredSplit).toBe(1);
    await finish(aio, file);
  });

  it('posix_aio: a readv of more buffers than maxVectored runs synchronously and is counted', async () => {
    const path = patternFile(dir, 'many.bin', 4096);
    const aio = context({ maxVectored: 4 });
    const file = aio.open(path);
    const bufs = Array.from({ length: 8 }, () => Buffer.alloc(512));
    expect(await file.readv(bufs, 0)).toBe(4096);
    expect(Buffer.concat(bufs).equals(pattern(4096, 0))).toBe(true);
    expect(aio.stats().fallbacks).toBe(1);
    expect(methodStats(aio).unsupported).toBe(1);
    await finish(aio, file);
  });

  it('posix_aio: an O_DIRECT readv with an unaligned piece fails with EINVAL as preadv does', async () => {
    const path = patternFile(dir, 'direct.bin', 16_384);
    const aio = context();
    const file = aio.open(path, { direct: true });
    const good = [aligned(4096), aligned(8192)];
    expect(await file.readv(good, 4096)).toBe(12_288);
    expect(Buffer.concat(good).equals(pattern(12_288, 4096))).toBe(true);
    await expect(file.readv([aligned(4096), Buffer.alloc(100)], 0)).rejects.toSatisfy((e) => e instanceof AioIoError && e.code === 'EINVAL');
    expect(methodStats(aio)).toMatchObject({ vectoredSplit: 1, unsupported: 1 });
    await finish(aio, file);
  });
});
