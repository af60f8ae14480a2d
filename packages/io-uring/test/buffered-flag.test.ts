import * as fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AioReturn, readStream, type AioHandle } from '@aio/core';
import { closeAll, newAio, pattern, patternFile, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
const blockSize = 8192;
const size = 300 * blockSize + 1000; // the last block holds the end of the file
const name = patternFile(dir, size, 5);
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)('io_uring buffered flag', () => {
  it('io_uring: the read stream flags its page-cache reads buffered, they go to io-wq, and every block arrives byte-exact in order', async () => {
    const aio = newAio();
    const file = aio.open(name);
    const blocks = Math.ceil(size / blockSize);
    // Every other run of blocks skipped: reads of 1 to 4 blocks, combined and not.
    const wanted = Array.from({ length: blocks }, (_, block) => block).filter((block) => block % 11 < 7);
    let next = 0;
    const stream = readStream(aio, file, { blockSize, combineLimit: 4 * blockSize, maxIos: 8, nextBlock: () => wanted[next++] ?? null });
    const seen: number[] = [];
    for await (const item of stream) {
      const start = item.block * blockSize;
      const length = Math.min(blockSize, size - start);
      expect(item.length).toBe(length);
      expect(item.buffer.subarray(0, length).equals(pattern(length, 5, start)), `block ${item.block}`).toBe(true);
      seen.push(item.block);
    }
    expect(seen).toEqual(wanted);
    const stats = aio.stats().methodStats;
    expect(stats.ios).toBeGreaterThan(0);
    expect(stats.asyncFlagged).toBe(stats.ios);
  });

  it('io_uring: writes and reads flagged buffered through the handle API go to io-wq and stay byte-exact', async () => {
    const aio = newAio();
    const file = aio.open(`${name}-copy`, { read: true, write: true, create: true });
    const run = async (start: (handle: AioHandle, i: number) => void, count: number): Promise<void> => {
      const rets = Array.from({ length: count }, () => new AioReturn());
      aio.enterBatchMode();
      const refs = rets.map((ret, i) => {
        const handle = aio.acquire(ret);
        handle.setFlag('buffered');
        const ref = handle.getWaitRef();
        start(handle, i);
        return ref;
      });
      aio.exitBatchMode();
      for (const ref of refs) await ref.wait();
      for (const ret of rets) expect(ret.result).toMatchObject({ status: 'ok', result: blockSize });
    };
    const count = 6;
    await run((handle, i) => handle.startWrite(file, pattern(blockSize, 9, i * blockSize), i * blockSize), count);
    const copies = Array.from({ length: count }, () => Buffer.alloc(blockSize));
    await run((handle, i) => handle.startRead(file, copies[i], i * blockSize), count);
    expect(Buffer.concat(copies).equals(pattern(count * blockSize, 9))).toBe(true);
    expect(fs.readFileSync(`${name}-copy`).equals(pattern(count * blockSize, 9))).toBe(true);
    expect(aio.stats().methodStats.asyncFlagged).toBe(2 * count);
  });
});
