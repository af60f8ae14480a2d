// Lifetimes: a context's teardown waits for its IO and closes what it opened.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { withFixture, skipReason } from './helpers.mjs';

// A worker that opens a file through the iocp method, starts 64 writes and
// is terminated before it could close anything.
const WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  (async () => {
    const { Aio } = await import(workerData.core);
    const { iocp } = await import(workerData.iocp);
    const aio = new Aio({ method: iocp(), maxConcurrency: 64 });
    const file = aio.open(workerData.path, { write: true, create: true });
    aio.enterBatchMode();
    for (let i = 0; i < 64; i++) aio.acquire().startWrite(file, Buffer.alloc(65536, i), i * 65536);
    aio.exitBatchMode();
    parentPort.postMessage('started');
    setInterval(() => {}, 1000);
  })();
`;

describe('iocp lifetimes', { skip: skipReason }, () => {
  it("iocp: terminating a worker with IO in flight waits for the IO and closes the worker's files", async () => {
    await withFixture(async (fx) => {
      const worker = new Worker(WORKER, {
        eval: true,
        workerData: {
          path: fx.file('w'),
          core: import.meta.resolve('@aio/core'),
          iocp: new URL('../../dist/index.js', import.meta.url).href,
        },
    });
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.equal(await worker.terminate(), 1);
    // With the HANDLE still open the file could not be deleted for good,
    // and removing its folder would fail with ENOTEMPTY.
    fs.unlinkSync(fx.file('w'));
    fs.rmdirSync(fx.dir);
    fs.mkdirSync(fx.dir);
    });
  });
});
