/**
 * A worker that opens files through its own context (the library opens
 * them, not the parent), starts reads and writes on them through both APIs,
 * and idles until it is terminated: the case checks that terminating it
 * leaves no file descriptor behind in the process.
 */
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { Aio, type AioMethodName } from '@aio/core';
import { loadMethod } from './methods.js';

const input = workerData as { method: AioMethodName; dir: string; round: number };
const method = await loadMethod(input.method);
if (method.factory === undefined) throw new Error(`method unavailable in worker: ${method.skip}`);
const aio = new Aio({ method: method.factory, maxConcurrency: 64 });
const files = [0, 1, 2].map((i) => aio.open(path.join(input.dir, `w${input.round}-${i}`), { read: true, write: true, create: true }));
aio.enterBatchMode();
for (let i = 0; i < 32; i++) aio.acquire().startWrite(files[i % 3], Buffer.alloc(65536, i), i * 65536);
aio.exitBatchMode();
for (let i = 0; i < 16; i++) void files[i % 3].read(Buffer.alloc(65536), i * 65536).catch(() => undefined);
parentPort?.postMessage('started');
setInterval(() => {}, 1000);
