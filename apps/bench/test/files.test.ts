import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocAligned, probeDirectAlignment, sliceSlots } from '../src/aligned.js';
import { residentBytes, setCacheState } from '../src/cache.js';
import { OptionError } from '../src/options.js';
import { chooseDefaultDirectory, memoryFileSystemOf, prepareBenchFile } from '../src/target-file.js';

let directory: string;
const logged: string[] = [];
const log = (message: string) => logged.push(message);

beforeAll(() => {
  directory = fs.mkdtempSync(path.join(path.dirname(chooseDefaultDirectory()), 'aio-bench-test-'));
});

afterAll(() => {
  fs.rmSync(directory, { recursive: true, force: true });
});

const shmIsTmpfs = fs.existsSync('/dev/shm') && memoryFileSystemOf('/dev/shm') === 'tmpfs';

describe('choosing the directory of the test file', () => {
  it.runIf(shmIsTmpfs)('passes over a temp dir in memory and takes the next one on a disk', () => {
    const disk = os.tmpdir();
    if (memoryFileSystemOf(disk)) return; // This machine has no disk-backed temp dir to compare with.
    expect(chooseDefaultDirectory(['/dev/shm', disk])).toBe(path.join(disk, 'aio-bench'));
  });

  it.runIf(shmIsTmpfs)('fails clearly when every candidate is in memory or missing', () => {
    expect(() => chooseDefaultDirectory(['/dev/shm', '/no/such/dir'])).toThrow(OptionError);
    expect(() => chooseDefaultDirectory(['/dev/shm', '/no/such/dir'])).toThrow(/\/dev\/shm is tmpfs \(in memory\).*--file/);
  });
});

describe('prepareBenchFile', () => {
  it('creates the file once with the requested size and reuses it afterwards', () => {
    const file = path.join(directory, 'made.dat');
    const first = prepareBenchFile({ file, size: 2 * 1024 ** 2, defaultSize: 1024 ** 3 }, log);
    expect(first).toEqual({ path: file, size: 2 * 1024 ** 2, created: true });
    expect(fs.statSync(file).size).toBe(2 * 1024 ** 2);
    const second = prepareBenchFile({ file, defaultSize: 1024 ** 3 }, log);
    expect(second).toEqual({ path: file, size: 2 * 1024 ** 2, created: false });
    expect(fs.readdirSync(directory).filter((name) => name.includes('partial'))).toEqual([]);
  });

  it('fills the file with data that does not repeat from block to block', () => {
    const file = path.join(directory, 'varied.dat');
    prepareBenchFile({ file, size: 16 * 1024 ** 2, defaultSize: 1024 ** 3 }, log);
    const data = fs.readFileSync(file);
    const blocks = new Set<string>();
    for (let offset = 0; offset < data.length; offset += 8 * 1024 ** 2) blocks.add(data.subarray(offset, offset + 4096).toString('hex'));
    expect(blocks.size).toBe(2);
  });

  it('refuses an existing file that is smaller than --size, and anything that is not a regular file', () => {
    const file = path.join(directory, 'small.dat');
    fs.writeFileSync(file, Buffer.alloc(1024 ** 2));
    expect(() => prepareBenchFile({ file, size: 2 * 1024 ** 2, defaultSize: 1024 ** 3 }, log)).toThrow(/less than --size/);
    expect(() => prepareBenchFile({ file: directory, defaultSize: 1024 ** 3 }, log)).toThrow(/not a regular file/);
  });
});

describe('aligned buffers', () => {
  it('start on a 4096-byte boundary, as O_DIRECT on this file confirms', () => {
    const file = path.join(directory, 'probe.dat');
    fs.writeFileSync(file, Buffer.alloc(64 * 1024, 1));
    const probe = probeDirectAlignment(file);
    if (probe === null) return; // The file system refuses O_DIRECT: nothing to check against.
    expect([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]).toContain(probe.requiredAlignment);
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    try {
      for (const slot of sliceSlots(allocAligned(4 * 4096), 4, 4096)) {
        expect(fs.readSync(fd, slot, 0, 4096, 0)).toBe(4096);
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  it('have the requested size and refuse what they cannot promise', () => {
    expect(allocAligned(12_345)).toHaveLength(12_345);
    expect(() => allocAligned(0)).toThrow(RangeError);
    expect(() => allocAligned(4096, 8192)).toThrow(RangeError);
    expect(() => allocAligned(4096, 3000)).toThrow(RangeError);
    expect(() => sliceSlots(allocAligned(4096), 2, 4096)).toThrow(RangeError);
  });
});

describe('cache state', () => {
  it.runIf(residentBytes('/proc/self/exe') !== null)('hot reads the whole file into the cache; cold drops it', () => {
    const file = path.join(directory, 'cache.dat');
    fs.writeFileSync(file, Buffer.alloc(4 * 1024 ** 2, 7));
    setCacheState(file, 'hot');
    expect(residentBytes(file)).toBe(4 * 1024 ** 2);
    setCacheState(file, 'cold');
    expect(residentBytes(file)).toBeLessThan(64 * 1024);
  });
});
