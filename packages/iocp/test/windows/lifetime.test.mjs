// Lifetimes: a context's teardown waits for its IO and closes what it opened.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { Aio } from '@aio/core';
import { iocp } from '../../dist/index.js';
import { binding, withFixture, skipReason } from './helpers.mjs';

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

  it('iocp: an idle context dropped without close() is collected, its native context freed and its files closed', async (t) => {
    if (typeof globalThis.gc !== 'function') return t.skip('needs node --expose-gc to force collections');
    await withFixture(async (fx) => {
      const before = binding().liveContexts();
      let collected = false;
      const registry = new FinalizationRegistry(() => {
        collected = true;
      });
      // Busy once (a write in flight holds the context strongly), then idle and unreferenced.
      await (async () => {
        const aio = new Aio({ method: iocp() });
        const file = aio.open(fx.file('dropped'), { read: true, write: true, create: true });
        assert.equal(await file.write(Buffer.from('kept'), 0), 4);
        assert.equal(binding().liveContexts(), before + 1);
        registry.register(aio, 'dropped');
      })();
      for (let i = 0; i < 100 && !(collected && binding().liveContexts() === before); i++) {
        globalThis.gc();
        await sleep(10);
      }
      assert.ok(collected, 'the Aio object was not collected');
      assert.equal(binding().liveContexts(), before, 'the native context was not freed');
      assert.equal(fs.readFileSync(fx.file('dropped'), 'utf8'), 'kept');
      // With the HANDLE still open the file would only be marked for deletion and its folder could not be removed.
      fs.unlinkSync(fx.file('dropped'));
      fs.rmdirSync(fx.dir);
      fs.mkdirSync(fx.dir);
    });
  });
});
