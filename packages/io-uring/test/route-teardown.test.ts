/**
 * The routed IO's threads at the end of a context: close() waits for routed
 * IO and joins the threads; a worker_thread's contexts own their threads and
 * join them when the worker ends, even when it is terminated with routed IO
 * running; nothing leaks (threads, fds, native contexts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { binding, closeAll, newAio, openFdCount, packageDir, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
// Worker entry files live in the package (so '@aio/core' resolves from them), removed at the end.
const entries = fs.mkdtempSync(path.join(packageDir, 'dist', '.route-workers-'));
afterEach(closeAll);
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(entries, { recursive: true, force: true });
});

/** Threads of this process right now. */
function threadCount(): number {
  return fs.readdirSync('/proc/self/task').length;
}

/** `read()` once it has returned the same value for 50 ms (at most 3 s): a baseline taken while other threads come and go. */
async function settled(read: () => number): Promise<number> {
  let value = read();
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = read();
    if (now === value) return now;
    value = now;
  }
  return value;
}

/**
 * `read()` once it equals `expected`, or its value after 10 s: threads and
 * fds of an ended worker go asynchronously, slower on a loaded machine, and
 * a leak never comes back down.
 */
async function eventually(read: () => number, expected: number): Promise<number> {
  for (let i = 0; i < 200 && read() !== expected; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return read();
}

/** Each worker writes 64 blocks through O_DSYNC (routed by default), reads them back and reports. */
const WORKER = `
import { Aio } from '@aio/core';
import { ioUring } from '@aio/io-uring';
import { workerData, parentPort } from 'node:worker_threads';
const { file, seed, hold } = workerData;
const aio = new Aio({ method: ioUring({ routeThreads: 4 }), maxConcurrency: 64 });
const f = aio.open(file, { read: true, write: true, create: true, truncate: true, dsync: true });
if (hold) {
  // Keep routed writes running until the main thread terminates this worker.
  const big = Buffer.alloc(8 << 20, seed);
  parentPort.postMessage('running');
  for (;;) await Promise.all([0, 1, 2, 3].map((i) => f.write(big, i * big.length)));
}
const block = (i) => Buffer.alloc(4096, (i * 31 + seed) & 0xff);
await Promise.all(Array.from({ length: 64 }, (_, i) => f.write(block(i), i * 4096)));
let bad = 0;
for (let i = 0; i < 64; i++) {
  const copy = Buffer.alloc(4096);
  if ((await f.read(copy, i * 4096)) !== 4096 || !copy.equals(block(i))) bad++;
}
const { routed, routedDsyncWrites } = aio.stats().methodStats;
await f.close();
await aio.close();
parentPort.postMessage({ bad, routed, routedDsyncWrites });
`;

function startWorker(workerData: unknown): Worker {
  const entry = path.join(entries, `${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(entry, WORKER);
  return new Worker(entry, { workerData });
}

function firstMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
  });
}

describe.skipIf(skip !== undefined)('io_uring routed IO at teardown', () => {
  it('io_uring: close() with routed writes in flight waits for every one, then joins the threads and closes nothing early', async () => {
    const threadsBefore = await settled(threadCount);
    const fdsBefore = openFdCount();
    const aio = newAio({ routeThreads: 4 });
    const name = path.join(dir, 'close');
    const file = aio.open(name, { read: true, write: true, create: true, dsync: true });
    const writes = Array.from({ length: 16 }, (_, i) => file.write(Buffer.alloc(1 << 20, i + 1), i << 20));
    expect(aio.stats().inFlight).toBe(16);
    expect(threadCount()).toBe(threadsBefore + 4);
    const closing = file.close().then(() => aio.close());
    expect(await Promise.all(writes)).toEqual(Array(16).fill(1 << 20));
    await closing;
    const written = fs.readFileSync(name);
    for (let i = 0; i < 16; i++) expect(written[(i << 20) + 12345]).toBe(i + 1);
    expect(threadCount()).toBe(threadsBefore);
    expect(openFdCount()).toBe(fdsBefore);
  });

  it('io_uring: two worker threads route their own O_DSYNC writes, read them back, and leave no thread, fd or context behind', async () => {
    const threadsBefore = await settled(threadCount);
    const fdsBefore = openFdCount();
    const contextsBefore = binding().liveContexts();
    const workers = [0, 1].map((seed) => startWorker({ file: path.join(dir, `worker-${seed}`), seed, hold: false }));
    const exits = workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
    const results = await Promise.all(workers.map(firstMessage));
    for (const result of results) expect(result).toEqual({ bad: 0, routed: 64, routedDsyncWrites: 64 });
    expect(await Promise.all(exits)).toEqual([0, 0]);
    expect(await eventually(threadCount, threadsBefore)).toBe(threadsBefore);
    expect(await eventually(openFdCount, fdsBefore)).toBe(fdsBefore);
    expect(await eventually(() => binding().liveContexts(), contextsBefore)).toBe(contextsBefore);
  });

  it('io_uring: terminating a worker while its routed writes run waits for them, joins its threads and does not crash', async () => {
    const threadsBefore = await settled(threadCount);
    const fdsBefore = openFdCount();
    const worker = startWorker({ file: path.join(dir, 'terminated'), seed: 7, hold: true });
    expect(await firstMessage(worker)).toBe('running');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await worker.terminate()).toBe(1);
    expect(await eventually(threadCount, threadsBefore)).toBe(threadsBefore);
    expect(await eventually(openFdCount, fdsBefore)).toBe(fdsBefore);
  });
});
