import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeAll, newAio, pattern, patternFile, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)('io_uring ops', () => {
  it('io_uring: read, readv, write, writev, fsync and fdatasync all go through the ring, none through the fallback', async () => {
    const aio = newAio();
    const file = aio.open(path.join(dir, 'ops'), { read: true, write: true, create: true, truncate: true });
    expect(await file.write(pattern(5000, 3), 0)).toBe(5000);
    expect(await file.writev([pattern(100, 4), new Uint16Array(50), new DataView(new ArrayBuffer(7))], 5000)).toBe(207);
    await file.sync();
    await file.datasync();
    const a = Buffer.alloc(5000);
    expect(await file.read(a, 0)).toBe(5000);
    expect(a.equals(pattern(5000, 3))).toBe(true);
    const b = Buffer.alloc(100);
    const c = new Uint8Array(107);
    expect(await file.readv([b, c], 5000)).toBe(207);
    expect(b.equals(pattern(100, 4))).toBe(true);
    expect(c.every((byte) => byte === 0)).toBe(true);
    const stats = aio.stats();
    expect(stats.fallbacks).toBe(0);
    expect(stats.synchronous).toBe(0);
    expect(stats.methodStats.ios).toBe(6);
  });

  it('io_uring: disabled ops are left out of the capabilities and run through the synchronous fallback, counted', async () => {
    const aio = newAio({ disabledOps: ['fsync', 'readv'] });
    expect(aio.capabilities.ops).not.toContain('fsync');
    expect(aio.capabilities.ops).not.toContain('readv');
    expect(aio.capabilities.ops).toContain('read');
    const file = aio.open(patternFile(dir, 4096), { read: true, write: true });
    await file.sync();
    expect(await file.readv([Buffer.alloc(10), Buffer.alloc(10)], 0)).toBe(20);
    expect(await file.read(Buffer.alloc(10), 0)).toBe(10);
    const stats = aio.stats();
    expect(stats.fallbacks).toBe(2);
    // The core still submits the six data ops whatever `ops` says (methods older than the list), and the addon refuses them.
    expect(stats.methodStats.unsupported).toBe(2);
    expect(stats.methodStats.ios).toBe(1);
  });

  it('io_uring: an IO on an fd the kernel rejects fails like node:fs would (EBADF on a read-only fd)', async () => {
    const aio = newAio();
    const file = aio.open(patternFile(dir, 100));
    await expect(file.write(Buffer.alloc(1), 0)).rejects.toMatchObject({ code: 'EBADF', syscall: 'write', method: 'io_uring' });
  });
});
