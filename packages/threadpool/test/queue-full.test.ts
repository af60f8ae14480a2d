import { expect, it } from 'vitest';
import { AioReturn, AioWaitRef } from '@aio/core';
import { poolInfo } from '../src/index.js';
import { pauseWorkers, resumeWorkers } from '../src/testing.js';
import { newAio, pattern, tempFile } from './helpers.js';

it('threadpool: a full queue makes the submitter run the IO itself, and counts it (PostgreSQL X13)', async () => {
  const content = pattern(64 * 1024);
  const aio = newAio({ queueSize: 4 });
  const file = aio.open(tempFile(content));
  const buffers = Array.from({ length: 10 }, () => Buffer.alloc(4096));
  const returns = buffers.map(() => new AioReturn());
  const refs = buffers.map(() => new AioWaitRef());
  pauseWorkers();
  try {
    aio.batch(() => {
      buffers.forEach((buffer, i) => {
        const handle = aio.acquire(returns[i]);
        handle.getWaitRef(refs[i]);
        handle.startRead(file, buffer, i * 4096);
      });
    });
    // Paused workers hold the first four in the queue; the other six ran in submit.
    expect(poolInfo().queued).toBe(4);
    const stats = aio.stats().methodStats;
    expect(stats.ranInSubmit).toBe(6);
    expect(stats.queued).toBe(4);
    expect(stats.accepted).toBe(10);
  } finally {
    resumeWorkers();
  }
  await Promise.all(refs.map((ref) => ref.wait()));
  returns.forEach((ret, i) => {
    expect(ret.result.status).toBe('ok');
    expect(ret.result.result).toBe(4096);
    expect(buffers[i].equals(content.subarray(i * 4096, (i + 1) * 4096))).toBe(true);
  });
  // Run in submit, but through the pool's completion path: not a core fallback.
  expect(aio.stats().fallbacks).toBe(0);
  await file.close();
});

it('threadpool: IO run by the submitter still completes asynchronously, through the completion queue', async () => {
  const aio = newAio({ queueSize: 1 });
  const file = aio.open(tempFile(pattern(8192)));
  pauseWorkers();
  const first = Buffer.alloc(4096);
  const second = Buffer.alloc(4096);
  let promises: Promise<number>[];
  try {
    promises = [file.read(first, 0), file.read(second, 4096)];
    // The second IO did not fit; it has run already, yet nothing is delivered before the event loop turns.
    expect(aio.stats().methodStats.ranInSubmit).toBe(1);
    expect(aio.stats().inFlight).toBe(2);
  } finally {
    resumeWorkers();
  }
  expect(await Promise.all(promises)).toEqual([4096, 4096]);
  await file.close();
});
