import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AioAbortError } from '@aio/core';
import { closeAll, newAio, patternFile, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A FIFO opened read-write (so opening never blocks); a read on it waits until someone writes. */
function fifo(name: string): { path: string; fd: number } {
  const fifoPath = path.join(dir, name);
  execFileSync('mkfifo', [fifoPath]);
  return { path: fifoPath, fd: fs.openSync(fifoPath, fs.constants.O_RDWR) };
}

describe.skipIf(skip !== undefined)('io_uring cancel', () => {
  it('io_uring: aborting a read that waits on an empty pipe cancels it in the kernel (ECANCELED, AbortError)', async () => {
    const aio = newAio();
    const pipe = fifo('cancel-me');
    const file = aio.fromFd(pipe.fd, { read: true, ownsFd: true });
    const controller = new AbortController();
    const read = file.read(Buffer.alloc(16), 0, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 20)); // the read is now parked in the kernel
    expect(aio.stats().inFlight).toBe(1);
    controller.abort();
    await expect(read).rejects.toBeInstanceOf(AioAbortError);
    const stats = aio.stats();
    expect(stats.cancelRequests).toBe(1);
    expect(stats.methodStats.canceled).toBe(1);
    await file.close();
  });

  it('io_uring: aborting an IO the kernel already finished is reported as not canceled and resolves normally', async () => {
    const aio = newAio();
    const file = aio.open(patternFile(dir, 4096));
    const controller = new AbortController();
    const read = file.read(Buffer.alloc(4096), 0, { signal: controller.signal });
    controller.abort(); // the read is prepared; cancel submits it first, and a page-cache read completes at once
    expect(await read).toBe(4096);
    expect(aio.stats().methodStats.canceled).toBe(0);
  });

  it('io_uring: completions reaped while waiting for a cancel are delivered afterwards, none lost', async () => {
    const aio = newAio();
    const file = aio.open(patternFile(dir, 64 * 4096));
    const pipe = fifo('cancel-mixed');
    const pipeFile = aio.fromFd(pipe.fd, { read: true, ownsFd: true });
    const controller = new AbortController();
    const parked = pipeFile.read(Buffer.alloc(8), 0, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const reads = Array.from({ length: 32 }, (_, i) => file.read(Buffer.alloc(4096), i * 4096));
    controller.abort();
    await expect(parked).rejects.toBeInstanceOf(AioAbortError);
    expect(await Promise.all(reads)).toEqual(Array(32).fill(4096));
    expect(aio.stats().inFlight).toBe(0);
    await pipeFile.close();
  });
});
