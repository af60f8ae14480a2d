import * as fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AioReturn, AioWaitRef, type Aio } from '@aio/core';
import { closeAll, newAio, patternFile, pattern, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function ringStats(aio: Aio): Record<string, number> {
  return aio.stats().methodStats as Record<string, number>;
}

describe.skipIf(skip !== undefined)('io_uring submission', () => {
  it('io_uring: a batch of 32 staged IOs goes to the kernel with one io_uring_enter', async () => {
    const aio = newAio();
    const file = aio.open(patternFile(dir, 32 * 4096));
    const before = ringStats(aio);
    const refs: AioWaitRef[] = [];
    const rets: AioReturn[] = [];
    const buffers: Buffer[] = [];
    aio.batch(() => {
      for (let i = 0; i < 32; i++) {
        rets.push(new AioReturn());
        buffers.push(Buffer.alloc(4096));
        const handle = aio.acquire(rets[i]);
        refs.push(handle.getWaitRef());
        handle.startRead(file, buffers[i], i * 4096);
      }
      expect(ringStats(aio).enters).toBe(before.enters);
    });
    const after = ringStats(aio);
    expect(after.enters - before.enters).toBe(1);
    expect(after.batchEnters - before.batchEnters).toBe(1);
    expect(after.ios - before.ios).toBe(32);
    for (const ref of refs) await ref.wait();
    for (let i = 0; i < 32; i++) {
      expect(rets[i].result).toMatchObject({ status: 'ok', result: 4096 });
      expect(buffers[i].equals(pattern(4096, 1, i * 4096))).toBe(true);
    }
  });

  it('io_uring: single IOs started in one event-loop turn are submitted together, before the loop blocks', async () => {
    const aio = newAio();
    const file = aio.open(patternFile(dir, 20 * 4096));
    const before = ringStats(aio);
    const reads = Array.from({ length: 20 }, (_, i) => file.read(Buffer.alloc(4096), i * 4096));
    // Outside batch mode the core submits each IO on its own; the ring only prepares them.
    expect(aio.stats().submitted).toBeGreaterThanOrEqual(20);
    expect(ringStats(aio).enters).toBe(before.enters);
    expect(await Promise.all(reads)).toEqual(Array(20).fill(4096));
    const after = ringStats(aio);
    expect(after.enters - before.enters).toBe(1);
    expect(after.deferredFlushes - before.deferredFlushes).toBe(1);
  });

  it('io_uring: completions are handed to JavaScript in bulk, one call per drain', async () => {
    // Inline completions (no io-wq hand-off), so all 32 are ready at the same moment.
    const aio = newAio({ iosqeAsync: 'never' });
    const file = aio.open(patternFile(dir, 32 * 4096));
    const before = ringStats(aio);
    await Promise.all(Array.from({ length: 32 }, (_, i) => file.read(Buffer.alloc(4096), i * 4096)));
    const after = ringStats(aio);
    expect(after.cqes - before.cqes).toBe(32);
    // Hot page cache: the 32 reads complete inside the one io_uring_enter, so one wake-up delivers them all.
    expect(after.deliveries - before.deliveries).toBeLessThanOrEqual(2);
  });

  it('io_uring: a blocking wait submits a prepared IO first and then waits for it', () => {
    const aio = newAio();
    const file = aio.open(patternFile(dir, 8192));
    const ret = new AioReturn();
    const handle = aio.acquire(ret);
    const ref = handle.getWaitRef();
    const buffer = Buffer.alloc(8192);
    handle.startRead(file, buffer, 0);
    const enters = ringStats(aio).enters;
    ref.waitSync();
    expect(ringStats(aio).enters).toBe(enters + 1);
    expect(ret.result).toMatchObject({ status: 'ok', result: 8192 });
    expect(buffer.equals(pattern(8192))).toBe(true);
  });

  it('io_uring: isDone() submits prepared IO and reaps its completion without the event loop', () => {
    const aio = newAio();
    const file = aio.open(patternFile(dir, 4096));
    const ret = new AioReturn();
    const handle = aio.acquire(ret);
    const ref = handle.getWaitRef();
    handle.startRead(file, Buffer.alloc(4096), 0);
    let spins = 0;
    while (!ref.isDone()) {
      spins++;
      if (spins > 1e7) throw new Error('isDone() never became true');
    }
    expect(ret.result).toMatchObject({ status: 'ok', result: 4096 });
  });

  it('io_uring: a full ring of handles in flight, then acquire waits for the oldest in the kernel', () => {
    const aio = newAio({}, { maxConcurrency: 8 });
    const file = aio.open(patternFile(dir, 16 * 4096));
    const rets = Array.from({ length: 16 }, () => new AioReturn());
    for (let i = 0; i < 16; i++) aio.acquire(rets[i]).startRead(file, Buffer.alloc(4096), i * 4096);
    aio.closeSync();
    for (const ret of rets) expect(ret.result).toMatchObject({ status: 'ok', result: 4096 });
  });
});
