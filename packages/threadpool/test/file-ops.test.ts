/**
 * The file operations (issue 14 item 6) on the threadpool method: stat,
 * truncate and allocate run on the pool's workers like reads and writes
 * (fstat, ftruncate, fallocate), and give what node:fs gives for the same
 * file, errors included.
 */
import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import { AioIoError, AioReturn } from '@aio/core';
import { newAio, pattern, tempFile } from './helpers.js';

/** What node:fs says about a file, in the shape of `file.stat()`. */
function nodeStat(path: string) {
  const stats = fs.statSync(path);
  return { size: stats.size, allocatedBytes: stats.blocks * 512, blockSize: stats.blksize, modifiedMs: stats.mtimeMs };
}

it('threadpool: stat reports what node:fs fstat reports for the same file', async () => {
  const path = tempFile(pattern(10000));
  const aio = newAio();
  const file = aio.open(path);
  expect(await file.stat()).toEqual(nodeStat(path));
  expect(file.statSync()).toEqual(nodeStat(path));
  expect(await file.size()).toBe(10000);
  await file.close();
});

it('threadpool: stat, truncate and allocate run on the pool\'s workers, not on the synchronous path', async (context) => {
  const aio = newAio();
  const file = aio.open(tempFile(pattern(100)), { read: true, write: true });
  const queuedBefore = aio.stats().methodStats.queued;
  await file.stat();
  if (aio.stats().methodStats.rejected === 1) {
    // Only the kit's batch decoder rejects a description (tooling/native/src/io.c); until it knows ops 7 to 9
    // the core runs them synchronously through executeSync, which the other tests here cover.
    await file.close();
    return context.skip('the native kit does not decode stat, truncate and allocate yet (tooling/native/src/io.c)');
  }
  await file.truncate(50);
  await file.allocate(0, 4096);
  const stats = aio.stats();
  expect(stats.synchronous).toBe(0);
  expect(stats.methodStats.queued - queuedBefore).toBe(3);
  await file.close();
});

it('threadpool: truncate cuts and extends a file as ftruncate does, keeping the bytes before the cut', async () => {
  const content = pattern(8192);
  const path = tempFile(content);
  const aio = newAio();
  const file = aio.open(path, { read: true, write: true });
  await file.truncate(1000);
  expect(fs.readFileSync(path).equals(content.subarray(0, 1000))).toBe(true);
  file.truncateSync(3000);
  const bytes = fs.readFileSync(path);
  expect(bytes.length).toBe(3000);
  expect(bytes.subarray(0, 1000).equals(content.subarray(0, 1000))).toBe(true);
  expect(bytes.subarray(1000).every((b) => b === 0)).toBe(true);
  await file.close();
});

it('threadpool: allocate reserves the range as fallocate does: the file grows, or keeps its size with keepSize', async () => {
  const path = tempFile(pattern(100));
  const aio = newAio();
  const file = aio.open(path, { read: true, write: true });
  const outcome = await file.allocate(0, 1 << 20);
  if (outcome === 'extended') {
    // The filesystem of the temporary directory has no fallocate: the core extended the file instead.
    expect(fs.statSync(path).size).toBe(1 << 20);
    await file.close();
    return;
  }
  expect(nodeStat(path).size).toBe(1 << 20);
  expect(nodeStat(path).allocatedBytes).toBeGreaterThanOrEqual(1 << 20);
  expect(file.allocateSync(1 << 20, 1 << 20, { keepSize: true })).toBe('allocated');
  expect(nodeStat(path).size).toBe(1 << 20);
  expect(nodeStat(path).allocatedBytes).toBeGreaterThanOrEqual(2 << 20);
  expect(await file.stat()).toEqual(nodeStat(path));
  // The bytes that were there are still there.
  expect(fs.readFileSync(path).subarray(0, 100).equals(pattern(100))).toBe(true);
  await file.close();
});

it('threadpool: a file op on a read-only file fails with the errno node:fs gives, with syscall ftruncate', async () => {
  const path = tempFile(pattern(100));
  const aio = newAio();
  const file = aio.open(path);
  const fd = fs.openSync(path, 'r');
  let expected: NodeJS.ErrnoException | undefined;
  try {
    fs.ftruncateSync(fd, 10);
  } catch (error) {
    expected = error as NodeJS.ErrnoException;
  } finally {
    fs.closeSync(fd);
  }
  expect(expected).toBeDefined();
  const failure = await file.truncate(10).catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(AioIoError);
  expect((failure as AioIoError).code).toBe(expected?.code);
  expect((failure as AioIoError).syscall).toBe('ftruncate');
  expect(() => file.truncateSync(10)).toThrow(expect.objectContaining({ code: expected?.code }));
  expect(fs.statSync(path).size).toBe(100);
  await file.close();
});

it('threadpool: a stat on a file descriptor closed behind the library fails with EBADF on the pool and synchronously', async () => {
  const aio = newAio();
  const fd = fs.openSync(tempFile(pattern(100)), 'r');
  const file = aio.fromFd(fd);
  fs.closeSync(fd);
  await expect(file.stat()).rejects.toMatchObject({ code: 'EBADF', syscall: 'fstat' });
  const ret = new AioReturn();
  const handle = aio.acquire(ret);
  handle.setFlag('synchronous');
  handle.startStat(file, new Float64Array(4));
  expect(ret.result.status).toBe('error');
  expect(ret.toError().code).toBe('EBADF');
  file.closeSync();
});
