/**
 * The body of each worker thread in the worker_threads case: loads the
 * method in this thread (a native addon gets its own per-environment state
 * here), runs the model workload on its own file, and posts the outcome.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as path from 'node:path';
import { Aio, type AioMethodName } from '@aio/core';
import { loadMethod } from './methods.js';
import { runModelWorkload } from './workload.js';

interface WorkerInput {
  method: AioMethodName;
  dir: string;
  index: number;
  operations: number;
}

async function main(input: WorkerInput): Promise<void> {
  const method = await loadMethod(input.method);
  if (method.factory === undefined) throw new Error(`method unavailable in worker: ${method.skip}`);
  const aio = new Aio({ method: method.factory, maxConcurrency: 16 });
  const file = aio.open(path.join(input.dir, `worker-${input.index}`), { read: true, write: true, create: true, truncate: true });
  const operations = await runModelWorkload(aio, file, 1000 + input.index, input.operations);
  const stats = aio.stats();
  await aio.close();
  parentPort?.postMessage({ ok: true, operations, completed: stats.completed, method: stats.method });
}

main(workerData as WorkerInput).catch((error: unknown) => {
  parentPort?.postMessage({ ok: false, error: String((error as Error)?.stack ?? error) });
});
