import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/*
 * Page-cache state, set before every timed run of every method so that each
 * one starts from the same place.
 *
 * First the file's dirty pages are written out (fdatasync): a previous write
 * run must not be flushed during this one, and the kernel never drops dirty
 * pages from the cache anyway.  Then:
 * - hot: the whole file is read once, so every block is in the page cache;
 * - cold: the file's pages are dropped with posix_fadvise(POSIX_FADV_DONTNEED),
 *   which Node cannot call, so it runs `dd if=FILE iflag=nocache count=0`
 *   (GNU dd's documented way to drop one file's cache; it needs no root and
 *   leaves the rest of the machine's cache alone).
 */

const READ_CHUNK_BYTES = 4 * 1024 ** 2;

export type CacheState = 'hot' | 'cold';

export function setCacheState(path: string, state: CacheState): void {
  flushDirtyPages(path);
  if (state === 'hot') readWholeFile(path);
  else dropFileCache(path);
}

function flushDirtyPages(path: string): void {
  const fd = fs.openSync(path, 'r');
  try {
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function readWholeFile(path: string): void {
  const fd = fs.openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafeSlow(READ_CHUNK_BYTES);
    let position = 0;
    for (;;) {
      const bytesRead = fs.readSync(fd, chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
    }
  } finally {
    fs.closeSync(fd);
  }
}

function dropFileCache(path: string): void {
  const result = spawnSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none'], { encoding: 'utf8' });
  if (result.error) {
    throw new Error(`--cache cold needs GNU dd to drop the file's cache: ${result.error.message}`);
  }
  if (result.status !== 0) {
    throw new Error(`dd could not drop the page cache of ${path}: ${result.stderr.trim() || `exit ${result.status}`}`);
  }
}

/**
 * Returns how many bytes of the file are in the page cache, using util-linux's
 * fincore, or null when fincore is not installed.  Used to check that a cold
 * run really starts cold.
 */
export function residentBytes(path: string): number | null {
  const result = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return null;
  const value = Number(result.stdout.trim());
  return Number.isFinite(value) ? value : null;
}
