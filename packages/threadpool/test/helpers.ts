/**
 * What the threadpool tests share: a temporary directory per test file,
 * files with known content, contexts that are closed (after a leak check)
 * when each test ends, and a way to run a Node script in a child process.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';
import { Aio, type AioOptions } from '@aio/core';
import { assertQuiescent } from '@aio/core/testing';
import { threadpool, type ThreadpoolOptions } from '../src/index.js';
import { resumeWorkers } from '../src/testing.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-threadpool-test-'));
const contexts: Aio[] = [];
let files = 0;

afterEach(async () => {
  resumeWorkers(); // a failed test must not leave the process-wide pool paused
  const open = contexts.splice(0);
  for (const aio of open) {
    if (!aio.closed) assertQuiescent(aio);
    await aio.close();
  }
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A context on the threadpool method, closed after the test. */
export function newAio(options: ThreadpoolOptions = {}, aioOptions: Omit<AioOptions, 'method'> = {}): Aio {
  const aio = new Aio({ ...aioOptions, method: threadpool(options) });
  contexts.push(aio);
  return aio;
}

/** Deterministic bytes: the same `seed` and size always give the same content. */
export function pattern(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** A new file path in the test directory, created with `content` if given. */
export function tempFile(content?: Uint8Array): string {
  const file = path.join(dir, `f${files++}`);
  if (content !== undefined) fs.writeFileSync(file, content);
  return file;
}

/** The package folder, for child processes that import `@aio/threadpool` (its built dist/). */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * Runs `source` as an ES module with Node in a child process from the
 * package folder, so `@aio/threadpool` and `@aio/core` resolve.  Returns its
 * exit status, signal and output.
 */
export function runScript(source: string, env: Record<string, string> = {}, timeout = 20_000) {
  const file = path.join(packageDir, 'test', `.child-${process.pid}-${files++}.mjs`);
  fs.writeFileSync(file, source);
  try {
    const result = spawnSync(process.execPath, [file], {
      cwd: packageDir,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout,
    });
    return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Busy-waits (without yielding to the event loop) until `condition` holds or `ms` passed. */
export function spinUntil(condition: () => boolean, ms = 5000): boolean {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) return false;
  }
  return true;
}
