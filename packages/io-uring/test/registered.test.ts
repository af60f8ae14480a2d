import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AioUsageError, AlignedPagePool, allocAligned } from '@aio/core';
import { ioUring } from '../src/index.js';
import { closeAll, newAio, pattern, patternFile, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)('io_uring registered buffers and files', () => {
  it('io_uring: reads and writes inside a registered buffer pool use READ_FIXED/WRITE_FIXED; others do not', async () => {
    const pool = allocAligned(16 * 4096);
    const aio = newAio({ registeredBuffers: pool });
    expect(aio.stats().methodStats).toMatchObject({ registeredBuffers: 1, registerBuffersErrno: 0 });
    const target = path.join(dir, 'fixed');
    const file = aio.open(target, { read: true, write: true, create: true, truncate: true, direct: true });
    for (let page = 0; page < 16; page++) pattern(4096, page).copy(pool, page * 4096);
    await Promise.all(Array.from({ length: 16 }, (_, page) => file.write(pool.subarray(page * 4096, (page + 1) * 4096), page * 4096)));
    pool.fill(0);
    await Promise.all(Array.from({ length: 16 }, (_, page) => file.read(pool.subarray(page * 4096, (page + 1) * 4096), (15 - page) * 4096)));
    for (let page = 0; page < 16; page++) {
      expect(pool.subarray(page * 4096, (page + 1) * 4096).equals(pattern(4096, 15 - page))).toBe(true);
    }
    // Outside the pool (and straddling its end) the plain opcodes are used.
    const outside = allocAligned(4096);
    expect(await file.read(outside, 0)).toBe(4096);
    expect(aio.stats().methodStats.fixedBufferIos).toBe(32);
    expect(outside.equals(pattern(4096, 0))).toBe(true);
  });

  it('io_uring: several registered buffers of any view type are all used', async () => {
    const a = new Uint32Array(new SharedArrayBuffer(8192));
    const memory = allocAligned(100);
    const b = new Uint8Array(memory.buffer, memory.byteOffset, 100);
    const aio = newAio({ registeredBuffers: [a, b] });
    const file = aio.open(patternFile(dir, 9000));
    expect(await file.read(new Uint8Array(a.buffer, 4, 100), 0)).toBe(100);
    expect(await file.read(b, 1000)).toBe(100);
    expect(Buffer.from(b).equals(pattern(100, 1, 1000))).toBe(true);
    expect(aio.stats().methodStats.fixedBufferIos).toBe(2);
  });

  it('io_uring: files are registered on first use and dropped when closed, so a reused fd number reads the new file', async () => {
    const aio = newAio({ registeredFiles: 4 });
    const first = aio.open(patternFile(dir, 4096, 1, 'reg-a'));
    for (let i = 0; i < 3; i++) expect(await first.read(Buffer.alloc(100), 0)).toBe(100);
    const fd = first.fd;
    await first.close();
    const second = aio.open(patternFile(dir, 4096, 9, 'reg-b'));
    expect(second.fd).toBe(fd);
    const buffer = Buffer.alloc(100);
    expect(await second.read(buffer, 0)).toBe(100);
    expect(buffer.equals(pattern(100, 9))).toBe(true);
    expect(aio.stats().methodStats).toMatchObject({ fixedFileIos: 4, registeredFiles: 4, registerFilesErrno: 0 });
  });

  it('io_uring: more files than registered slots fall back to plain fds', async () => {
    const aio = newAio({ registeredFiles: 1 });
    const files = [1, 2, 3].map((seed) => aio.open(patternFile(dir, 100, seed, `slots-${seed}`)));
    for (const [i, file] of files.entries()) {
      const buffer = Buffer.alloc(10);
      expect(await file.read(buffer, 0)).toBe(10);
      expect(buffer.equals(pattern(10, i + 1))).toBe(true);
    }
    expect(aio.stats().methodStats.fixedFileIos).toBe(1);
  });
});

describe('io_uring registered buffers: only memory that cannot be detached', () => {
  it('io_uring: registeredBuffers refuses memory that can be detached, because the kernel would keep using it after a transfer', () => {
    const transferable = [new Uint8Array(4096), Buffer.alloc(4096), new DataView(new ArrayBuffer(64))];
    for (const view of transferable) {
      expect(() => ioUring({ registeredBuffers: view })).toThrow(expect.objectContaining({ code: 'AIO_ERR_INVALID_OPTION' }));
      expect(() => ioUring({ registeredBuffers: [allocAligned(4096), view] })).toThrow(/registeredBuffers\[1\] is on memory that can be detached/);
    }
    const detached = new Uint8Array(64);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expect(() => ioUring({ registeredBuffers: detached })).toThrow(AioUsageError);
  });

  it("io_uring: registeredBuffers accepts allocAligned memory, an AlignedPagePool's pages and views on a SharedArrayBuffer", () => {
    const shared = new SharedArrayBuffer(8192);
    const page = new AlignedPagePool(4096, 2).get() as Buffer;
    const accepted = [allocAligned(4096), page, new Float64Array(shared), new DataView(shared, 4096)];
    for (const view of accepted) expect(ioUring({ registeredBuffers: view }).name).toBe('io_uring');
    expect(ioUring({ registeredBuffers: accepted }).name).toBe('io_uring');
  });
});
