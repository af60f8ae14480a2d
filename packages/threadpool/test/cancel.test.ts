import { expect, it } from 'vitest';
import { AioAbortError } from '@aio/core';
import { poolInfo } from '../src/index.js';
import { pauseWorkers, resumeWorkers } from '../src/testing.js';
import { newAio, pattern, spinUntil, tempFile } from './helpers.js';

it('threadpool: aborting an IO still in the queue removes it; it completes with ECANCELED and never runs', async () => {
  const aio = newAio();
  const path = tempFile(pattern(8192));
  const file = aio.open(path, { read: true, write: true });
  const controller = new AbortController();
  pauseWorkers();
  let write: Promise<number>;
  let read: Promise<number>;
  try {
    // A write that must not happen, and a read that must.
    write = file.write(Buffer.alloc(4096, 0xee), 0, { signal: controller.signal });
    read = file.read(Buffer.alloc(4096), 4096);
    controller.abort();
    expect(aio.stats().methodStats.canceled).toBe(1);
  } finally {
    resumeWorkers();
  }
  await expect(write).rejects.toBeInstanceOf(AioAbortError);
  expect(await read).toBe(4096);
  const check = Buffer.alloc(4096);
  expect(await file.read(check, 0)).toBe(4096);
  expect(check.equals(pattern(8192).subarray(0, 4096))).toBe(true);
  expect(aio.stats().cancelRequests).toBe(1);
  await file.close();
});

it('threadpool: aborting an IO a worker already ran completes it normally and says so', async () => {
  const aio = newAio();
  const file = aio.open(tempFile(pattern(4096)));
  const controller = new AbortController();
  const executed = poolInfo().executed;
  const read = file.read(Buffer.alloc(4096), 0, { signal: controller.signal });
  // The worker runs the read; its completion waits for this turn of the event loop to end.
  expect(spinUntil(() => poolInfo().executed > executed)).toBe(true);
  controller.abort();
  expect(await read).toBe(4096);
  const stats = aio.stats().methodStats;
  expect(stats.canceled).toBe(0);
  expect(stats.cancelTooLate).toBe(1);
  await file.close();
});
