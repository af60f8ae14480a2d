/** Shared fixtures of the kqueue tests: a scratch folder, patterned data, leak checks. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import type { Aio } from '@aio/core';
import { assertQuiescent } from '@aio/core/testing';

/** Bytes that differ at every offset, so a misplaced read shows. */
export function pattern(size: number, seed: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return buf;
}

export function openFds(): number {
  return process.platform === 'linux' ? fs.readdirSync('/proc/self/fd').length : 0;
}

/**
 * A scratch folder per test, and after each test: every context opened with
 * `track` is quiescent and closed, and no descriptor leaked.
 */
export function useScratch(): { dir: () => string; file: (name: string, data?: Buffer) => string; track: (aio: Aio) => Aio } {
  let dir = '';
  let fds = 0;
  let contexts: Aio[] = [];
  beforeEach(() => {
    fds = openFds();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-kqueue-'));
  });
  afterEach(async () => {
    for (const aio of contexts) {
      if (aio.closed) continue;
      assertQuiescent(aio);
      await aio.close();
    }
    contexts = [];
    fs.rmSync(dir, { recursive: true, force: true });
    if (process.platform === 'linux') {
      // The pipes of contexts closed above are freed when their wrappers are collected.
      globalThis.gc?.();
      await new Promise((resolve) => setImmediate(resolve));
      expect(openFds()).toBeLessThanOrEqual(fds);
    }
  });
  return {
    dir: () => dir,
    file: (name, data) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, data ?? Buffer.alloc(0));
      return file;
    },
    track: (aio) => {
      contexts.push(aio);
      return aio;
    },
  };
}
