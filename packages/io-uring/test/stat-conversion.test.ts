import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeAll, fileOpSkipReason, newAio, scratchDir } from './helpers.js';

const skip = await fileOpSkipReason('stat');
const dir = scratchDir();
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)('io_uring stat conversion', () => {
  it('io_uring: stat of a sparse file past 4 GiB gives node:fs fstat exact size, allocated bytes, block size and fractional mtime', async () => {
    const name = path.join(dir, 'sparse');
    const size = 5 * 2 ** 30 + 4097; // past 32 bits, not a multiple of anything
    const fd = fs.openSync(name, 'w+');
    try {
      fs.ftruncateSync(fd, size);
      fs.writeSync(fd, Buffer.alloc(8192, 1), 0, 8192, 3 * 2 ** 30); // some allocated blocks, most of it a hole
      fs.futimesSync(fd, 1_700_000_000.25, 1_700_000_123.456789); // sub-millisecond digits the conversion must keep
    } finally {
      fs.closeSync(fd);
    }
    const aio = newAio();
    const file = aio.open(name);
    const ios = aio.stats().methodStats.ios;
    const stat = await file.stat();
    expect(aio.stats().methodStats.ios).toBe(ios + 1);
    const expected = fs.fstatSync(file.fd);
    const exact = fs.fstatSync(file.fd, { bigint: true });
    expect(stat.size).toBe(size);
    expect(BigInt(stat.size)).toBe(exact.size);
    expect(BigInt(stat.allocatedBytes)).toBe(exact.blocks * 512n);
    expect(stat.allocatedBytes).toBeLessThan(stat.size); // the hole is not allocated
    expect(stat.blockSize).toBe(expected.blksize);
    expect(Object.is(stat.modifiedMs, expected.mtimeMs)).toBe(true);
    expect(stat.modifiedMs % 1).not.toBe(0);
    // The synchronous twin (node:fs in the core) agrees to the bit.
    expect(file.statSync()).toEqual(stat);
  });
});
