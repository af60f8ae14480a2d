/**
 * Routing (README "Routing"): which page-cache IO the io_uring method runs
 * on its own threads instead of the ring, and that those IOs give the same
 * bytes and the same errors as node:fs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AioIoError, allocAligned } from '@aio/core';
import { ioUring } from '../src/index.js';
import { closeAll, newAio, pattern, patternFile, runScript, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)('io_uring routing', () => {
  it("io_uring: with route 'threads', page-cache reads and writes (single and vectored) run on the context's threads and match node:fs byte for byte", async () => {
    const aio = newAio({ route: 'threads' });
    const name = path.join(dir, 'threads');
    const file = aio.open(name, { read: true, write: true, create: true });
    const block = 8192;
    await Promise.all(Array.from({ length: 16 }, (_, i) => file.write(pattern(block, 3, i * block), i * block)));
    await file.writev([pattern(1000, 3, 16 * block), pattern(500, 3, 16 * block + 1000)], 16 * block);
    const size = 16 * block + 1500;
    expect(fs.readFileSync(name).equals(pattern(size, 3))).toBe(true);
    const copies = Array.from({ length: 16 }, () => Buffer.alloc(block));
    expect(await Promise.all(copies.map((copy, i) => file.read(copy, i * block)))).toEqual(Array(16).fill(block));
    expect(Buffer.concat(copies).equals(pattern(16 * block, 3))).toBe(true);
    const head = Buffer.alloc(300);
    const tail = Buffer.alloc(4096);
    // The vectored read runs past the end of the file: a short count, as preadv gives.
    expect(await file.readv([head, tail], size - 1300)).toBe(1300);
    expect(Buffer.concat([head, tail.subarray(0, 1000)]).equals(pattern(1300, 3, size - 1300))).toBe(true);
    const stats = aio.stats().methodStats;
    expect(stats.routed).toBe(16 + 1 + 16 + 1);
    expect(stats.cqes).toBe(0);
    expect(stats.routeThreads).toBeGreaterThan(0);
    await file.close();
  });

  it('io_uring: a routed write to a file opened read-only fails with EBADF, as node:fs says', async () => {
    const aio = newAio({ route: 'threads' });
    const name = patternFile(dir, 4096, 2, 'read-only');
    const file = aio.fromFd(fs.openSync(name, 'r'), { read: true, write: false, ownsFd: true });
    let nodeError: NodeJS.ErrnoException | undefined;
    try {
      fs.writeSync(fs.openSync(name, 'r'), Buffer.alloc(16), 0, 16, 0);
    } catch (error) {
      nodeError = error as NodeJS.ErrnoException;
    }
    const error = await file.write(Buffer.alloc(16), 0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AioIoError);
    expect((error as AioIoError).code).toBe(nodeError?.code);
    expect(aio.stats().methodStats.routed).toBe(1);
    await file.close();
  });

  it('io_uring: by default writes to an O_DSYNC file run on the threads, while its reads, fdatasync and O_DIRECT IO stay in the ring', async () => {
    const aio = newAio();
    const name = path.join(dir, 'dsync');
    const file = aio.open(name, { read: true, write: true, create: true, dsync: true });
    await Promise.all(Array.from({ length: 8 }, (_, i) => file.write(pattern(4096, 4, i * 4096), i * 4096)));
    await file.datasync();
    const copy = Buffer.alloc(8 * 4096);
    expect(await file.read(copy, 0)).toBe(copy.length);
    expect(copy.equals(pattern(copy.length, 4))).toBe(true);
    const direct = aio.open(path.join(dir, 'direct'), { read: true, write: true, create: true, direct: true, dsync: true });
    await direct.write(allocAligned(4096), 0);
    const plain = aio.open(path.join(dir, 'plain'), { read: true, write: true, create: true });
    await plain.write(Buffer.alloc(4096, 1), 0);
    const stats = aio.stats().methodStats;
    expect(stats.routedDsyncWrites).toBe(8);
    expect(stats.routed).toBe(8);
    expect(stats.cqes).toBe(4); // fdatasync, the read, the O_DIRECT write, the plain write
    await Promise.all([file.close(), direct.close(), plain.close()]);
  });

  it("io_uring: with route 'ring' no IO leaves the ring and no thread is started", async () => {
    const aio = newAio({ route: 'ring' });
    const file = aio.open(path.join(dir, 'ring-dsync'), { read: true, write: true, create: true, dsync: true });
    await Promise.all(Array.from({ length: 4 }, (_, i) => file.write(Buffer.alloc(4096, i), i * 4096)));
    const stats = aio.stats().methodStats;
    expect(stats).toMatchObject({ routed: 0, routeKinds: 0, routeThreads: 0, cqes: 4 });
    await file.close();
  });

  it('io_uring: a list of route kinds routes exactly those kinds', async () => {
    const aio = newAio({ route: ['reads'] });
    const name = patternFile(dir, 8192, 6, 'kinds');
    const file = aio.open(name, { read: true, write: true });
    const buffer = Buffer.alloc(4096);
    expect(await file.read(buffer, 4096)).toBe(4096);
    expect(buffer.equals(pattern(4096, 6, 4096))).toBe(true);
    await file.write(Buffer.alloc(16), 0);
    expect(aio.stats().methodStats).toMatchObject({ routed: 1, cqes: 1, routeKinds: 8 });
    await file.close();
  });

  it('io_uring: a bad route or routeThreads is a usage error, and AIO_IO_URING_ROUTE sets the default route', () => {
    expect(() => ioUring({ route: 'elsewhere' as never })).toThrow(expect.objectContaining({ code: 'AIO_ERR_INVALID_OPTION' }));
    expect(() => ioUring({ route: ['writes', 'appends'] as never })).toThrow(/unknown kind "appends"/);
    expect(() => ioUring({ routeThreads: 0 })).toThrow(expect.objectContaining({ code: 'AIO_ERR_INVALID_OPTION' }));
    const source = `
      import { Aio } from '@aio/core';
      import { ioUring } from '@aio/io-uring';
      try {
        const aio = new Aio({ method: ioUring() });
        console.log(JSON.stringify({ kinds: aio.stats().methodStats.routeKinds }));
        await aio.close();
      } catch (error) {
        console.log(JSON.stringify({ code: error.code, message: error.message }));
      }`;
    const kinds = (value: string): unknown => JSON.parse(runScript(source, { env: { AIO_IO_URING_ROUTE: value } }).stdout);
    expect(kinds('ring')).toEqual({ kinds: 0 });
    expect(kinds('threads')).toEqual({ kinds: 15 });
    expect(kinds('writes, reads')).toEqual({ kinds: 10 });
    expect(kinds('')).toEqual({ kinds: 1 });
    expect(kinds('sideways')).toMatchObject({ code: 'AIO_ERR_INVALID_OPTION', message: expect.stringMatching(/AIO_IO_URING_ROUTE/) });
  });
});
