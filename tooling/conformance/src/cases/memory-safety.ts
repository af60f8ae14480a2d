/**
 * Memory safety and lifecycle under misuse a real program commits (issue
 * 13): buffers detached while their IO is in flight, detached views passed
 * in, contexts dropped without close(), close refused inside a callback,
 * workers terminated with files open, and start* calls that fail.
 */
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import {
  Aio,
  AioReturn,
  AioUsageError,
  AioWaitRef,
  AlignedPagePool,
  blockRangeReadStream,
  writeBack,
  type AioFile,
  type AioHandle,
} from '@aio/core';
import { defineCase, openFdCount } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { callbackAttempt, pattern } from '../util.js';

declare const gc: undefined | (() => void);

const DIST = new URL('../../dist/', import.meta.url);
const BLOCK = 65536;

function usageError(code: string): (error: unknown) => boolean {
  return (error) => error instanceof AioUsageError && error.code === code;
}

/** Moves a view's memory away (what postMessage with a transfer list does); the clone is dropped at once. */
function transferAway(view: ArrayBufferView): void {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
}

function detachedBuffer(length = 64): Buffer {
  const buffer = Buffer.from(new ArrayBuffer(length));
  transferAway(buffer);
  return buffer;
}

/** Buffers filled with 0xaa, allocated while IO is in flight: freed memory would be reused by them. */
function churn(): Buffer[] {
  return Array.from({ length: 16 }, () => Buffer.alloc(1 << 18, 0xaa));
}

function start(aio: Aio, file: AioFile, op: 'read' | 'write', buffer: Buffer, offset: number): { ret: AioReturn; ref: AioWaitRef } {
  const ret = new AioReturn();
  const ref = new AioWaitRef();
  const handle = aio.acquire(ret);
  handle.getWaitRef(ref);
  if (op === 'read') handle.startRead(file, buffer, offset);
  else handle.startWrite(file, buffer, offset);
  return { ret, ref };
}

async function collectUntil(done: () => boolean, rounds = 60): Promise<boolean> {
  for (let i = 0; i < rounds && !done(); i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return done();
}

export function defineMemorySafetyCases(h: Harness, m: MethodUnderTest): void {
  defineCase(
    h,
    m,
    'a read and a write whose buffers are transferred away and collected in flight neither crash nor corrupt memory, 50 times: the write lands, the read fails with EFAULT',
    async (fx, t) => {
      if (typeof gc !== 'function') return t.skip('node runs without --expose-gc, so collections cannot be forced');
      const aio = fx.aio();
      const source = pattern(BLOCK, 77);
      const file = aio.open(fx.path(source), { read: true, write: true });
      const outPath = fx.path();
      const out = aio.open(outPath, { read: true, write: true, create: true });
      for (let i = 0; i < 50; i++) {
        const readBuffer = Buffer.alloc(BLOCK);
        const data = pattern(BLOCK, i);
        const writeBuffer = Buffer.from(data);
        const read = start(aio, file, 'read', readBuffer, 0);
        const write = start(aio, out, 'write', writeBuffer, i * BLOCK);
        const ranSynchronously = read.ret.done;
        transferAway(readBuffer);
        transferAway(writeBuffer);
        gc();
        const canaries = churn();
        await read.ref.wait();
        await write.ref.wait();
        for (const canary of canaries) assert.ok(canary.every((byte) => byte === 0xaa), `round ${i}: memory the IO no longer owned was written`);
        const result = read.ret.result;
        if (ranSynchronously) {
          assert.equal(result.status, 'ok', `round ${i}: a read that completed before the transfer is ok`);
        } else {
          assert.equal(result.status, 'error', `round ${i}: the read of a detached buffer must not look successful`);
          assert.equal(read.ret.toError().code, 'EFAULT', `round ${i}: the documented outcome is EFAULT`);
        }
        assert.equal(write.ret.result.status, 'ok', `round ${i}: the write ran on the bytes it had at start`);
        assert.equal(write.ret.result.result, BLOCK);
      }
      const written = fx.read(outPath);
      for (let i = 0; i < 50; i++) assert.ok(written.subarray(i * BLOCK, (i + 1) * BLOCK).equals(pattern(BLOCK, i)), `write ${i} lost or corrupted its data`);
      await file.close();
      await out.close();
    },
    180_000,
  );

  defineCase(h, m, 'a detached view is a usage error (AIO_ERR_DETACHED) from every call that takes buffers', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(pattern(65536, 5)), { read: true, write: true });
    const starts: [string, (handle: AioHandle) => void][] = [
      ['startRead', (handle) => handle.startRead(file, detachedBuffer(), 0)],
      ['startWrite', (handle) => handle.startWrite(file, detachedBuffer(), 0)],
      ['startReadv', (handle) => handle.startReadv(file, [Buffer.alloc(8), detachedBuffer()], 0)],
      ['startWritev', (handle) => handle.startWritev(file, [detachedBuffer()], 0)],
    ];
    for (const [what, call] of starts) {
      const handle = aio.acquire();
      assert.throws(() => call(handle), usageError('AIO_ERR_DETACHED'), what);
      assert.equal(handle.state, 'idle', `${what}: the refused start gave the handle back`);
    }
    const promises: [string, () => Promise<unknown>][] = [
      ['file.read', () => file.read(detachedBuffer(), 0)],
      ['file.write', () => file.write(detachedBuffer(), 0)],
      ['file.readv', () => file.readv([detachedBuffer()], 0)],
      ['file.writev', () => file.writev([Buffer.alloc(8), detachedBuffer()], 0)],
    ];
    for (const [what, call] of promises) await assert.rejects(call(), usageError('AIO_ERR_DETACHED'), what);
    assert.throws(() => new AlignedPagePool(4096, 1).put(detachedBuffer()), usageError('AIO_ERR_DETACHED'), 'pool.put');
    const stream = blockRangeReadStream(aio, file, { blockSize: 4096 });
    assert.throws(() => stream.release(detachedBuffer()), usageError('AIO_ERR_DETACHED'), 'stream.release');
    await stream.end();
    const cached = blockRangeReadStream(aio, file, { blockSize: 4096, isCached: () => detachedBuffer(4096) });
    await assert.rejects(cached.next(), usageError('AIO_ERR_DETACHED'), 'a buffer from isCached');
    await cached.end();
    const cleaned: unknown[] = [];
    const before = aio.stats().started;
    await assert.rejects(writeBack(aio, [{ file, offset: 0, buffer: detachedBuffer(4096) }], { onClean: (page) => cleaned.push(page) }), usageError('AIO_ERR_DETACHED'), 'writeBack');
    assert.deepEqual(cleaned, [], 'writeBack never reports a detached page clean');
    assert.equal(aio.stats().started, before, 'writeBack neither wrote nor synced for a detached page');
    await file.close();
  });

  defineCase(h, m, 'a context dropped without close() is garbage-collected and its native resources freed', async (fx, t) => {
    if (typeof gc !== 'function') return t.skip('node runs without --expose-gc, so collections cannot be forced');
    const filePath = fx.path(pattern(65536, 9));
    // One context first, so process-wide state (a shared thread pool, glibc's aio threads) exists before counting.
    const warm = new Aio({ method: m.factory });
    await warm.close();
    const fdsBefore = openFdCount();
    let collected = false;
    const registry = new FinalizationRegistry(() => (collected = true));
    await (async () => {
      const aio = new Aio({ method: m.factory });
      registry.register(aio, 'context');
      const file = aio.open(filePath);
      assert.equal(await file.read(Buffer.alloc(4096), 0), 4096);
      await file.close();
      // The context is idle and unreferenced from here on; nobody calls aio.close().
    })();
    assert.ok(await collectUntil(() => collected), `the ${m.name} context was never collected: something still holds it (a native reference, a thread-safe function)`);
    const fdsAfter = openFdCount();
    if (fdsBefore !== undefined && fdsAfter !== undefined) {
      assert.ok(await collectUntil(() => openFdCount() === fdsBefore), `the collected context left file descriptors open (${fdsBefore} before, ${openFdCount()} after)`);
    }
  });

  defineCase(h, m, 'closeSync() from inside a completion callback throws and the context still closes afterwards', async (fx) => {
    const aio = new Aio({ method: m.factory });
    const file = aio.open(fx.path(pattern(4096, 3)));
    const closing = callbackAttempt('conformance-close-inside', () => aio.closeSync(), 'nothing');
    const handle = aio.acquire();
    const ref = handle.getWaitRef();
    handle.registerCallbacks(closing.id);
    handle.startRead(file, Buffer.alloc(4096), 0);
    await ref.wait();
    assert.ok(usageError('AIO_ERR_IN_CALLBACK')(closing.error), `closeSync inside a callback threw ${String(closing.error)}`);
    assert.equal(aio.closed, false, 'the refused closeSync committed to nothing');
    await aio.close();
    assert.equal(aio.closed, true);
    assert.equal(file.closed, true, 'close() closed the context files');
    assert.throws(() => aio.acquire(), usageError('AIO_ERR_CLOSED'));
  });

  defineCase(
    h,
    m,
    'terminating a worker with files open and IO in flight leaves no file descriptor behind, 20 times in a row',
    async (fx) => {
      const round = async (index: number): Promise<void> => {
        const worker = new Worker(new URL('terminate-files-worker.js', DIST), { workerData: { method: m.name, dir: fx.dir, round: index } });
        await new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
        });
        assert.equal(await worker.terminate(), 1);
      };
      await round(-1); // process-wide state (thread pools, glibc's aio threads) is created once, before counting
      const before = openFdCount();
      for (let i = 0; i < 20; i++) await round(i);
      if (before === undefined) return;
      assert.ok(await collectUntil(() => openFdCount() === before, 20), `terminated workers left file descriptors behind: ${before} before, ${openFdCount()} after 20 rounds`);
    },
    180_000,
  );

  defineCase(h, m, 'a failed start* (a closed file, a bad offset) leaves no handle handed out: the next acquire() works', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 2 });
    const file = aio.open(fx.path(pattern(4096, 1)));
    const closed = aio.open(fx.path(pattern(4096, 2)));
    await closed.close();
    const handle = aio.acquire();
    const ref = handle.getWaitRef();
    assert.throws(() => handle.startRead(closed, Buffer.alloc(16), 0), usageError('AIO_ERR_FILE_CLOSED'));
    assert.equal(handle.state, 'idle');
    assert.ok(ref.isDone(), 'a reference to the refused IO is done');
    const next = aio.acquire();
    assert.throws(() => next.startRead(file, Buffer.alloc(16), -1), usageError('AIO_ERR_OUT_OF_RANGE'));
    await assert.rejects(closed.read(Buffer.alloc(16), 0), usageError('AIO_ERR_FILE_CLOSED'));
    const again = aio.acquire();
    const againRef = again.getWaitRef();
    const ret = new AioReturn();
    again.release();
    const last = aio.acquire(ret);
    const lastRef = last.getWaitRef();
    last.startRead(file, Buffer.alloc(16), 0);
    await lastRef.wait();
    assert.equal(ret.result.status, 'ok');
    assert.ok(againRef.isDone());
    await file.close();
  });
}
