import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Aio, AioFile } from '@aio/core';
import { probe } from '../src/index.js';
import { closeAll, fileOpSkipReason, FILE_OPS, newAio, pattern, scratchDir, skipReason } from './helpers.js';

const dir = scratchDir();
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const skip = { stat: await fileOpSkipReason('stat'), truncate: await fileOpSkipReason('truncate'), allocate: await fileOpSkipReason('allocate') };

let fileCount = 0;
/** A new file of `size` pattern bytes, open for reading and writing on `aio`, and its name. */
function patternOn(aio: Aio, size: number): { file: AioFile; name: string } {
  const name = path.join(dir, `ops-${fileCount++}`);
  fs.writeFileSync(name, pattern(size));
  return { file: aio.open(name, { read: true, write: true }), name };
}

/** The ring's IO count and the core's fallback count, to show an op went through the ring. */
function counts(aio: Aio): { ios: number; fallbacks: number } {
  const stats = aio.stats();
  return { ios: stats.methodStats.ios, fallbacks: stats.fallbacks };
}

describe.skipIf(skipReason() !== undefined)('io_uring file operations', () => {
  it('io_uring: the capabilities list stat, truncate and allocate exactly when the kernel has STATX, FTRUNCATE and FALLOCATE', () => {
    const aio = newAio();
    const opcodes = String(probe().details?.opcodes).split(',');
    const ops = String(probe().details?.ops).split(',');
    for (const [op, opcode] of Object.entries(FILE_OPS)) {
      expect(aio.capabilities.ops.includes(op as keyof typeof FILE_OPS), op).toBe(opcodes.includes(opcode));
      expect(ops.includes(op), op).toBe(opcodes.includes(opcode));
    }
  });

  it.skipIf(skip.stat !== undefined)('io_uring: stat through the ring gives what node:fs fstat gives', async () => {
    const aio = newAio();
    const { file } = patternOn(aio, 10_000);
    const before = counts(aio);
    const stat = await file.stat();
    expect(counts(aio)).toEqual({ ios: before.ios + 1, fallbacks: before.fallbacks });
    const expected = fs.fstatSync(file.fd);
    expect(stat).toEqual({ size: 10_000, allocatedBytes: expected.blocks * 512, blockSize: expected.blksize, modifiedMs: expected.mtimeMs });
  });

  it.skipIf(skip.truncate !== undefined)('io_uring: truncate through the ring cuts and extends the file as node:fs ftruncate does', async () => {
    const aio = newAio();
    const { file, name } = patternOn(aio, 10_000);
    const before = counts(aio);
    await file.truncate(4321);
    expect(fs.readFileSync(name).equals(pattern(4321))).toBe(true);
    await file.truncate(20_000n);
    expect(counts(aio)).toEqual({ ios: before.ios + 2, fallbacks: before.fallbacks });
    const bytes = fs.readFileSync(name);
    expect(bytes.length).toBe(20_000);
    expect(bytes.subarray(0, 4321).equals(pattern(4321))).toBe(true);
    expect(bytes.subarray(4321).every((byte) => byte === 0)).toBe(true);
  });

  it.skipIf(skip.allocate !== undefined)('io_uring: allocate through the ring reserves blocks and extends the size, or keeps it with keepSize', async () => {
    const aio = newAio();
    const { file, name } = patternOn(aio, 100);
    const before = counts(aio);
    expect(await file.allocate(0, 1 << 20)).toBe('allocated');
    let expected = fs.fstatSync(file.fd);
    expect(expected.size).toBe(1 << 20);
    expect(expected.blocks * 512).toBeGreaterThanOrEqual(1 << 20);
    expect(await file.allocate(4 << 20, 1 << 20, { keepSize: true })).toBe('allocated');
    expected = fs.fstatSync(file.fd);
    expect(expected.size).toBe(1 << 20);
    expect(expected.blocks * 512).toBeGreaterThanOrEqual(2 << 20);
    expect(counts(aio)).toEqual({ ios: before.ios + 2, fallbacks: before.fallbacks });
    expect(fs.readFileSync(name).subarray(0, 100).equals(pattern(100))).toBe(true);
  });

  it.skipIf(Object.values(skip).some((reason) => reason !== undefined))(
    'io_uring: with registered files, truncate and allocate use the fixed file and stat the plain fd, which STATX needs',
    async () => {
      const aio = newAio({ registeredFiles: true });
      const { file } = patternOn(aio, 5000);
      const before = aio.stats().methodStats.fixedFileIos;
      await file.truncate(3000);
      expect(await file.allocate(0, 8192)).toBe('allocated');
      const stat = await file.stat();
      expect(stat.size).toBe(8192);
      expect(stat.allocatedBytes).toBe(fs.fstatSync(file.fd).blocks * 512);
      expect(aio.stats().methodStats.fixedFileIos - before).toBe(2);
      expect(aio.stats().fallbacks).toBe(0);
    },
  );

  it.skipIf(skip.truncate !== undefined)('io_uring: a truncate of a file opened read-only fails with the errno node:fs gives', async () => {
    const aio = newAio();
    const name = path.join(dir, 'read-only');
    fs.writeFileSync(name, pattern(100));
    const file = aio.open(name);
    let expected: NodeJS.ErrnoException | undefined;
    try {
      fs.ftruncateSync(file.fd, 10);
    } catch (error) {
      expected = error as NodeJS.ErrnoException;
    }
    expect(expected?.code).toMatch(/^E/);
    await expect(file.truncate(10)).rejects.toMatchObject({ code: expected?.code, method: 'io_uring' });
    expect(fs.statSync(name).size).toBe(100);
  });
});
