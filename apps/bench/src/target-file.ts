import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatBytes } from './machine.js';
import { OptionError } from './options.js';

/*
 * The one file every method of an invocation uses.  By default it lives under
 * the OS temp dir, but a benchmark on tmpfs would measure memory copies, and
 * O_DIRECT means something else there, so a temp dir in memory is skipped in
 * favour of the next candidate on a real disk.
 */

/** statfs(2) f_type values of file systems that live in memory. */
const MEMORY_FS_MAGIC = new Map<number, string>([
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
]);

const WRITE_CHUNK_BYTES = 8 * 1024 ** 2;
const STAMP_STRIDE = 4096;
const FREE_SPACE_MARGIN = 64 * 1024 ** 2;

export interface BenchFile {
  path: string;
  size: number;
  created: boolean;
}

/** Returns `tmpfs` or `ramfs` when `directory` is in memory, else null. */
export function memoryFileSystemOf(directory: string): string | null {
  return MEMORY_FS_MAGIC.get(fs.statfsSync(directory).type) ?? null;
}

/**
 * Returns the directory for the default test file: `aio-bench` under the
 * first of the OS temp dir, /var/tmp and ~/.cache that exists and is not in
 * memory.  Throws with every candidate's reason when none is usable.
 */
export function chooseDefaultDirectory(candidates = [os.tmpdir(), '/var/tmp', path.join(os.homedir(), '.cache')]) {
  const rejected: string[] = [];
  for (const candidate of candidates) {
    let memoryFs: string | null;
    try {
      memoryFs = memoryFileSystemOf(candidate);
    } catch (error) {
      rejected.push(`${candidate}: ${(error as Error).message}`);
      continue;
    }
    if (memoryFs === null) return path.join(candidate, 'aio-bench');
    rejected.push(`${candidate} is ${memoryFs} (in memory)`);
  }
  throw new OptionError(`no temp dir on a real disk for the test file (${rejected.join('; ')}); pass --file PATH`);
}

export function defaultFilePath(size: number, directory = chooseDefaultDirectory()): string {
  return path.join(directory, `aio-bench-${formatBytes(size).replace(' ', '')}.dat`);
}

/**
 * Returns the file to benchmark, creating it when needed.  A default file is
 * reused when it already has the right size and rewritten otherwise.  A file
 * named with --file is used as it is when it exists (its size, rounded down to
 * 4096, unless --size asks for less); it is created only when it does not.
 */
export function prepareBenchFile(
  requested: { file?: string; size?: number; defaultSize: number },
  log: (message: string) => void,
): BenchFile {
  const size = requested.size ?? requested.defaultSize;
  if (requested.file === undefined) {
    const filePath = defaultFilePath(size);
    if (existingSize(filePath) === size) return { path: filePath, size, created: false };
    createFile(filePath, size, log);
    return { path: filePath, size, created: true };
  }
  const filePath = path.resolve(requested.file);
  const current = existingSize(filePath);
  if (current === null) {
    createFile(filePath, size, log);
    return { path: filePath, size, created: true };
  }
  warnIfInMemory(filePath, log);
  const usable = current - (current % 4096);
  if (requested.size !== undefined && requested.size > usable) {
    throw new OptionError(`${filePath} holds ${current} bytes, less than --size ${requested.size}`);
  }
  return { path: filePath, size: requested.size ?? usable, created: false };
}

/** Returns the size of a regular file, null when there is none; refuses anything that is not a regular file. */
function existingSize(filePath: string): number | null {
  let stats: fs.Stats;
  try {
    stats = fs.statSync(filePath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  // Write workloads overwrite the file: never let a block device or anything but a plain file through.
  if (!stats.isFile()) throw new OptionError(`${filePath} is not a regular file`);
  return stats.size;
}

function warnIfInMemory(filePath: string, log: (message: string) => void): void {
  const memoryFs = memoryFileSystemOf(path.dirname(filePath));
  if (memoryFs) log(`warning: ${filePath} is on ${memoryFs}; the results measure memory, not a disk`);
}

/**
 * Writes `size` bytes of incompressible data with large sequential writes:
 * one random 8 MiB chunk, with the chunk number stamped into every 4 KiB
 * block so that no two blocks of the file are equal (nothing can deduplicate
 * them).  It writes to a temporary name and renames at the end, so an
 * interrupted creation is never mistaken for a finished file.
 */
function createFile(filePath: string, size: number, log: (message: string) => void): void {
  fs.mkdirSync(path.dirname(filePath), { recursive: true });
  checkFreeSpace(path.dirname(filePath), size);
  log(`creating the ${formatBytes(size)} test file ${filePath} (once; it is reused while its size is right)`);
  const temporaryPath = `${filePath}.partial-${process.pid}`;
  const chunk = Buffer.allocUnsafeSlow(WRITE_CHUNK_BYTES);
  randomFillSync(chunk);
  const fd = fs.openSync(temporaryPath, 'w');
  try {
    for (let position = 0, chunkNumber = 0; position < size; position += chunk.length, chunkNumber++) {
      for (let block = 0; block < chunk.length; block += STAMP_STRIDE) chunk.writeUInt32LE(chunkNumber, block);
      const length = Math.min(chunk.length, size - position);
      writeFully(fd, chunk.subarray(0, length), position);
    }
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(temporaryPath, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  fs.renameSync(temporaryPath, filePath);
}

function writeFully(fd: number, data: Buffer, position: number): void {
  let written = 0;
  while (written < data.length) {
    written += fs.writeSync(fd, data, written, data.length - written, position + written);
  }
}

function checkFreeSpace(directory: string, size: number): void {
  const stats = fs.statfsSync(directory);
  const free = stats.bavail * stats.bsize;
  if (free < size + FREE_SPACE_MARGIN) {
    throw new OptionError(`${directory} has ${formatBytes(free)} free, too little for a ${formatBytes(size)} test file`);
  }
}
