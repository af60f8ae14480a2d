/**
 * File operations through the method: stat, truncate, allocate, durable
 * rename and directory sync.  The sync and libuv methods are checked against
 * node:fs; an in-test method checks the contract a method sees (which ops it
 * is handed, with which fields, and that a method that does not list them
 * never sees them); the power-loss simulator's model of size changes and
 * renames is checked seed by seed.  `pnpm conformance <method>` runs the
 * same behaviour on every method.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'vitest';
import {
  AIO_FLAG_KEEP_SIZE,
  AIO_OP,
  Aio,
  AioIoError,
  AioReturn,
  AioUsageError,
  AioWaitRef,
  isNonDetachable,
  libuvMethod,
  syncMethod,
  type AioIoView,
  type AioMethodFactory,
  type AioOpName,
} from '../src/index.js';
import { NativeMethod, executeWithNodeFs, type AioNativeBinding } from '../src/method.js';
import { powerLoss } from '../src/testing.js';
import { ScriptedMethod } from './fake-method.js';
import { seededBytes } from './io-helpers.js';
import { tempWorld } from './temp-world.js';

const world = tempWorld('aio-file-ops-', { checkFds: true });

const FILE_OPS: readonly AioOpName[] = ['stat', 'truncate', 'allocate'];

function usageError(code: string): (error: unknown) => boolean {
  return (error) => error instanceof AioUsageError && error.code === code;
}

/** A scripted method that lists `ops` as the ones it runs asynchronously. */
function scriptedWith(ops: readonly AioOpName[]): AioMethodFactory & { created?: ScriptedMethod } {
  const factory: AioMethodFactory & { created?: ScriptedMethod } = {
    name: 'threadpool',
    probe: () => ({ available: true, reason: 'test method' }),
    create(host) {
      const method = new ScriptedMethod(host);
      Object.defineProperty(method, 'capabilities', { value: { ...method.capabilities, ops } });
      factory.created = method;
      return method;
    },
  };
  return factory;
}

/**
 * The sync method with an allocation call (node:fs has none): an allocate
 * that is not keep-size extends the file to the range's end and succeeds.
 */
function allocatingSyncMethod(): AioMethodFactory {
  const inner = syncMethod();
  return {
    ...inner,
    create(host, context) {
      const method = inner.create(host, context);
      method.executeSynchronously = (io) => {
        if (io.op !== AIO_OP.allocate) return executeWithNodeFs(io);
        const fd = (io.file as { fd: number }).fd;
        const end = io.offset + io.length;
        if ((io.flags & AIO_FLAG_KEEP_SIZE) === 0 && fs.fstatSync(fd).size < end) fs.ftruncateSync(fd, end);
        return 0;
      };
      return method;
    },
  };
}

/** Lets pending Promise reactions run (a queued convenience call's next step). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('file operations', () => {
  for (const [name, factory] of [
    ['sync', syncMethod],
    ['libuv', libuvMethod],
  ] as const) {
    it(`${name}: stat, truncate and allocate give what node:fs gives, on the Promise and the sync twins`, async () => {
      const aio = world.track(new Aio({ method: factory() }));
      const filePath = world.file(seededBytes(5000, 1));
      const file = aio.open(filePath, { read: true, write: true });
      const expected = fs.statSync(filePath);
      const stat = await file.stat();
      assert.deepEqual(stat, { size: 5000, allocatedBytes: expected.blocks * 512, blockSize: expected.blksize, modifiedMs: expected.mtimeMs });
      assert.deepEqual(file.statSync(), stat);
      await file.truncate(1000);
      assert.ok(fs.readFileSync(filePath).equals(seededBytes(5000, 1).subarray(0, 1000)));
      file.truncateSync(3000n);
      assert.ok(fs.readFileSync(filePath).subarray(1000).equals(Buffer.alloc(2000)), 'the extension reads as zeros');
      // node:fs has no fallocate: both methods extend with truncate and say so.
      assert.equal(await file.allocate(0, 65536), 'extended');
      assert.equal(await file.size(), 65536);
      assert.equal(file.allocateSync(0, 1 << 20, { keepSize: true }), 'extended');
      assert.equal(file.sizeSync(), 65536, 'keepSize never changes the size, also when nothing could be allocated');
      assert.equal(await file.allocate(0, 100), 'extended');
      assert.equal(file.sizeSync(), 65536, 'the fallback never shrinks a file');
      await file.close();
    });
  }

  it('libuv: stat and truncate are in flight on the pool when they start; allocate runs synchronously as an unsupported op', async () => {
    const aio = world.track(new Aio({ method: libuvMethod() }));
    const file = aio.open(world.file(seededBytes(100, 2)), { read: true, write: true });
    assert.deepEqual(aio.capabilities.ops.filter((op) => FILE_OPS.includes(op)), ['stat', 'truncate']);
    const ret = new AioReturn();
    const ref = new AioWaitRef();
    const handle = aio.acquire(ret);
    handle.getWaitRef(ref);
    handle.startTruncate(file, 50);
    assert.equal(ref.isDone(), false, 'the truncate is on the pool');
    await ref.wait();
    assert.equal(ret.result.status, 'ok');
    const before = aio.stats().fallbacks;
    const allocate = new AioReturn();
    aio.acquire(allocate).startAllocate(file, 0, 10);
    assert.equal(allocate.result.code, 'ENOTSUP', 'the handle API reports the missing allocation call as it is');
    assert.equal(aio.stats().fallbacks, before + 1);
    assert.equal(file.statSync().size, 50, 'a sync twin works on a method that cannot wait');
    await file.close();
  });

  it('core: a method that does not list the file operations never sees them in submit; they run synchronously as unsupported-op fallbacks', async () => {
    const factory = scriptedWith(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync']);
    const aio = world.track(new Aio({ method: factory }));
    const filePath = world.file(seededBytes(4096, 3));
    const file = aio.open(filePath, { read: true, write: true });
    const method = factory.created as ScriptedMethod;
    assert.equal((await file.stat()).size, 4096);
    await file.truncate(100);
    assert.equal(await file.allocate(0, 8192), 'extended');
    assert.deepEqual(method.submitCalls, [], 'nothing reached submit');
    assert.equal(aio.stats().fallbacks, 5, 'stat, truncate, allocate, and the fallback stat and truncate');
    assert.equal(fs.statSync(filePath).size, 8192);
    await file.close();
  });

  it('core: a method that lists them gets the contract fields: a non-detachable 32-byte stat slot, the new length as offset, the range and keep-size flag', async () => {
    const factory = scriptedWith(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync', ...FILE_OPS]);
    const aio = world.track(new Aio({ method: factory }));
    const file = aio.open(world.file(seededBytes(10, 4)), { read: true, write: true });
    const method = factory.created as ScriptedMethod;
    const seen: AioIoView[] = method.inFlight;

    const stat = file.stat();
    const [statIo] = seen;
    assert.equal(statIo.op, AIO_OP.stat);
    assert.equal(statIo.length, 32);
    assert.ok(statIo.buffer !== null && statIo.buffer.byteLength === 32 && statIo.buffer.byteOffset % 8 === 0 && isNonDetachable(statIo.buffer));
    new Float64Array(statIo.buffer.buffer, statIo.buffer.byteOffset, 4).set([123, 4096, 512, 1.5]);
    method.complete(statIo, 0);
    assert.deepEqual(await stat, { size: 123, allocatedBytes: 4096, blockSize: 512, modifiedMs: 1.5 });

    const truncate = file.truncate(7777);
    const [truncateIo] = seen;
    assert.deepEqual([truncateIo.op, truncateIo.offset, truncateIo.length, truncateIo.buffer, truncateIo.buffers], [AIO_OP.truncate, 7777, 0, null, null]);
    method.complete(truncateIo, 0);
    await truncate;

    // EOPNOTSUPP from the method: file.allocate() stats, then extends with a truncate, each through the method.
    const allocate = file.allocate(4096, 8192, { keepSize: false });
    const [allocateIo] = seen;
    assert.deepEqual([allocateIo.op, allocateIo.offset, allocateIo.length, allocateIo.flags & AIO_FLAG_KEEP_SIZE], [AIO_OP.allocate, 4096, 8192, 0]);
    method.complete(allocateIo, -95);
    await turn();
    const [fallbackStat] = seen;
    assert.equal(fallbackStat.op, AIO_OP.stat);
    const slot = fallbackStat.buffer as ArrayBufferView;
    new Float64Array(slot.buffer, slot.byteOffset, 4).set([5000, 8192, 4096, 2]);
    method.complete(fallbackStat, 0);
    await turn();
    const [fallbackTruncate] = seen;
    assert.deepEqual([fallbackTruncate.op, fallbackTruncate.offset], [AIO_OP.truncate, 12288]);
    method.complete(fallbackTruncate, 0);
    assert.equal(await allocate, 'extended');

    const kept = new AioReturn();
    aio.acquire(kept).startAllocate(file, 0, 10, true);
    assert.equal(seen[0].flags & AIO_FLAG_KEEP_SIZE, AIO_FLAG_KEEP_SIZE);
    method.complete(seen[0], 0);
    assert.equal(kept.result.status, 'ok');
    await file.close();
  });

  it('core: a stat buffer detached while the stat is in flight gets nothing and the result is EFAULT, never a write to freed memory', async () => {
    const factory = scriptedWith(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync', 'stat']);
    const aio = world.track(new Aio({ method: factory }));
    const file = aio.open(world.file(seededBytes(10, 5)));
    const method = factory.created as ScriptedMethod;
    const numbers = new Float64Array(4);
    const ret = new AioReturn();
    aio.acquire(ret).startStat(file, numbers);
    const slot = method.inFlight[0].buffer as ArrayBufferView;
    assert.notEqual(slot.buffer, numbers.buffer, 'the method never holds the caller memory');
    structuredClone(numbers.buffer, { transfer: [numbers.buffer] });
    method.complete(method.inFlight[0], 0);
    assert.equal(ret.result.code, 'EFAULT');
    await file.close();
  });

  it('core: NativeMethod runs an op its capabilities do not list synchronously, so an addon built before the file operations stays correct', () => {
    const binding = { create: () => ({}), probe: () => ({ available: true, reason: '' }) } as unknown as AioNativeBinding;
    const method = (ops: readonly AioOpName[]) =>
      new NativeMethod(
        binding,
        { name: 'io_uring', waitOnFileBeforeClose: true, options: {}, capabilities: { ops, direct: true, vectored: true, maxDepth: 4, completesOnOtherThread: false, fileKind: 'fd' } },
        {} as never,
        { maxConcurrency: 4, options: {} },
      );
    const old = method(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync']);
    for (const op of [AIO_OP.stat, AIO_OP.truncate, AIO_OP.allocate]) assert.equal(old.needsSynchronousExecution({ op, flags: 0 } as AioIoView), true);
    assert.equal(old.needsSynchronousExecution({ op: AIO_OP.read, flags: 0 } as AioIoView), false);
    const current = method(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync', 'stat', 'truncate']);
    assert.equal(current.needsSynchronousExecution({ op: AIO_OP.stat, flags: 0 } as AioIoView), false);
    assert.equal(current.needsSynchronousExecution({ op: AIO_OP.allocate, flags: 0 } as AioIoView), true);
  });

  it('core: failures carry the syscall and target node:fs would name; bad arguments are usage errors', async () => {
    const aio = world.track(new Aio({ method: syncMethod() }));
    const filePath = world.file(seededBytes(100, 6));
    const file = aio.open(filePath, { read: true });
    const ret = new AioReturn();
    aio.acquire(ret).startTruncate(file, 10);
    const error = ret.toError();
    assert.ok(error instanceof AioIoError);
    assert.equal(error.syscall, 'ftruncate');
    assert.equal(error.target, `truncate of file ${JSON.stringify(filePath)} to 10 bytes`);
    await assert.rejects(file.truncate(10), (e: unknown) => e instanceof AioIoError && e.code === error.code && e.path === filePath);
    await assert.rejects(aio.rename(path.join(world.dir, 'nope'), path.join(world.dir, 'x')), (e: unknown) => e instanceof AioIoError && e.code === 'ENOENT' && e.syscall === 'rename');
    await assert.rejects(file.allocate(1, 0), usageError('AIO_ERR_OUT_OF_RANGE'));
    await assert.rejects(aio.rename(path.join(world.dir, 'a'), new URL('http://example.com/b')), usageError('AIO_ERR_INVALID_TYPE'));
    assert.throws(() => aio.acquire().startStat(file, new Uint8Array(31)), usageError('AIO_ERR_OUT_OF_RANGE'));
    await file.close();
  });
});

describe('power loss: file operations', () => {
  it('power loss: an unsynced truncate or allocate is kept or lost whole, a synced one is in every crash state, keepSize is not journaled', async () => {
    const filePath = world.file(seededBytes(8192, 7));
    const sim = powerLoss(allocatingSyncMethod(), { seed: 1 });
    const aio = new Aio({ method: sim });
    const file = aio.open(filePath, { read: true, write: true });
    await file.truncate(4096);
    await file.datasync();
    await file.allocate(0, 16384, { keepSize: true });
    await file.truncate(1000);
    await file.allocate(0, 20000);
    await file.close();
    await aio.close();
    const fates = new Set<string>();
    for (let seed = 0; seed < 60; seed++) {
      const state = sim.crash({ seed });
      assert.deepEqual(
        state.writes.map((w) => [w.op, w.offset, w.length]),
        [
          ['truncate', 1000, 0],
          ['allocate', 0, 20000],
        ],
        'the unsynced size changes are at risk, the keep-size allocate is not journaled',
      );
      const [cut, grow] = state.writes;
      const size = grow.fate === 'kept' ? 20000 : cut.fate === 'kept' ? 1000 : 4096;
      const image = state.files.get(filePath) as Buffer;
      assert.equal(image.length, size, state.describe());
      const kept = Math.min(size, cut.fate === 'kept' ? 1000 : 4096);
      assert.ok(image.subarray(0, kept).equals(seededBytes(8192, 7).subarray(0, kept)), 'the synced truncate is always applied');
      assert.ok(image.subarray(kept).equals(Buffer.alloc(size - kept)));
      fates.add(`${cut.fate}/${grow.fate}`);
    }
    assert.equal(fates.size, 4, [...fates].join(' '));
  });

  it('power loss: renames are undone as a suffix unless their directory was synced; an undone rename restores the replaced target or removes the new name', async () => {
    const a = world.file(seededBytes(100, 8));
    const b = world.file(seededBytes(200, 9));
    const c = path.join(world.dir, 'c');
    const d = path.join(world.dir, 'd');
    const sim = powerLoss(syncMethod(), { seed: 2 });
    const aio = new Aio({ method: sim });
    aio.renameSync(a, b); // durable: replaces b
    await aio.rename(b, c, { durable: false });
    const file = aio.open(c, { read: true, write: true });
    await file.writeFully(seededBytes(50, 10), 0);
    await file.sync();
    aio.renameSync(c, d, { durable: false });
    await file.close(); // the fd followed the file: its writes belong to d's journal
    await aio.close();
    const survivors = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const state = sim.crash({ seed });
      const kept = state.renames.filter((r) => r.fate === 'kept').length;
      assert.deepEqual(state.renames.map((r) => r.fate), ['kept', 'kept'].map((_, i) => (i < kept ? 'kept' : 'lost')), 'a prefix survives');
      const content = Buffer.concat([seededBytes(50, 10), seededBytes(100, 8).subarray(50)]);
      assert.equal(state.files.has(a), false, 'the durable rename is in every state');
      const where = kept === 2 ? d : kept === 1 ? c : b;
      assert.ok(state.files.get(where)?.equals(content), `seed ${seed}: the file is at ${where}\n${state.describe()}`);
      const chain = [b, c, d];
      assert.deepEqual(new Set(state.removed), new Set(chain.slice(chain.indexOf(where) + 1)), 'the newer names of undone renames are gone');
      survivors.add(kept);
    }
    assert.deepEqual([...survivors].sort(), [0, 1, 2]);
    const state = sim.crash({ seed: 3 });
    state.apply();
    for (const removed of state.removed) assert.equal(fs.existsSync(removed), false);
    for (const [filePath, image] of state.files) assert.ok(fs.readFileSync(filePath).equals(image));
  });

  it('power loss: after the cut a rename fails with EIO and moves nothing', async () => {
    const a = world.file(seededBytes(10, 11));
    const sim = powerLoss(syncMethod(), { seed: 4 });
    const aio = world.track(new Aio({ method: sim }));
    sim.crash();
    await assert.rejects(aio.rename(a, path.join(world.dir, 'x')), (e: unknown) => e instanceof AioIoError && e.code === 'EIO');
    assert.ok(fs.existsSync(a));
  });
});
