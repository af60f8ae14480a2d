/**
 * The file operations (issue 14 item 6) on posix_aio.  POSIX aio has no
 * stat, truncate or allocate request, so the core runs them synchronously:
 * stat and truncate with node:fs on the fd, allocate with the addon's
 * fallocate/posix_fallocate (node:fs has none), so it really reserves.
 */
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { AioIoError } from '@aio/core';
import { context, finish, pattern, patternFile, scratchDir, unavailable } from './helpers.js';

const skip = unavailable();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What node:fs says about a file, in the shape of `file.stat()`. */
function nodeStat(path: string) {
  const stats = fs.statSync(path);
  return { size: stats.size, allocatedBytes: stats.blocks * 512, blockSize: stats.blksize, modifiedMs: stats.mtimeMs };
}

describe.skipIf(skip !== undefined)('file operations', () => {
  it('posix_aio: stat and truncate run synchronously and give what node:fs gives for the same file', async () => {
    const path = patternFile(dir, 'stat.bin', 10000);
    const aio = context();
    const file = aio.open(path, { read: true, write: true });
    expect(await file.stat()).toEqual(nodeStat(path));
    await file.truncate(1000);
    expect(fs.readFileSync(path).equals(pattern(1000, 0))).toBe(true);
    expect(await file.size()).toBe(1000);
    // Never handed to the aio library: each one ran on the synchronous path.
    expect(aio.stats().synchronous).toBe(3);
    expect(aio.stats().methodStats.iosAccepted).toBe(0);
    await finish(aio, file);
  });

  it('posix_aio: allocate reserves the range with fallocate (not a sparse extension); keepSize keeps the size', async () => {
    const path = patternFile(dir, 'allocate.bin', 100);
    const aio = context();
    const file = aio.open(path, { read: true, write: true });
    const outcome = await file.allocate(0, 1 << 20);
    if (process.platform === 'linux') expect(outcome).toBe('allocated');
    expect(nodeStat(path).size).toBe(1 << 20);
    if (outcome === 'allocated') {
      expect(nodeStat(path).allocatedBytes).toBeGreaterThanOrEqual(1 << 20);
      expect(file.allocateSync(1 << 20, 1 << 20, { keepSize: true })).toBe('allocated');
      expect(nodeStat(path).size).toBe(1 << 20);
      expect(nodeStat(path).allocatedBytes).toBeGreaterThanOrEqual(2 << 20);
    }
    expect(fs.readFileSync(path).subarray(0, 100).equals(pattern(100, 0))).toBe(true);
    await finish(aio, file);
  });

  it('posix_aio: an allocate on a read-only file fails with EBADF and syscall fallocate, and changes nothing', async () => {
    const path = patternFile(dir, 'readonly.bin', 100);
    const aio = context();
    const file = aio.open(path);
    const failure = await file.allocate(0, 4096).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AioIoError);
    expect(failure).toMatchObject({ code: 'EBADF', syscall: 'fallocate' });
    expect(() => file.allocateSync(0, 4096)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(fs.statSync(path).size).toBe(100);
    await finish(aio, file);
  });
});
