/**
 * Buffers whose memory could go away while the IO is in flight.  The
 * deferred method keeps IO in flight until a later event-loop turn, the way
 * io_uring or a thread pool does, and really runs it (with node:fs) then.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'vitest';
import {
  AioIoError,
  AioUsageError,
  AlignedPagePool,
  allocAligned,
  blockRangeReadStream,
  defineAioCallbacks,
  isNonDetachable,
  writeBack,
  type Aio,
} from '../src/index.js';
import { helperWorld } from './helper-world.js';
import { startRead } from './io-helpers.js';

const world = helperWorld('aio-core-buffers-');

function detach(view: ArrayBufferView): void {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
}

function detached(length = 16): Buffer {
  const buffer = Buffer.from(new ArrayBuffer(length));
  detach(buffer);
  return buffer;
}

const usage = (code: string) => (e: unknown) => e instanceof AioUsageError && e.code === code;

function pattern(length: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff));
}

describe('core: buffers that could be detached', () => {
  it('core: allocAligned memory, pool pages and SharedArrayBuffers are non-detachable; plain buffers are not', () => {
    assert.equal(isNonDetachable(allocAligned(100)), true);
    assert.equal(isNonDetachable(new AlignedPagePool(4096, 2).page(1)), true);
    assert.equal(isNonDetachable(new Float64Array(new SharedArrayBuffer(64))), true);
    assert.equal(isNonDetachable(Buffer.alloc(100)), false);
    assert.equal(isNonDetachable(new Uint8Array(8)), false);
    const aligned = allocAligned(64);
    detach(aligned);
    assert.equal(aligned.byteLength, 64, 'transferring WebAssembly memory copies it; the original stays');
  });

  it('core: non-detachable buffers run zero-copy; other buffers are copied and the reader gets the same bytes', async () => {
    const { aio } = world.context('deferred');
    const content = pattern(8192, 3);
    const file = aio.open(world.file(content));
    const aligned = allocAligned(4096);
    const plain = Buffer.alloc(4096);
    const vector = [new Uint8Array(100), allocAligned(100), new Uint8Array(new ArrayBuffer(300), 50, 200)];
    assert.equal(await file.read(aligned, 0), 4096);
    assert.equal(aio.stats().copied, 0, 'allocAligned memory is used as it is');
    assert.equal(await file.read(plain, 4096), 4096);
    assert.equal(await file.readv(vector, 1000), 400);
    assert.equal(aio.stats().copied, 2, 'a plain Buffer and a vector holding plain views ran on bounce memory');
    assert.ok(aligned.equals(content.subarray(0, 4096)));
    assert.ok(plain.equals(content.subarray(4096)));
    assert.ok(Buffer.concat(vector).equals(content.subarray(1000, 1400)));
    await file.close();
  });

  it('core: views cut from aligned memory with subarray run zero-copy on every IO and keep their own keys', async () => {
    const { aio } = world.context('deferred');
    const content = pattern(8 * 4096, 9);
    const file = aio.open(world.file(content));
    const slab = allocAligned(4 * 4096);
    const slots = [0, 1, 2, 3].map((i) => slab.subarray(i * 4096, (i + 1) * 4096));
    const keysBefore = slots.map((slot) => Reflect.ownKeys(slot).filter((key) => typeof key === 'string' || Object.getOwnPropertyDescriptor(slot, key)?.enumerable));
    for (let round = 0; round < 2; round++) {
      const counts = await Promise.all(slots.map((slot, i) => file.read(slot, (round * 4 + i) * 4096)));
      assert.deepEqual(counts, [4096, 4096, 4096, 4096]);
      slots.forEach((slot, i) => assert.ok(slot.equals(content.subarray((round * 4 + i) * 4096, (round * 4 + i + 1) * 4096)), `round ${round} slot ${i}`));
    }
    assert.equal(aio.stats().copied, 0, 'no IO on a slot went through bounce memory');
    const keysAfter = slots.map((slot) => Reflect.ownKeys(slot).filter((key) => typeof key === 'string' || Object.getOwnPropertyDescriptor(slot, key)?.enumerable));
    assert.deepEqual(keysAfter, keysBefore, 'no enumerable key was added to the caller\'s views');
    assert.deepStrictEqual(slots[0], Buffer.from(slots[0]), 'a slot still compares equal to a plain copy');
    // A plain view of the same size in between is still copied.
    assert.equal(await file.read(Buffer.alloc(4096), 0), 4096);
    assert.equal(aio.stats().copied, 1);
    await file.close();
  });

  it('core: a short read copies only the bytes it transferred into a copied buffer', async () => {
    const { aio } = world.context('deferred');
    const file = aio.open(world.file(pattern(100, 5)));
    const buffer = Buffer.alloc(4096, 0xee);
    assert.equal(await file.read(buffer, 0), 100);
    assert.ok(buffer.subarray(0, 100).equals(pattern(100, 5)));
    assert.ok(buffer.subarray(100).every((byte) => byte === 0xee), 'bytes past the short read are untouched');
    await file.close();
  });

  it('core: a read whose buffer is detached while in flight fails with EFAULT and its data is dropped', async () => {
    const { aio } = world.context('deferred');
    const file = aio.open(world.file(pattern(65536, 9)));
    const buffer = Buffer.alloc(65536);
    const { ret, ref } = startRead(aio, file, buffer, 0);
    const promise = file.read(new Uint8Array(4096), 0);
    const vector = [new Uint8Array(10), new Uint8Array(20)];
    const vectored = file.readv(vector, 0);
    detach(buffer);
    detach(vector[1]);
    await ref.wait();
    assert.equal(ret.result.status, 'error');
    const error = ret.toError();
    assert.equal(error.code, 'EFAULT');
    assert.match(error.message, /detached/);
    assert.equal(await promise, 4096, 'other reads are unaffected');
    await assert.rejects(vectored, (e: unknown) => e instanceof AioIoError && e.code === 'EFAULT');
    await file.close();
  });

  it('core: a write whose buffer is detached while in flight still writes the bytes it had at start', async () => {
    const { aio } = world.context('deferred');
    const filePath = world.file(Buffer.alloc(0));
    const file = aio.open(filePath, { write: true });
    const data = pattern(65536, 11);
    const buffer = Buffer.from(data);
    const writing = file.write(buffer, 0);
    detach(buffer);
    assert.equal(await writing, 65536);
    assert.ok(fs.readFileSync(filePath).equals(data));
    await file.close();
  });

  it('core: a detached view is a usage error (AIO_ERR_DETACHED) on every call that takes buffers', async () => {
    const { aio } = world.context('deferred');
    const filePath = world.file(pattern(8192, 1));
    const file = aio.open(filePath, { read: true, write: true });
    for (const start of [
      (h: ReturnType<Aio['acquire']>) => h.startRead(file, detached(), 0),
      (h: ReturnType<Aio['acquire']>) => h.startWrite(file, detached(), 0),
      (h: ReturnType<Aio['acquire']>) => h.startReadv(file, [Buffer.alloc(1), detached()], 0),
      (h: ReturnType<Aio['acquire']>) => h.startWritev(file, [detached()], 0),
    ]) {
      const handle = aio.acquire();
      assert.throws(() => start(handle), usage('AIO_ERR_DETACHED'));
      assert.equal(handle.state, 'idle', 'the refused start gave the handle back');
    }
    await assert.rejects(file.read(detached(), 0), usage('AIO_ERR_DETACHED'));
    await assert.rejects(file.write(detached(), 0), usage('AIO_ERR_DETACHED'));
    await assert.rejects(file.readv([detached()], 0), usage('AIO_ERR_DETACHED'));
    await assert.rejects(file.writev([Buffer.alloc(2), detached()], 0), usage('AIO_ERR_DETACHED'));
    assert.throws(() => new AlignedPagePool(4096, 1).put(detached()), usage('AIO_ERR_DETACHED'));
    const stream = blockRangeReadStream(aio, file, { blockSize: 4096 });
    assert.throws(() => stream.release(detached()), usage('AIO_ERR_DETACHED'));
    await stream.end();
    const cached = blockRangeReadStream(aio, file, { blockSize: 4096, isCached: () => detached(4096) });
    await assert.rejects(cached.next(), usage('AIO_ERR_DETACHED'));
    await cached.end();
    const cleaned: unknown[] = [];
    const started = aio.stats().started;
    await assert.rejects(
      writeBack(aio, [{ file, offset: 0, buffer: detached() }], { onClean: (p) => cleaned.push(p) }),
      usage('AIO_ERR_DETACHED'),
    );
    assert.deepEqual(cleaned, [], 'the detached page is never reported clean');
    assert.equal(aio.stats().started, started, 'no write and no sync ran for it');
    await file.close();
  });

  it('core: a queued convenience call whose buffer is detached before it starts rejects with AIO_ERR_DETACHED', async () => {
    const { aio } = world.context('deferred', 1);
    const file = aio.open(world.file(pattern(4096, 2)));
    const first = file.read(Buffer.alloc(16), 0);
    const buffer = Buffer.alloc(16);
    const second = file.read(buffer, 0);
    assert.equal(aio.stats().queued, 1);
    detach(buffer);
    assert.equal(await first, 16);
    await assert.rejects(second, usage('AIO_ERR_DETACHED'));
    await file.close();
  });
});

describe('core: closing and refused calls leave the context usable', () => {
  it('core: closeSync() inside a completion callback throws and the context still closes afterwards', async () => {
    const { aio } = world.context('deferred');
    const file = aio.open(world.file(pattern(4096, 4)));
    let thrown: unknown;
    const id = defineAioCallbacks({
      name: 'close-inside',
      completeShared(_handle, prior) {
        try {
          aio.closeSync();
        } catch (error) {
          thrown = error;
        }
        return prior;
      },
    });
    const handle = aio.acquire();
    const ref = handle.getWaitRef();
    handle.registerCallbacks(id);
    handle.startRead(file, allocAligned(4096), 0);
    await ref.wait();
    assert.ok(usage('AIO_ERR_IN_CALLBACK')(thrown), `closeSync threw ${String(thrown)}`);
    assert.equal(aio.closed, false, 'the refused close committed to nothing');
    aio.closeSync();
    assert.equal(aio.closed, true);
    assert.equal(file.closed, true, 'closing the context closed its files');
  });

  it('core: every Promise of the convenience API rejects instead of throwing', async () => {
    const { aio } = world.context('sync');
    const file = aio.open(world.file(pattern(16, 1)));
    const calls: (() => Promise<unknown>)[] = [
      () => file.read('x' as never, 0),
      () => file.read(Buffer.alloc(1), -1),
      () => file.write(Buffer.alloc(1), 0, { length: 5 }),
      () => file.readv([], 0),
      () => file.writev('x' as never, 0),
      () => file.sync({ bogus: true } as never),
      () => writeBack(aio, 42 as never),
    ];
    for (const call of calls) {
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => (promise = call()));
      await assert.rejects(promise as Promise<unknown>, (e: unknown) => e instanceof AioUsageError);
    }
    await file.close();
    await assert.rejects(file.read(Buffer.alloc(1), 0), usage('AIO_ERR_FILE_CLOSED'));
  });

  it('core: a failed start* (a closed file) leaves no handle handed out: the next acquire() works', async () => {
    const { aio } = world.context('deferred');
    const file = aio.open(world.file(pattern(16, 1)));
    await file.close();
    const handle = aio.acquire();
    assert.throws(() => handle.startRead(file, Buffer.alloc(1), 0), usage('AIO_ERR_FILE_CLOSED'));
    const next = aio.acquire();
    assert.equal(next.state, 'handed-out');
    next.release();
  });
});
