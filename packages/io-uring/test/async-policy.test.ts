import * as fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AioReturn, allocAligned, type Aio, type AioFile, type AioHandleFlag } from '@aio/core';
import { closeAll, newAio, patternFile, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
const big = patternFile(dir, 8 * 131072);
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Reads `count` blocks of `size` in one batch; returns how many got IOSQE_ASYNC. */
async function batchOfReads(aio: Aio, file: AioFile, count: number, size: number, flag?: AioHandleFlag): Promise<number> {
  const before = aio.stats().methodStats.asyncFlagged;
  const refs = [];
  const rets: AioReturn[] = [];
  aio.enterBatchMode();
  for (let i = 0; i < count; i++) {
    const ret = new AioReturn();
    const handle = aio.acquire(ret);
    if (flag !== undefined) handle.setFlag(flag);
    refs.push(handle.getWaitRef());
    handle.startRead(file, allocAligned(size), i * size);
    rets.push(ret);
  }
  aio.exitBatchMode();
  for (const ref of refs) await ref.wait();
  for (const ret of rets) expect(ret.result).toMatchObject({ status: 'ok', result: size });
  return aio.stats().methodStats.asyncFlagged - before;
}

describe.skipIf(skip !== undefined)('io_uring IOSQE_ASYNC policy', () => {
  it('io_uring: auto punts every IO marked buffered on a page-cache file, at any depth', async () => {
    const aio = newAio();
    const file = aio.open(big);
    expect(await batchOfReads(aio, file, 8, 4096, 'buffered')).toBe(8);
    expect(await batchOfReads(aio, file, 8, 131072, 'buffered')).toBe(8);
    expect(await batchOfReads(aio, file, 1, 131072, 'buffered')).toBe(1);
  });

  it('io_uring: auto leaves unflagged reads inline, and every O_DIRECT IO even when marked buffered', async () => {
    const aio = newAio();
    expect(await batchOfReads(aio, aio.open(big), 8, 131072)).toBe(0);
    const direct = aio.open(big, { direct: true });
    expect(await batchOfReads(aio, direct, 8, 131072)).toBe(0);
    expect(await batchOfReads(aio, direct, 8, 131072, 'buffered')).toBe(0);
  });

  it('io_uring: never and always do what they say, and asyncMinBytes adds a size floor', async () => {
    const never = newAio({ iosqeAsync: 'never' });
    expect(await batchOfReads(never, never.open(big), 8, 131072, 'buffered')).toBe(0);
    const always = newAio({ iosqeAsync: 'always' });
    expect(await batchOfReads(always, always.open(big), 3, 4096)).toBe(3);
    const floor = newAio({ asyncMinBytes: 65536 });
    expect(await batchOfReads(floor, floor.open(big), 6, 4096, 'buffered')).toBe(0);
    expect(await batchOfReads(floor, floor.open(big), 6, 65536, 'buffered')).toBe(6);
  });
});
