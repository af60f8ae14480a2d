/**
 * Routed IO and ring IO of one context complete through one stream: the
 * threads wake the loop through the ring's eventfd, and every way of
 * collecting completions (the loop, a blocking wait, a poll) takes both.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AioReturn } from '@aio/core';
import { closeAll, newAio, pattern, patternFile, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)('io_uring routed and ring completions', () => {
  it('io_uring: one batch of routed writes and ring reads delivers every completion once, with its own result', async () => {
    const aio = newAio({ route: ['writes'], routeThreads: 3 }, { maxConcurrency: 64 });
    const block = 4096;
    const source = aio.open(patternFile(dir, 32 * block, 8, 'source'));
    const targetName = path.join(dir, 'target');
    const target = aio.open(targetName, { read: true, write: true, create: true });
    const rets = Array.from({ length: 64 }, () => new AioReturn());
    const copies = Array.from({ length: 32 }, () => Buffer.alloc(block));
    for (let round = 0; round < 2; round++) {
      const refs = aio.batch(() =>
        Array.from({ length: 32 }, (_, k) => {
          const i = round * 32 + k;
          const handle = aio.acquire(rets[i]);
          const ref = handle.getWaitRef();
          // Even: a write of block i/2 (a thread); odd: a read of block (i-1)/2 (the ring).
          if (i % 2 === 0) handle.startWrite(target, pattern(block, 9, (i / 2) * block), (i / 2) * block);
          else handle.startRead(source, copies[(i - 1) / 2], ((i - 1) / 2) * block);
          return ref;
        }),
      );
      for (const ref of refs) await ref.wait();
    }
    // Each return object is filled once, by its own IO: a lost or doubled completion leaves one empty or hangs a wait.
    for (const ret of rets) expect(ret.result).toMatchObject({ status: 'ok', result: block });
    expect(Buffer.concat(copies).equals(pattern(32 * block, 8))).toBe(true);
    expect(fs.readFileSync(targetName).equals(pattern(32 * block, 9))).toBe(true);
    const stats = aio.stats();
    expect(stats.methodStats).toMatchObject({ routed: 32, cqes: 32, strayCqes: 0 });
    expect(stats.inFlight).toBe(0);
    await Promise.all([source.close(), target.close()]);
  });

  it('io_uring: waitSync on a routed write blocks until a thread finished it, and isDone polls routed IO without the event loop', async () => {
    const aio = newAio({ route: ['writes'], routeThreads: 1 });
    const name = path.join(dir, 'sync-wait');
    const file = aio.open(name, { read: true, write: true, create: true });
    const rets = Array.from({ length: 8 }, () => new AioReturn());
    const refs = aio.batch(() =>
      rets.map((ret, i) => {
        const handle = aio.acquire(ret);
        const ref = handle.getWaitRef();
        handle.startWrite(file, Buffer.alloc(65536, i + 1), i * 65536);
        return ref;
      }),
    );
    refs[7].waitSync(); // one thread runs them in order: the last one finishes last
    expect(rets[7].result).toMatchObject({ status: 'ok', result: 65536 });
    while (!refs.every((ref) => ref.isDone())) await new Promise((resolve) => setImmediate(resolve));
    for (const ret of rets) expect(ret.result).toMatchObject({ status: 'ok', result: 65536 });
    const written = fs.readFileSync(name);
    for (let i = 0; i < 8; i++) expect(written.subarray(i * 65536, (i + 1) * 65536).equals(Buffer.alloc(65536, i + 1))).toBe(true);
    expect(aio.stats().methodStats.blockingWaits).toBeGreaterThan(0);
    await file.close();
  });
});
