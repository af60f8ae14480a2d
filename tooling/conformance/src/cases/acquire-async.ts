/**
 * Asynchronous acquire (many async clients, FIFO, abort, close while
 * waiting) and write-back's sync modes and overlap rule, on every method.
 */
import assert from 'node:assert/strict';
import {
  Aio,
  AioAbortError,
  AioReturn,
  AioUsageError,
  AioWaitRef,
  writeBack,
  type AioFile,
  type AioHandle,
  type AioMethodFactory,
  type DirtyPage,
} from '@aio/core';
import { assertQuiescent, injectErrno, setInjection } from '@aio/core/testing';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { pattern, submitWatched } from '../util.js';

const BS = 4096;

export function defineAcquireAsyncCases(h: Harness, m: MethodUnderTest): void {
  defineAcquireCases(h, m);
  defineWriteBackSyncCases(h, m);
}

/** Starts an IO on a handle from acquireAsync and waits for it; throws its error. */
async function ioThrough(aio: Aio, start: (handle: AioHandle) => void): Promise<void> {
  const ret = new AioReturn();
  const ref = new AioWaitRef();
  const handle = await aio.acquireAsync(ret);
  handle.getWaitRef(ref);
  start(handle);
  await ref.wait();
  ret.throwIfError();
  assert.equal(ret.result.status, 'ok', ret.target.describe());
}

/**
 * Makes callers of acquireAsync wait, on every method: a handle stays handed
 * out, and nobody can be handed another until it is started or released.
 * (IO in flight would not do: a fast method may complete it before the
 * callers queue.)
 */
function holdHandles(aio: Aio): { release(): void } {
  const held = aio.acquire();
  return { release: () => held.release() };
}

function defineAcquireCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'acquireAsync: 48 async clients on 4 handles write and read back their own blocks through it', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 4 });
    const filePath = fx.path(48 * 4 * BS);
    const file = aio.open(filePath, { read: true, write: true });
    const client = async (c: number): Promise<void> => {
      for (let i = 0; i < 4; i++) {
        const offset = (c * 4 + i) * BS;
        const data = pattern(BS, 9000 + c * 4 + i);
        await ioThrough(aio, (handle) => handle.startWrite(file, data, offset));
        const back = Buffer.alloc(BS);
        await ioThrough(aio, (handle) => handle.startRead(file, back, offset));
        assert.ok(back.equals(data), `client ${c} block ${i} reads back what it wrote`);
      }
    };
    await Promise.all(Array.from({ length: 48 }, (_, c) => client(c)));
    const content = fx.read(filePath);
    for (let b = 0; b < 48 * 4; b++) assert.ok(content.subarray(b * BS, (b + 1) * BS).equals(pattern(BS, 9000 + b)), `block ${b} on disk`);
    await file.close();
  });

  defineCase(h, m, 'acquireAsync: waiting callers get handles first come, first served, also among queued convenience calls', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 2 });
    const file = aio.open(fx.path(16 * BS));
    const hold = holdHandles(aio);
    const order: string[] = [];
    // Each waiter notes how many convenience calls were still queued when it got its handle: the read
    // queued between a2 and a3 must leave the queue after a2 and before a3.
    const waiter = async (name: string): Promise<void> => {
      const handle = await aio.acquireAsync();
      order.push(`${name} ${aio.stats().queued}`);
      handle.release();
    };
    const calls = [waiter('a1'), waiter('a2'), file.read(Buffer.alloc(BS), 0).then(() => undefined), waiter('a3'), waiter('a4'), waiter('a5')];
    assert.equal(aio.waitingAcquires, 5);
    assert.equal(aio.stats().queued, 1);
    hold.release();
    await Promise.all(calls);
    assert.deepEqual(order, ['a1 1', 'a2 1', 'a3 0', 'a4 0', 'a5 0']);
    await file.close();
  });

  defineCase(h, m, 'acquireAsync: an aborted waiter leaves the queue with AbortError and the others are still served', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 2 });
    const hold = holdHandles(aio);
    const controller = new AbortController();
    const order: number[] = [];
    const served = (n: number, signal?: AbortSignal): Promise<void> =>
      aio.acquireAsync(undefined, { signal }).then((handle) => {
        order.push(n);
        handle.release();
      });
    const first = served(1);
    const aborted = served(2, controller.signal);
    const third = served(3);
    controller.abort();
    await assert.rejects(aborted, (e: unknown) => e instanceof AioAbortError && e.name === 'AbortError');
    assert.equal(aio.waitingAcquires, 2);
    hold.release();
    await Promise.all([first, third]);
    assert.deepEqual(order, [1, 3]);
    await assert.rejects(aio.acquireAsync(undefined, { signal: AbortSignal.abort() }), AioAbortError);
  });

  defineCase(h, m, 'acquireAsync: closing the context rejects every waiting caller with AIO_ERR_CLOSED', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 2 });
    const file = aio.open(fx.path(4 * BS));
    // close() releases the held handle with its usual leaked-handle warning.
    holdHandles(aio);
    const waiters: Promise<unknown>[] = Array.from({ length: 5 }, () => aio.acquireAsync());
    waiters.push(file.read(Buffer.alloc(BS), 0));
    const closing = aio.close();
    const outcomes = await Promise.allSettled(waiters);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      const error = (outcome as PromiseRejectedResult).reason as unknown;
      assert.ok(error instanceof AioUsageError && error.code === 'AIO_ERR_CLOSED', String(error));
    }
    await closing;
    await assert.rejects(aio.acquireAsync(), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_CLOSED');
  });
}

/** A context whose method is watched: fails the case if two overlapping writes to one file are ever in flight at once. */
function watchedContext(m: MethodUnderTest): { aio: Aio; overlaps: () => number } {
  const factory = m.factory as AioMethodFactory;
  const inFlight = new Map<string, number>();
  let overlaps = 0;
  const key = (path: string | undefined, offset: number, length: number): string => `${path}|${offset}|${length}`;
  const watched = submitWatched(factory, (ios, count) => {
    for (const io of ios.slice(0, count)) {
      if (io.opName !== 'write') continue;
      for (const other of inFlight.keys()) {
        const [path, offset, length] = other.split('|');
        if (path === String(io.file?.path) && Number(offset) < io.offset + io.length && io.offset < Number(offset) + Number(length)) overlaps++;
      }
      const k = key(io.file?.path, io.offset, io.length);
      inFlight.set(k, (inFlight.get(k) ?? 0) + 1);
    }
  });
  setInjection((info) => {
    if (info.op !== 'write') return undefined;
    const k = key(info.path, info.offset, info.length);
    const left = (inFlight.get(k) ?? 0) - 1;
    if (left > 0) inFlight.set(k, left);
    else inFlight.delete(k);
    return undefined;
  });
  const aio = new Aio({ method: watched });
  return { aio, overlaps: () => overlaps };
}

function page(file: AioFile, block: number, seed: number): DirtyPage {
  return { file, offset: block * BS, buffer: pattern(BS, seed) };
}

function defineWriteBackSyncCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, "write-back: sync 'always' syncs every file of the call even with nothing written, syncFiles adds files no page names", async (fx) => {
    const aio = fx.aio();
    const paths = [fx.path(8 * BS), fx.path(8 * BS), fx.path(8 * BS)];
    const [a, b, c] = paths.map((p) => aio.open(p, { read: true, write: true }));
    injectErrno('EIO', { op: 'write', path: paths[1] });
    const always = await writeBack(aio, [page(a, 1, 71), page(b, 2, 72)], { sync: 'always', syncFiles: [c] });
    assert.equal(always.clean.length, 1);
    assert.equal(always.failed.length, 1);
    assert.deepEqual(new Set(always.synced), new Set([a, b, c]), 'a, b (whose only write failed) and c (from syncFiles)');
    assert.equal(always.synced.length, 3, 'each file once');
    const byDefault = await writeBack(aio, [page(b, 3, 73)]);
    assert.deepEqual(byDefault.synced, [], 'the default syncs only files with a complete write');
    setInjection(null);
    const listed = await writeBack(aio, [page(a, 3, 74)], { sync: 'fdatasync', syncFiles: [c, a] });
    assert.deepEqual(new Set(listed.synced), new Set([a, c]));
    assert.equal(listed.synced.length, 2);
    await assert.rejects(writeBack(aio, [page(a, 4, 74)], { sync: 'none', syncFiles: [c] }), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_INVALID_OPTION');
    for (const file of [a, b, c]) await file.close();
  });

  defineCase(h, m, 'write-back: a page overlapping a write in flight of another write-back waits for it; the later bytes end on disk', async (fx) => {
    const { aio, overlaps } = watchedContext(m);
    try {
      const filePath = fx.path(64 * BS);
      const file = aio.open(filePath, { read: true, write: true });
      const order: string[] = [];
      const firstPages = Array.from({ length: 32 }, (_, i) => page(file, i, 100 + i));
      const secondPages = Array.from({ length: 32 }, (_, i) => page(file, 31 - i, 200 + i));
      const [first, second] = await Promise.all([
        writeBack(aio, firstPages, { window: 8, sync: 'none', onClean: (p) => order.push(`first ${p.offset / BS}`) }),
        writeBack(aio, secondPages, { window: 8, sync: 'none', onClean: (p) => order.push(`second ${p.offset / BS}`) }),
      ]);
      assert.equal(first.clean.length + second.clean.length, 64);
      assert.equal(overlaps(), 0, 'two overlapping writes were in flight at once');
      const content = fx.read(filePath);
      for (let block = 0; block < 32; block++) {
        const firstAt = order.indexOf(`first ${block}`);
        const secondAt = order.indexOf(`second ${block}`);
        const later = firstAt < secondAt ? pattern(BS, 200 + 31 - block) : pattern(BS, 100 + block);
        assert.ok(content.subarray(block * BS, (block + 1) * BS).equals(later), `block ${block} holds the bytes of the write reported last`);
      }
      await file.close();
      assertQuiescent(aio);
    } finally {
      setInjection(null);
      await aio.close();
    }
  });
}
