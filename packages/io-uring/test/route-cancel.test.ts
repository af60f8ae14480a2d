/**
 * Cancelling routed IO: one still queued for the context's threads never
 * runs and ends with ECANCELED; one a thread already runs completes
 * normally (the cancel lost the race, and says so).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AioAbortError } from '@aio/core';
import { closeAll, newAio, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** 32 MiB written through O_DSYNC: tens of milliseconds for the one thread, long enough to queue IO behind it. */
const BIG = 32 << 20;

describe.skipIf(skip !== undefined)('io_uring routed cancel', () => {
  it('io_uring: aborting a routed write still queued behind a long one removes it: it never runs and rejects with AbortError', async () => {
    const aio = newAio({ routeThreads: 1 });
    const name = path.join(dir, 'queued');
    const file = aio.open(name, { read: true, write: true, create: true, dsync: true });
    const long = file.write(Buffer.alloc(BIG, 1), 0);
    const controller = new AbortController();
    const queued = file.write(Buffer.alloc(4096, 2), BIG, { signal: controller.signal });
    controller.abort();
    await expect(queued).rejects.toBeInstanceOf(AioAbortError);
    expect(await long).toBe(BIG);
    // The aborted write never reached the file.
    expect(fs.statSync(name).size).toBe(BIG);
    expect(aio.stats().methodStats).toMatchObject({ routedCanceled: 1, canceled: 1, strayCqes: 0 });
    expect(aio.stats().inFlight).toBe(0);
    await file.close();
  });

  it('io_uring: aborting a routed write a thread is already running reports it not canceled, and it completes in full', async () => {
    const aio = newAio({ routeThreads: 1 });
    const name = path.join(dir, 'running');
    const file = aio.open(name, { read: true, write: true, create: true, dsync: true });
    const controller = new AbortController();
    const running = file.write(Buffer.alloc(BIG, 3), 0, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 5)); // the thread has taken it by now
    controller.abort();
    expect(await running).toBe(BIG);
    expect(aio.stats().methodStats).toMatchObject({ routedCanceled: 0, canceled: 0 });
    expect(fs.statSync(name).size).toBe(BIG);
    await file.close();
  });
});
