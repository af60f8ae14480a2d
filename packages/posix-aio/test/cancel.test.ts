import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { AioAbortError } from '@aio/core';
import { context, fifo, finish, methodStats, scratchDir, sleep, unavailable } from './helpers.js';

const skip = unavailable() ?? (process.platform === 'linux' ? undefined : 'these cases rely on glibc queueing one fd behind one thread');
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)('cancellation', () => {
  it('posix_aio: aborting an IO still queued behind another on its fd cancels it, and it completes with ECANCELED', async () => {
    const pipe = fifo(dir, 'fifo-queued');
    const aio = context({ lanes: 1 });
    const file = aio.fromFd(pipe.fd, { read: true });
    const running = file.read(Buffer.alloc(8), 0);
    await sleep(10);
    const controller = new AbortController();
    const queued = file.read(Buffer.alloc(8), 0, { signal: controller.signal });
    controller.abort();
    await expect(queued).rejects.toBeInstanceOf(AioAbortError);
    expect(aio.stats().cancelRequests).toBe(1);
    expect(methodStats(aio)).toMatchObject({ cancelRequests: 1, canceled: 1 });
    pipe.feed(8);
    expect(await running).toBe(8);
    await finish(aio, file);
    pipe.close();
  });

  it('posix_aio: aborting an IO a glibc thread already runs is not-canceled, and the IO completes normally', async () => {
    const pipe = fifo(dir, 'fifo-running');
    const aio = context({ lanes: 1 });
    const file = aio.fromFd(pipe.fd, { read: true });
    const controller = new AbortController();
    const running = file.read(Buffer.alloc(8), 0, { signal: controller.signal });
    await sleep(100); // a glibc helper thread is now blocked in read(2) on the FIFO (20 ms was too short on 2 loaded cores)
    controller.abort();
    expect(methodStats(aio)).toMatchObject({ cancelRequests: 1, canceled: 0 });
    pipe.feed(8);
    expect(await running).toBe(8);
    await finish(aio, file);
    pipe.close();
  });
});
