/**
 * A child process where a worker_thread is the first to load the method and
 * exits before the main thread uses it.  Node unloads (dlclose) an addon
 * when the last environment that loaded it goes away; an addon with
 * process-wide state (glibc's queued aiocbs, a thread pool) must survive
 * that.  argv: <method> <dir>
 */
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { Aio, type AioMethodName } from '@aio/core';
import { loadMethod } from './methods.js';
import { runModelWorkload } from './workload.js';

const [methodName, dir] = process.argv.slice(2);
const worker = new Worker(new URL('worker-entry.js', import.meta.url), {
  workerData: { method: methodName, dir, index: 0, operations: 50 },
});
const outcome = await new Promise<{ ok: boolean; error?: string }>((resolve, reject) => {
  let message: { ok: boolean; error?: string } = { ok: false, error: 'no message' };
  worker.on('message', (m: { ok: boolean; error?: string }) => (message = m));
  worker.on('error', reject);
  worker.on('exit', () => resolve(message));
});
if (!outcome.ok) throw new Error(`worker failed: ${outcome.error}`);
const method = await loadMethod(methodName as AioMethodName);
if (method.factory === undefined) throw new Error(`unavailable: ${method.skip}`);
const aio = new Aio({ method: method.factory });
const file = aio.open(path.join(dir, 'main'), { read: true, write: true, create: true });
await runModelWorkload(aio, file, 7, 200);
await aio.close();
process.stdout.write('ok\n');
