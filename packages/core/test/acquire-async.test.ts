import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { Aio, AioAbortError, AioReturn, AioUsageError, AioWaitRef, defineAioCallbacks, libuvMethod, type AioFile, type AioHandle } from '../src/index.js';
import { assertQuiescent, setInjection } from '../src/testing.js';
import { helperWorld } from './helper-world.js';

const BLOCK = 512;
const world = helperWorld('aio-acquire-async-');

function patterned(blocks: number): Buffer {
  const content = Buffer.alloc(blocks * BLOCK);
  for (let i = 0; i < content.length; i++) content[i] = (i * 7 + (i >> 9)) & 0xff;
  return content;
}

/** One client: waits for a handle, reads its block through it, and records when it got the handle. */
async function client(aio: Aio, file: AioFile, block: number, order: number[]): Promise<Buffer> {
  const ret = new AioReturn();
  const ref = new AioWaitRef();
  const handle = await aio.acquireAsync(ret);
  order.push(block);
  handle.getWaitRef(ref);
  const buffer = Buffer.alloc(BLOCK);
  handle.startRead(file, buffer, block * BLOCK);
  await ref.wait();
  ret.throwIfError();
  return buffer;
}

/** `count` clients, one block each, on `aio`: each is served in the order it asked and reads its own block. */
async function assertClientsServedInOrder(aio: Aio, count: number): Promise<void> {
  const content = patterned(count);
  const file = aio.open(world.file(content));
  const order: number[] = [];
  const buffers = await Promise.all(Array.from({ length: count }, (_, block) => client(aio, file, block, order)));
  assert.deepEqual(
    order,
    Array.from({ length: count }, (_, i) => i),
  );
  buffers.forEach((buffer, block) => assert.ok(buffer.equals(content.subarray(block * BLOCK, (block + 1) * BLOCK)), `block ${block}`));
  await file.close();
}

/** Fills every handle of `aio` with a read in flight; returns their wait references. */
function fillHandles(aio: Aio, file: AioFile): AioWaitRef[] {
  const refs: AioWaitRef[] = [];
  for (let i = 0; i < aio.maxConcurrency; i++) {
    const ref = new AioWaitRef();
    const handle = aio.acquire();
    handle.getWaitRef(ref);
    handle.startRead(file, Buffer.alloc(BLOCK), 0);
    refs.push(ref);
  }
  return refs;
}

describe('acquireAsync', () => {
  it('deferred: acquireAsync resolves with the handed-out handle at once when a handle is free', async () => {
    const { aio } = world.context('deferred', 4);
    const ret = new AioReturn();
    const handle: AioHandle = await aio.acquireAsync(ret);
    assert.equal(handle.state, 'handed-out');
    assert.equal(aio.waitingAcquires, 0);
    handle.release();
  });

  it('deferred: forty clients on two handles are served in the order they asked, and each reads its own block', async () => {
    const { aio } = world.context('deferred', 2);
    await assertClientsServedInOrder(aio, 40);
  });

  it('deferred: waiting acquireAsync calls and queued convenience calls are served in the order they started waiting', async () => {
    const { aio } = world.context('deferred', 1);
    const file = aio.open(world.file(patterned(8)));
    const busy = fillHandles(aio, file);
    // The deferred method runs IOs in the order they were started: the completion order is the service order.
    const served: number[] = [];
    setInjection((info) => {
      served.push(info.offset / BLOCK);
      return undefined;
    });
    const viaAcquire = async (block: number): Promise<void> => {
      const handle = await aio.acquireAsync();
      const ref = new AioWaitRef();
      handle.getWaitRef(ref);
      handle.startRead(file, Buffer.alloc(BLOCK), block * BLOCK);
      await ref.wait();
    };
    const calls = [file.read(Buffer.alloc(BLOCK), BLOCK), viaAcquire(2), file.read(Buffer.alloc(BLOCK), 3 * BLOCK), viaAcquire(4), file.read(Buffer.alloc(BLOCK), 5 * BLOCK)];
    assert.equal(aio.waitingAcquires, 2);
    await Promise.all([...calls, ...busy.map((ref) => ref.wait())]);
    assert.deepEqual(served, [0, 1, 2, 3, 4, 5], 'the busy read, then every call in the order it started waiting');
    await file.close();
  });

  it('deferred: an aborted waiter leaves the queue with AbortError and the next waiter gets the handle', async () => {
    const { aio } = world.context('deferred', 1);
    const file = aio.open(world.file(patterned(2)));
    const busy = fillHandles(aio, file);
    const controller = new AbortController();
    const first = aio.acquireAsync(undefined, { signal: controller.signal });
    const second = aio.acquireAsync();
    assert.equal(aio.waitingAcquires, 2);
    controller.abort(new Error('client gone'));
    await assert.rejects(first, (e: unknown) => e instanceof AioAbortError && (e.cause as Error).message === 'client gone');
    assert.equal(aio.waitingAcquires, 1, 'the aborted waiter left the queue at once');
    const handle = await second;
    assert.equal(handle.state, 'handed-out');
    handle.release();
    await Promise.all(busy.map((ref) => ref.wait()));
    await assert.rejects(aio.acquireAsync(undefined, { signal: AbortSignal.abort() }), AioAbortError);
    await file.close();
  });

  it('deferred: closing the context rejects every waiter with AIO_ERR_CLOSED', async () => {
    const { aio: context } = world.context('deferred', 2);
    const file = context.open(world.file(patterned(2)));
    fillHandles(context, file);
    const waiters = [context.acquireAsync(), context.acquireAsync(), context.acquireAsync()];
    const closing = context.close();
    const settled = await Promise.allSettled(waiters);
    for (const outcome of settled) {
      assert.equal(outcome.status, 'rejected');
      const e = (outcome as PromiseRejectedResult).reason as unknown;
      assert.ok(e instanceof AioUsageError && e.code === 'AIO_ERR_CLOSED' && /acquireAsync waited/.test(e.message), String(e));
    }
    await closing;
    await assert.rejects(context.acquireAsync(), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_CLOSED');
  });

  it('deferred: tryAcquire() returns null while a handle waits for its acquireAsync caller to resume, and the caller gets it', async () => {
    const { aio } = world.context('deferred', 2);
    const file = aio.open(world.file(patterned(2)));
    // A free handle: acquireAsync hands it out at once, but its caller resumes only after the await.
    const first = aio.acquireAsync();
    assert.equal(aio.tryAcquire(), null);
    assert.throws(() => aio.acquire(), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_HANDLE_HANDED_OUT');
    const handle = await first;
    const ref = new AioWaitRef();
    handle.getWaitRef(ref);
    handle.startRead(file, Buffer.alloc(BLOCK), 0);
    // The handle went to its IO: tryAcquire hands out the other one again.
    const second = aio.tryAcquire();
    assert.ok(second !== null);
    second.release();
    await ref.wait();
    await file.close();
  });

  it('deferred: a blocking acquire() goes before waiting callers and never ends with two handles handed out', async () => {
    const { aio } = world.context('deferred', 1);
    const file = aio.open(world.file(patterned(2)));
    fillHandles(aio, file);
    const waiter = aio.acquireAsync();
    assert.equal(aio.waitingAcquires, 1);
    const handle = aio.acquire();
    assert.equal(aio.stats().handedOut, 1);
    assert.equal(aio.waitingAcquires, 1, 'the completion the blocking call waited for did not go to the waiter');
    const ref = new AioWaitRef();
    handle.getWaitRef(ref);
    handle.startRead(file, Buffer.alloc(BLOCK), BLOCK);
    await ref.wait();
    (await waiter).release();
    await file.close();
  });

  it('sync: acquireAsync rejects bad arguments and calls from inside a completion callback', async () => {
    const { aio } = world.context('sync', 2);
    await assert.rejects(aio.acquireAsync({} as AioReturn), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_INVALID_TYPE');
    await assert.rejects(aio.acquireAsync(undefined, { signal: 'no' as unknown as AbortSignal }), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_INVALID_TYPE');
    await assert.rejects(aio.acquireAsync(undefined, { timeout: 1 } as never), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_INVALID_OPTION');
    let inside: Promise<AioHandle> | undefined;
    const id = defineAioCallbacks({
      name: 'acquire-async-test',
      completeLocal(_handle, result) {
        inside = aio.acquireAsync();
        return result;
      },
    });
    const file = aio.open(world.file(patterned(1)));
    const handle = aio.acquire();
    handle.registerCallbacks(id, 0);
    handle.startRead(file, Buffer.alloc(BLOCK), 0);
    await assert.rejects(inside as Promise<AioHandle>, (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_IN_CALLBACK');
    await file.close();
  });

  it('deferred: a waiter in batch mode gets the staged IO it waits for submitted, so batch mode cannot deadlock it', async () => {
    const { aio } = world.context('deferred', 1);
    const file = aio.open(world.file(patterned(2)));
    const ref = new AioWaitRef();
    aio.enterBatchMode();
    const handle = aio.acquire();
    handle.getWaitRef(ref);
    handle.startRead(file, Buffer.alloc(BLOCK), 0);
    assert.equal(aio.stats().staged, 1);
    const next = aio.acquireAsync();
    assert.equal(aio.stats().staged, 0, 'the staged read was submitted when the waiter had to wait');
    const second = await next;
    second.startRead(file, Buffer.alloc(BLOCK), BLOCK);
    aio.exitBatchMode();
    await ref.wait();
    while (aio.stats().inFlight > 0) await new Promise((resolve) => setImmediate(resolve));
    await file.close();
  });

  it('libuv: many clients on two handles do their IO through acquireAsync, in FIFO order, on a method that cannot wait synchronously', async () => {
    const aio = new Aio({ method: libuvMethod(), maxConcurrency: 2 });
    try {
      await assertClientsServedInOrder(aio, 64);
      assertQuiescent(aio);
    } finally {
      await aio.close();
    }
  });
});
