/**
 * File operations through the method (stat, truncate, allocate, durable
 * rename, directory sync), compared with node:fs on the same files: the
 * numbers stat gives, the bytes a truncate leaves, the sizes an allocate
 * leaves, what a rename replaces, and the error shapes.  A method that does
 * not run an op asynchronously runs it through the core's synchronous path,
 * and must give the same answers.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Aio, AioIoError, AioReturn, AioUsageError, AioWaitRef, type AioFile, type AioFileStat, type AioHandle, type AioMethodFactory } from '@aio/core';
import { powerLoss } from '@aio/core/testing';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { pattern } from '../util.js';

const MIB = 1 << 20;

function usageError(code: string): (error: unknown) => boolean {
  return (error) => error instanceof AioUsageError && error.code === code;
}

function ioError(code: string, syscall: string): (error: unknown) => boolean {
  return (error) => error instanceof AioIoError && error.code === code && error.syscall === syscall;
}

/** What node:fs says about a path, in the shape of AioFileStat. */
function nodeStat(filePath: string): AioFileStat {
  const stats = fs.statSync(filePath);
  return { size: stats.size, allocatedBytes: stats.blocks * 512, blockSize: stats.blksize, modifiedMs: stats.mtimeMs };
}

/**
 * The same numbers: the mtime to a microsecond (statx and fstat give
 * nanoseconds that become milliseconds in floating point); on Windows only
 * size and mtime, since a HANDLE method reads the allocation and block size
 * from other calls than libuv's emulated fstat.
 */
function assertSameStat(actual: AioFileStat, expected: AioFileStat, what: string): void {
  const { modifiedMs, ...rest } = actual;
  const { modifiedMs: expectedMs, ...expectedRest } = expected;
  if (process.platform === 'win32') assert.equal(rest.size, expectedRest.size, what);
  else assert.deepEqual(rest, expectedRest, what);
  assert.ok(Math.abs(modifiedMs - expectedMs) < 0.001, `${what}: mtime ${modifiedMs} vs node:fs ${expectedMs}`);
}

/** Starts one file operation on a fresh handle; returns its return object and wait reference. */
function startFileOp(aio: Aio, start: (handle: AioHandle) => void): { ret: AioReturn; ref: AioWaitRef } {
  const ret = new AioReturn();
  const ref = new AioWaitRef();
  const handle = aio.acquire(ret);
  handle.getWaitRef(ref);
  start(handle);
  return { ret, ref };
}

/** An IO count that only the file operations of a case move. */
function started(aio: Aio): number {
  return aio.stats().started;
}

export function defineFileOpCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'file operations: stat gives the size, allocated bytes, block size and mtime node:fs gives, on the Promise, sync and handle APIs', async (fx) => {
    const aio = fx.aio();
    const filePath = fx.path();
    const file = aio.open(filePath, { read: true, write: true, create: true });
    assert.equal((await file.stat()).size, 0, 'a new file is empty');
    await file.writeFully(pattern(5000, 1), 0);
    await file.writeFully(pattern(3000, 2), 70_000);
    await file.datasync();
    const expected = nodeStat(filePath);
    assertSameStat(await file.stat(), expected, 'stat()');
    assertSameStat(file.statSync(), expected, 'statSync()');
    assert.equal(await file.size(), 73_000);
    assert.equal(file.sizeSync(), 73_000);
    const numbers = new Float64Array(4);
    const { ret, ref } = startFileOp(aio, (handle) => handle.startStat(file, numbers));
    await ref.wait();
    assert.equal(ret.result.status, 'ok');
    assert.equal(ret.result.result, 0);
    assert.equal(ret.target.op, 'stat');
    const [size, allocatedBytes, blockSize, modifiedMs] = numbers;
    assertSameStat({ size, allocatedBytes, blockSize, modifiedMs }, expected, 'startStat');
    await file.close();
  });

  defineCase(h, m, 'file operations: truncate shrinks and extends with zeros, leaving the bytes node:fs leaves', async (fx) => {
    const aio = fx.aio();
    const content = pattern(10_000, 3);
    const ours = fx.path(content);
    const theirs = fx.path(content);
    const file = aio.open(ours, { read: true, write: true });
    const fd = fs.openSync(theirs, 'r+');
    try {
      for (const [length, sync] of [[3000, false], [9000, true], [9000n, false], [0, true], [4097, false]] as const) {
        if (sync) file.truncateSync(length);
        else await file.truncate(length);
        fs.ftruncateSync(fd, Number(length));
        assert.equal(await file.size(), Number(length));
        assert.ok(fx.read(ours).equals(fx.read(theirs)), `after truncating to ${length} the bytes are node:fs's`);
      }
      await file.truncate(6000);
      assert.ok(fx.read(ours).equals(Buffer.alloc(6000)), 'everything past the cut comes back as zeros');
    } finally {
      fs.closeSync(fd);
    }
    await file.close();
  });

  defineCase(h, m, 'file operations: allocate grows the file (keepSize keeps its size), keeps its data, and reserves space where it says allocated', async (fx) => {
    const aio = fx.aio();
    const filePath = fx.path(pattern(4096, 4));
    const file = aio.open(filePath, { read: true, write: true });
    const grown = await file.allocate(0, MIB);
    assert.ok(grown === 'allocated' || grown === 'extended', `outcome ${grown}`);
    assert.equal(nodeStat(filePath).size, MIB, 'the file grew to the end of the range');
    const content = fx.read(filePath);
    assert.ok(content.subarray(0, 4096).equals(pattern(4096, 4)), 'the data before stayed');
    assert.ok(content.subarray(4096).equals(Buffer.alloc(MIB - 4096)), 'the rest reads as zeros');
    if (grown === 'allocated') assert.ok((await file.stat()).allocatedBytes >= MIB, 'allocated bytes cover the range');

    const kept = await file.allocate(MIB, MIB, { keepSize: true });
    assert.equal(await file.size(), MIB, 'keepSize keeps the size');
    if (kept === 'allocated' && process.platform !== 'win32') assert.ok((await file.stat()).allocatedBytes >= MIB, 'the range past the end is reserved');

    assert.ok(['allocated', 'extended'].includes(file.allocateSync(2 * MIB, 8192)));
    assert.equal(file.sizeSync(), 2 * MIB + 8192);
    assert.ok(['allocated', 'extended'].includes(await file.allocate(0n, 100n)));
    assert.equal(file.sizeSync(), 2 * MIB + 8192, 'a range inside the file changes no size');
    await file.close();
  });

  defineCase(h, m, 'file operations: a durable rename replaces an existing target and syncs the directory through the method', async (fx) => {
    const aio = fx.aio();
    const source = fx.path(pattern(1000, 5));
    const target = fx.path(pattern(2000, 6));
    const before = started(aio);
    await aio.rename(source, target);
    assert.equal(fs.existsSync(source), false);
    assert.ok(fx.read(target).equals(pattern(1000, 5)), 'the target holds the renamed file');
    const directorySyncs = process.platform === 'win32' ? 0 : 1;
    assert.equal(started(aio) - before, directorySyncs, 'one directory fsync went through the method');

    const sub = path.join(fx.dir, 'sub');
    fs.mkdirSync(sub);
    const moved = path.join(sub, 'moved');
    aio.renameSync(pathToFileURL(target), pathToFileURL(moved));
    assert.ok(fx.read(moved).equals(pattern(1000, 5)));
    assert.equal(started(aio) - before, 3 * directorySyncs, 'across directories both are synced');

    await aio.rename(moved, source, { durable: false });
    aio.renameSync(source, target, { durable: false });
    assert.ok(fx.read(target).equals(pattern(1000, 5)));
    assert.equal(started(aio) - before, 3 * directorySyncs, 'a rename that is not durable syncs nothing');
  });

  defineCase(h, m, 'file operations: syncDirectory and syncDirectorySync fsync a directory through the method and close it', async (fx) => {
    const aio = fx.aio();
    fx.path(pattern(10, 7));
    const before = started(aio);
    await aio.syncDirectory(fx.dir);
    aio.syncDirectorySync(pathToFileURL(fx.dir));
    assert.equal(started(aio) - before, process.platform === 'win32' ? 0 : 2);
    if (process.platform === 'win32') return;
    await assert.rejects(aio.syncDirectory(path.join(fx.dir, 'missing')), ioError('ENOENT', 'open'));
    assert.throws(() => aio.syncDirectorySync(path.join(fx.dir, 'missing')), ioError('ENOENT', 'open'));
  });

  defineCase(h, m, 'file operations: failures are AioIoErrors with the codes node:fs gives, a closed file is a usage error', async (fx) => {
    const aio = fx.aio();
    const missing = path.join(fx.dir, 'missing');
    await assert.rejects(aio.rename(missing, path.join(fx.dir, 'x')), (error: unknown) => {
      assert.ok(ioError('ENOENT', 'rename')(error), String(error));
      assert.equal((error as AioIoError).path, missing);
      assert.equal((error as AioIoError).method, m.name);
      return true;
    });
    assert.throws(() => aio.renameSync(missing, path.join(fx.dir, 'x')), ioError('ENOENT', 'rename'));

    const readOnly = fx.path(pattern(100, 8));
    const file = aio.open(readOnly, { read: true });
    const fd = fs.openSync(readOnly, 'r');
    let nodeCode = '';
    try {
      fs.ftruncateSync(fd, 10);
    } catch (error) {
      nodeCode = (error as NodeJS.ErrnoException).code as string;
    } finally {
      fs.closeSync(fd);
    }
    assert.notEqual(nodeCode, '', 'node:fs refuses to truncate a read-only fd');
    // A HANDLE method's errno comes from its own call (SetFileInformationByHandle), not libuv's: only the shape is compared.
    const code = aio.capabilities.fileKind === 'fd' ? nodeCode : undefined;
    const refused = (error: unknown): boolean => error instanceof AioIoError && error.syscall === 'ftruncate' && (code === undefined || error.code === code);
    await assert.rejects(file.truncate(10), refused);
    assert.throws(() => file.truncateSync(10), refused);
    assert.equal(fx.read(readOnly).length, 100, 'the file did not change');
    await file.close();

    for (const call of [() => file.stat(), () => file.size(), () => file.truncate(1), () => file.allocate(0, 1)]) {
      await assert.rejects(call(), usageError('AIO_ERR_FILE_CLOSED'));
    }
    for (const call of [() => file.statSync(), () => file.truncateSync(1), () => file.allocateSync(0, 1)]) {
      assert.throws(call, usageError('AIO_ERR_FILE_CLOSED'));
    }
    const handle = aio.acquire();
    assert.throws(() => handle.startStat(file, new Float64Array(4)), usageError('AIO_ERR_FILE_CLOSED'));
    assert.equal(handle.state, 'idle', 'the refused start gave the handle back');
  });

  defineCase(h, m, 'file operations: bad arguments are usage errors and start no IO', async (fx) => {
    const aio = fx.aio();
    const other = fx.aio();
    const file = aio.open(fx.path(pattern(100, 9)), { read: true, write: true });
    const foreign = other.open(fx.path(pattern(100, 9)), { read: true, write: true });
    const before = started(aio);
    const rejections: [Promise<unknown>, string][] = [
      [file.truncate(-1), 'AIO_ERR_OUT_OF_RANGE'],
      [file.truncate(Number.NaN), 'AIO_ERR_OUT_OF_RANGE'],
      [file.truncate(2 ** 60), 'AIO_ERR_OUT_OF_RANGE'],
      [file.truncate('1' as never), 'AIO_ERR_INVALID_TYPE'],
      [file.allocate(0, 0), 'AIO_ERR_OUT_OF_RANGE'],
      [file.allocate(-1, 10), 'AIO_ERR_OUT_OF_RANGE'],
      [file.allocate(Number.MAX_SAFE_INTEGER, 10), 'AIO_ERR_OUT_OF_RANGE'],
      [file.allocate(0, 10, { keepSize: 'yes' as never }), 'AIO_ERR_INVALID_TYPE'],
      [file.allocate(0, 10, { bogus: 1 } as never), 'AIO_ERR_INVALID_OPTION'],
      [file.stat({ length: 1 } as never), 'AIO_ERR_INVALID_OPTION'],
      [aio.rename(42 as never, 'x'), 'AIO_ERR_INVALID_TYPE'],
      [aio.rename('', 'x'), 'AIO_ERR_INVALID_TYPE'],
      [aio.rename(fx.path(1), fx.path(), { durable: 1 as never }), 'AIO_ERR_INVALID_TYPE'],
      [aio.syncDirectory(null as never), 'AIO_ERR_INVALID_TYPE'],
    ];
    for (const [promise, code] of rejections) await assert.rejects(promise, usageError(code));
    assert.throws(() => file.truncateSync(-1), usageError('AIO_ERR_OUT_OF_RANGE'));
    assert.throws(() => file.allocateSync(0, -5), usageError('AIO_ERR_OUT_OF_RANGE'));
    assert.throws(() => aio.renameSync({} as never, 'x'), usageError('AIO_ERR_INVALID_TYPE'));
    for (const [buffer, code] of [
      [new Float64Array(2), 'AIO_ERR_OUT_OF_RANGE'],
      [Buffer.alloc(40).subarray(1, 33), 'AIO_ERR_OUT_OF_RANGE'],
      ['not a buffer', 'AIO_ERR_INVALID_TYPE'],
    ] as const) {
      const handle = aio.acquire();
      assert.throws(() => handle.startStat(file, buffer as never), usageError(code));
      assert.equal(handle.state, 'idle');
    }
    const handle = aio.acquire();
    assert.throws(() => handle.startAllocate(file, 0, 10, 'yes' as never), usageError('AIO_ERR_INVALID_TYPE'));
    const again = aio.acquire();
    assert.throws(() => again.startTruncate(foreign, 1), usageError('AIO_ERR_FOREIGN_FILE'));
    assert.equal(started(aio), before, 'no IO started');
    assert.equal(fx.read(file.path as string).length, 100);
    await file.close();
    await foreign.close();
    await aio.close();
    await assert.rejects(aio.rename(fx.path(1), fx.path()), usageError('AIO_ERR_CLOSED'));
    await assert.rejects(aio.syncDirectory(fx.dir), usageError('AIO_ERR_CLOSED'));
    assert.throws(() => aio.syncDirectorySync(fx.dir), usageError('AIO_ERR_CLOSED'));
  });

  defineCase(h, m, 'file operations: the handle API in batch mode and the Promise API give the same sizes and numbers', async (fx) => {
    const aio = fx.aio();
    const files: AioFile[] = [0, 1, 2].map((i) => aio.open(fx.path(pattern(8192, 10 + i)), { read: true, write: true }));
    const numbers = new Float64Array(4);
    const started: { ret: AioReturn; ref: AioWaitRef }[] = [];
    aio.batch(() => {
      started.push(startFileOp(aio, (handle) => handle.startStat(files[0], numbers)));
      started.push(startFileOp(aio, (handle) => handle.startTruncate(files[1], 1000)));
      started.push(startFileOp(aio, (handle) => handle.startAllocate(files[2], 0, 65_536)));
    });
    for (const { ref } of started) await ref.wait();
    assert.equal(started[0].ret.result.status, 'ok');
    assert.equal(started[1].ret.result.status, 'ok');
    const [size, allocatedBytes, blockSize, modifiedMs] = numbers;
    assertSameStat({ size, allocatedBytes, blockSize, modifiedMs }, await files[0].stat(), 'stat in a batch');
    assert.equal(await files[1].size(), 1000);
    const allocation = started[2].ret.result;
    if (allocation.status === 'error') {
      // No allocation call here: the handle API reports it (ENOTSUP); file.allocate() extends instead.
      assert.equal(await files[2].allocate(0, 65_536), 'extended', `allocate failed with ${allocation.code}`);
    } else {
      assert.equal(allocation.status, 'ok');
    }
    assert.equal(await files[2].size(), 65_536);
    assert.ok(fx.read(files[2].path as string).subarray(0, 8192).equals(pattern(8192, 12)));
    for (const file of files) await file.close();
  });

  defineCase(h, m, 'power loss: an unsynced truncate may be lost, a synced one survives; a rename survives once its directory is synced', async (fx, t) => {
    if (process.platform === 'win32') t.skip('renames are not simulated on Windows: there is no directory fsync to make one durable');
    const sim = powerLoss(m.factory as AioMethodFactory, { seed: 21 });
    const aio = new Aio({ method: sim });
    try {
      const synced = fx.path(pattern(8192, 13));
      const unsynced = fx.path(pattern(8192, 14));
      const a = aio.open(synced, { read: true, write: true });
      const b = aio.open(unsynced, { read: true, write: true });
      await a.truncate(1000);
      await a.sync();
      await b.truncate(2000);
      const durableName = path.join(fx.dir, 'durable');
      const riskyTarget = fx.path(pattern(300, 15));
      await aio.rename(synced, durableName);
      await aio.rename(unsynced, riskyTarget, { durable: false });
      await a.close();
      await b.close();
      const fates = new Set<string>();
      for (let seed = 0; seed < 50; seed++) {
        const state = sim.crash({ seed });
        const why = state.describe();
        assert.ok(state.files.get(durableName)?.equals(pattern(1000, 13)), `seed ${seed}: the synced truncate and the durable rename survived\n${why}`);
        assert.equal(state.renames.length, 1, 'only the rename that was not durable is at risk');
        const rename = state.renames[0];
        const truncate = state.writes.find((write) => write.op === 'truncate');
        assert.ok(truncate !== undefined, 'the unsynced truncate is at risk');
        const image = pattern(8192, 14).subarray(0, truncate.fate === 'kept' ? 2000 : 8192);
        if (rename.fate === 'kept') {
          assert.ok(state.files.get(riskyTarget)?.equals(image), `seed ${seed}: kept rename\n${why}`);
          assert.equal(state.files.has(unsynced), false);
        } else {
          assert.ok(state.files.get(unsynced)?.equals(image), `seed ${seed}: lost rename, the file is back\n${why}`);
          assert.ok(state.files.get(riskyTarget)?.equals(pattern(300, 15)), `seed ${seed}: the replaced target is back\n${why}`);
        }
        fates.add(`${rename.fate}/${truncate.fate}`);
      }
      assert.equal(fates.size, 4, `over 50 seeds renames and truncates are each kept and lost: ${[...fates].join(', ')}`);
    } finally {
      await aio.close();
    }
  });
}
