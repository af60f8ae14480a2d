import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { AioIoError, type Aio, type AioFile } from '@aio/core';
import { context, finish, methodStats, openFds, pattern, patternFile, scratchDir, unavailable } from './helpers.js';

const skip = unavailable();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * Reads `count` blocks, submitted 32 at a time in batch mode: within one
 * submit every IO finds the earlier ones still in flight, so lanes open
 * deterministically (IOs submitted one by one may each find the file idle).
 */
async function readAll(aio: Aio, file: AioFile, count: number, size: number): Promise<void> {
  const reads: Promise<void>[] = [];
  for (let first = 0; first < count; first += 32) {
    aio.batch(() => {
      for (let i = first; i < Math.min(count, first + 32); i++) {
        const buf = Buffer.alloc(size);
        const offset = ((i * 13) % 64) * size;
        reads.push(
          file.read(buf, offset).then((n) => {
            expect(n).toBe(size);
            expect(buf.equals(pattern(size, offset))).toBe(true);
          }),
        );
      }
    });
  }
  await Promise.all(reads);
}

describe.skipIf(skip !== undefined)('fd lanes', () => {
  it('posix_aio: a file read one IO at a time never gets a dup', async () => {
    const path = patternFile(dir, 'serial.bin', 64 * 4096);
    const aio = context({ lanes: 8 });
    const file = aio.open(path);
    for (let i = 0; i < 20; i++) expect(await file.read(Buffer.alloc(4096), i * 4096)).toBe(4096);
    expect(methodStats(aio).lanesOpened).toBe(0);
    await finish(aio, file);
  });

  it('posix_aio: concurrent IO on one file opens lanes up to the limit, and closing the file closes them', async () => {
    const path = patternFile(dir, 'lanes.bin', 64 * 4096);
    const fds = openFds();
    const aio = context({ lanes: 4 });
    const file = aio.open(path);
    await readAll(aio, file, 256, 4096);
    const stats = methodStats(aio);
    expect(stats.lanesOpened).toBeGreaterThan(0);
    expect(stats.lanesOpened).toBeLessThanOrEqual(3);
    expect(stats.lanesOpen).toBe(stats.lanesOpened);
    await file.close();
    expect(methodStats(aio).lanesOpen).toBe(0);
    await finish(aio);
    expect(openFds()).toBe(fds);
  });

  it('posix_aio: with one lane no dup is ever made', async () => {
    const path = patternFile(dir, 'one.bin', 64 * 4096);
    const aio = context({ lanes: 1 });
    const file = aio.open(path);
    await readAll(aio, file, 128, 4096);
    expect(methodStats(aio).lanesOpened).toBe(0);
    await finish(aio, file);
  });

  it('posix_aio: an fd closed behind the library fails with EBADF even when it had lanes', async () => {
    const path = patternFile(dir, 'behind.bin', 64 * 4096);
    const fd = fs.openSync(path, 'r');
    const aio = context({ lanes: 4 });
    const file = aio.fromFd(fd, { read: true });
    await readAll(aio, file, 64, 4096);
    expect(methodStats(aio).lanesOpen).toBeGreaterThan(0);
    fs.closeSync(fd);
    const reads = Array.from({ length: 16 }, () => file.read(Buffer.alloc(4096), 0));
    const results = await Promise.allSettled(reads);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toSatisfy((e) => e instanceof AioIoError && e.code === 'EBADF');
    }
    await file.close();
    expect(methodStats(aio).lanesOpen).toBe(0);
    await finish(aio);
  });

  it('posix_aio: a new file on a reused fd number never reaches the old file through its lanes', async () => {
    const a = patternFile(dir, 'a.bin', 64 * 4096);
    const b = fs.openSync(`${dir}/b.bin`, 'w+');
    fs.writeSync(b, Buffer.alloc(64 * 4096, 0xbb));
    fs.closeSync(b);
    const aio = context({ lanes: 4 });
    const fd = fs.openSync(a, 'r');
    const first = aio.fromFd(fd, { read: true });
    await readAll(aio, first, 64, 4096);
    fs.closeSync(fd); // behind the library, and `first` is never closed
    const fd2 = fs.openSync(`${dir}/b.bin`, 'r');
    expect(fd2).toBe(fd);
    const second = aio.fromFd(fd2, { read: true, ownsFd: true });
    const bufs = Array.from({ length: 32 }, () => Buffer.alloc(4096));
    await Promise.all(bufs.map((buf, i) => second.read(buf, i * 4096)));
    for (const buf of bufs) expect(buf.every((byte) => byte === 0xbb)).toBe(true);
    await second.close();
    await first.close();
    await finish(aio);
  });
});
