import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach } from 'vitest';
import type { Aio, AioMethodName } from '@aio/core';
import { assertQuiescent } from '@aio/core/testing';
import { Engine, type EngineOptions } from '../src/engine.js';
import { methodAvailable, openAio } from '../src/method.js';

const dirs: string[] = [];
const contexts: Aio[] = [];

/** A fresh directory, removed after the test. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-engine-test-'));
  dirs.push(dir);
  return dir;
}

/** A context on method, closed after the test with the leak check first. */
export async function context(method: AioMethodName = 'sync'): Promise<Aio> {
  const aio = await openAio(method);
  contexts.push(aio);
  return aio;
}

export const SMALL: EngineOptions = { poolPages: 32, walSegmentSize: 256 * 1024, checkpointWalBytes: 0 };

export async function openEngine(aio: Aio, dir: string, options: EngineOptions = SMALL): Promise<Engine> {
  return Engine.open(aio, dir, options);
}

/** An asynchronous method that works here, for tests that need IO to stay in flight. */
export async function asyncMethod(): Promise<AioMethodName | null> {
  for (const method of ['io_uring', 'threadpool', 'libuv'] as const) if ((await methodAvailable(method)) === null) return method;
  return null;
}

export const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(8, '0')}`);

afterEach(async () => {
  for (const aio of contexts.splice(0)) {
    if (!aio.closed) {
      assertQuiescent(aio);
      await aio.close();
    }
  }
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
