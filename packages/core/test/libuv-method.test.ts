/**
 * The libuv method: node:fs callbacks on libuv's thread pool.  The
 * conformance suite (`pnpm conformance libuv`) checks it against the sync
 * method case by case; these tests check what is particular to it: IO really
 * is in flight after start, completions of one event-loop turn arrive as one
 * batch, it cannot wait synchronously and says so, it cannot cancel, it runs
 * in worker_threads, and it does not keep the event loop alive while idle.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, it } from 'vitest';
import { Aio, AioUsageError, libuvMethod } from '../src/index.js';
import { startRead } from './io-helpers.js';
import { tempWorld } from './temp-world.js';

const DIST = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;

const world = tempWorld('aio-libuv-', { checkFds: true });

function context(maxConcurrency = 64): Aio {
  return world.track(new Aio({ method: libuvMethod(), maxConcurrency }));
}

function patterned(size: number, seed: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 31 + seed) & 0xff;
  return buffer;
}

function fileWith(content: Buffer): string {
  return world.file(content);
}

function usageError(code: string): (error: unknown) => boolean {
  return (error) => error instanceof AioUsageError && error.code === code;
}

/** Blocks the thread, so that IO on the pool finishes while no callback can run. */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('libuv method', () => {
  it('libuv: every op is in flight when start returns and completes with the same bytes as node:fs', async () => {
    const aio = context();
    const content = patterned(65536, 3);
    const filePath = fileWith(content);
    const file = aio.open(filePath, { read: true, write: true });
    const buffer = Buffer.alloc(8192);
    const { ref, ret } = startRead(aio, file, buffer, 4096);
    assert.equal(ref.isDone(), false, 'a read is on the pool, not done, when startRead returns');
    assert.equal(aio.stats().inFlight, 1);
    await ref.wait();
    assert.equal(ret.result.status, 'ok');
    assert.ok(buffer.equals(content.subarray(4096, 12288)));

    const parts = [Buffer.alloc(100), Buffer.alloc(900)];
    assert.equal(await file.readv(parts, 50), 1000);
    assert.ok(Buffer.concat(parts).equals(content.subarray(50, 1050)));
    assert.equal(await file.write(Buffer.from('hello'), 70000), 5);
    assert.equal(await file.writev([Buffer.from('ab'), Buffer.from('cd')], 10), 4);
    await file.sync();
    await file.datasync();
    const onDisk = fs.readFileSync(filePath);
    assert.equal(onDisk.subarray(70000).toString(), 'hello');
    assert.equal(onDisk.subarray(10, 14).toString(), 'abcd');
    assert.equal(aio.stats().synchronous, 0, 'nothing ran synchronously');
    await file.close();
  });

  it('libuv: completions that are ready in one event-loop turn reach the core as one batch', async () => {
    const aio = context();
    const content = patterned(32 * 4096, 9);
    const file = aio.open(fileWith(content));
    const buffers = Array.from({ length: 32 }, () => Buffer.alloc(4096));
    const slots = aio.batch(() => buffers.map((buffer, i) => startRead(aio, file, buffer, i * 4096)));
    const before = aio.stats().methodStats;
    // While the thread is blocked, the pool finishes all 32 reads; libuv then
    // runs their callbacks in one pass and the method reports them together.
    blockFor(300);
    for (const slot of slots) await slot.ref.wait();
    const after = aio.stats().methodStats;
    assert.equal(after.completed - before.completed, 32);
    assert.equal(after.completionBatches - before.completionBatches, 1, 'one report for the 32 completions');
    for (const [i, buffer] of buffers.entries()) assert.ok(buffer.equals(content.subarray(i * 4096, (i + 1) * 4096)));
    await file.close();
  });

  it('libuv: waitSync, a blocking acquire and closeSync with IO in flight throw AIO_ERR_CANNOT_WAIT and change nothing', async () => {
    const aio = context(2);
    const file = aio.open(fileWith(patterned(8192, 1)));
    const a = startRead(aio, file, Buffer.alloc(4096), 0);
    const b = startRead(aio, file, Buffer.alloc(4096), 4096);
    assert.throws(() => a.ref.waitSync(), usageError('AIO_ERR_CANNOT_WAIT'));
    assert.throws(() => aio.acquire(), usageError('AIO_ERR_CANNOT_WAIT'));
    assert.equal(aio.tryAcquire(), null);
    assert.throws(() => aio.closeSync(), usageError('AIO_ERR_CANNOT_WAIT'));
    assert.equal(aio.closed, false, 'the refused closeSync committed to nothing');
    await a.ref.wait();
    await b.ref.wait();
    assert.equal(a.ret.result.status, 'ok');
    assert.equal(b.ret.result.status, 'ok');
    aio.acquire().release();
    await file.close();
  });

  it('libuv: an IO that fails reports the errno of the fs call', async () => {
    const aio = context();
    const file = aio.open(fileWith(patterned(100, 1)), { read: true, write: false });
    await assert.rejects(file.write(Buffer.from('x'), 0), (error: NodeJS.ErrnoException) => error.code === 'EBADF' && error.syscall === 'write');
    await file.close();
  });

  it('libuv: an abort after the IO reached the pool cannot cancel it: the call completes with its real result', async () => {
    const aio = context();
    const file = aio.open(fileWith(patterned(4096, 5)));
    const controller = new AbortController();
    const buffer = Buffer.alloc(4096);
    const read = file.read(buffer, 0, { signal: controller.signal });
    controller.abort();
    assert.equal(await read, 4096);
    assert.ok(buffer.equals(patterned(4096, 5)));
    assert.equal(aio.stats().cancelRequests, 1);
    await file.close();
  });

  it('libuv: contexts in worker_threads read and write while the main thread does too', async () => {
    const filePath = fileWith(patterned(16384, 7));
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.dist).then(async ({ Aio, libuvMethod }) => {
        const aio = new Aio({ method: libuvMethod() });
        const file = aio.open(workerData.file, { read: true, write: true });
        const out = Buffer.alloc(4096, workerData.id);
        await file.write(out, 16384 + workerData.id * 4096);
        const back = Buffer.alloc(4096);
        const n = await file.read(back, 16384 + workerData.id * 4096);
        await file.close();
        await aio.close();
        parentPort.postMessage({ n, same: back.equals(out), method: aio.methodName });
      });`;
    const workers = [1, 2, 3].map(
      (id) =>
        new Promise((resolve, reject) => {
          const worker = new Worker(source, { eval: true, workerData: { dist: DIST, file: filePath, id } });
          let answer: unknown;
          worker.once('message', (message) => (answer = message));
          worker.once('error', reject);
          // Settled at exit, once the worker's own loop and its descriptors are gone.
          worker.once('exit', () => resolve(answer));
        }),
    );
    const aio = context();
    const file = aio.open(filePath);
    const mine = Buffer.alloc(16384);
    assert.equal(await file.read(mine, 0), 16384);
    assert.deepEqual(await Promise.all(workers), [1, 2, 3].map(() => ({ n: 4096, same: true, method: 'libuv' })));
    assert.ok(mine.equals(patterned(16384, 7)));
    await file.close();
  });

  it('libuv: an idle context does not keep the process alive, and IO in flight does until it completes', () => {
    const filePath = fileWith(patterned(4096, 2));
    // The child starts a read, never awaits it and never closes the context:
    // the pending fs request keeps the loop alive until it completed, then
    // nothing does, so the process exits by itself.
    const source = `
      const { Aio, libuvMethod, AioReturn, AioWaitRef } = await import(${JSON.stringify(DIST)});
      const aio = new Aio({ method: libuvMethod() });
      const file = aio.open(${JSON.stringify(filePath)});
      const ret = new AioReturn();
      const handle = aio.acquire(ret);
      handle.startRead(file, Buffer.alloc(4096), 0);
      process.on('exit', () => console.log(ret.result.status));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(child.signal, null, 'the child exited by itself');
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'ok', 'the read completed before the process exited');
  });
});
