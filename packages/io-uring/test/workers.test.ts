import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { openFdCount, packageDir, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
// Worker entry files live in the package (so '@aio/core' resolves from them), removed at the end.
const entries = fs.mkdtempSync(path.join(packageDir, 'dist', '.workers-'));
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(entries, { recursive: true, force: true });
});

/** A worker that writes 256 random blocks to its own file, reads them back in batches and checks them. */
const WORKER = `
import { Aio, AioReturn } from '@aio/core';
import { ioUring } from '@aio/io-uring';
import { workerData, parentPort } from 'node:worker_threads';
const { file, seed } = workerData;
const aio = new Aio({ method: ioUring(), maxConcurrency: 32 });
const f = aio.open(file, { read: true, write: true, create: true, truncate: true });
const block = (i) => Buffer.alloc(4096, (i * 31 + seed) & 0xff);
await Promise.all(Array.from({ length: 256 }, (_, i) => f.write(block(i), i * 4096)));
let bad = 0;
for (let round = 0; round < 8; round++) {
  const rets = [], bufs = [], refs = [];
  aio.batch(() => {
    for (let i = 0; i < 32; i++) {
      const ret = new AioReturn(), buf = Buffer.alloc(4096), h = aio.acquire(ret);
      refs.push(h.getWaitRef()); h.startRead(f, buf, (round * 32 + i) * 4096); rets.push(ret); bufs.push(buf);
    }
  });
  for (const ref of refs) await ref.wait();
  for (let i = 0; i < 32; i++) if (!bufs[i].equals(block(round * 32 + i))) bad++;
}
const stats = aio.stats();
await f.close();
await aio.close();
parentPort.postMessage({ bad, ios: stats.methodStats.ios, fallbacks: stats.fallbacks });
`;

function startWorker(source: string, workerData: unknown): Worker {
  const entry = path.join(entries, `${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(entry, source);
  return new Worker(entry, { workerData });
}

function outcome(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
}

/** The fd count once it has stayed the same for 50 ms (at most 2 s): fds of exited workers close asynchronously. */
async function settledFdCount(): Promise<number> {
  let count = openFdCount();
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = openFdCount();
    if (now === count) return now;
    count = now;
  }
  return count;
}

describe.skipIf(skip !== undefined)('io_uring in worker threads', () => {
  it('io_uring: four worker threads each drive their own ring at once and read back what they wrote', async () => {
    const workers = Array.from({ length: 4 }, (_, i) => startWorker(WORKER, { file: path.join(dir, `w${i}`), seed: i }));
    const results = await Promise.all(workers.map(outcome));
    for (const result of results) expect(result).toEqual({ bad: 0, ios: 512, fallbacks: 0 });
  });

  it('io_uring: terminating a worker with a read parked in the kernel frees its ring and does not crash', async () => {
    const fifo = path.join(dir, 'terminate');
    execFileSync('mkfifo', [fifo]);
    // The previous test's workers close their rings as they exit; count once that has settled.
    const before = await settledFdCount();
    const worker = startWorker(
      `
      import * as fs from 'node:fs';
      import { Aio } from '@aio/core';
      import { ioUring } from '@aio/io-uring';
      import { parentPort, workerData } from 'node:worker_threads';
      const aio = new Aio({ method: ioUring() });
      const f = aio.fromFd(fs.openSync(workerData, fs.constants.O_RDWR), { read: true, ownsFd: true });
      f.read(Buffer.alloc(8), 0);
      parentPort.postMessage(aio.stats().inFlight);
      `,
      fifo,
    );
    expect(await outcome(worker)).toBe(1);
    expect(openFdCount()).toBeGreaterThan(before);
    await worker.terminate();
    // The ring and its eventfd are gone; the FIFO's fd belongs to the worker's file and leaks by design
    // (nobody closed the file), so allow that one.
    expect(openFdCount()).toBeLessThanOrEqual(before + 1);
  });
});
