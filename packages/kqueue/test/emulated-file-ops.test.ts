/**
 * The file operations (issue 14 item 6) on the kqueue method, through the
 * emulated addon (the same portable C and TypeScript as on FreeBSD).
 * FreeBSD's aio has no stat, truncate or allocate request, so the method
 * does not list them and the core runs them synchronously with node:fs on
 * the fd: stat and truncate agree with node:fs, and allocate, which node:fs
 * cannot do, extends the file instead ('extended').
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Aio } from '@aio/core';
import { emulatedKqueue } from './emulated.js';
import { pattern, useScratch } from './helpers.js';

const scratch = useScratch();

describe('kqueue (emulated): file operations', () => {
  it('kqueue (emulated): stat, truncate and allocate never reach the aio provider; stat and truncate agree with node:fs', async () => {
    const path = scratch.file('data', pattern(10_000, 7));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    expect(aio.capabilities.ops).not.toContain('stat');
    const file = aio.open(path, { read: true, write: true });
    const stats = fs.statSync(path);
    expect(await file.stat()).toEqual({ size: 10_000, allocatedBytes: stats.blocks * 512, blockSize: stats.blksize, modifiedMs: stats.mtimeMs });
    await file.truncate(1000);
    expect(fs.readFileSync(path).equals(pattern(10_000, 7).subarray(0, 1000))).toBe(true);
    expect(await file.allocate(0, 1 << 20)).toBe('extended');
    expect(fs.statSync(path).size).toBe(1 << 20);
    expect(file.allocateSync(1 << 20, 4096, { keepSize: true })).toBe('extended');
    expect(fs.statSync(path).size).toBe(1 << 20);
    // stat, truncate, allocate with the stat and truncate of its fallback, and the keep-size allocate: all synchronous.
    expect(aio.stats().synchronous).toBe(6);
    await file.close();
  });
});
