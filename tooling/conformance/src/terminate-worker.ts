/**
 * A worker that starts 64 writes and then idles until it is terminated:
 * the case checks that terminating it with IO in flight does not crash the
 * process.  The file descriptor comes from the parent (which closes it
 * afterwards), because nothing in a terminated worker gets to run again.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Aio, type AioMethodName } from '@aio/core';
import { loadMethod } from './methods.js';

const input = workerData as { method: AioMethodName; fd: number; path: string };
const method = await loadMethod(input.method);
if (method.factory === undefined) throw new Error(`method unavailable in worker: ${method.skip}`);
const aio = new Aio({ method: method.factory, maxConcurrency: 64 });
const file =
  aio.capabilities.fileKind === 'fd' ? aio.fromFd(input.fd, { path: input.path, write: true }) : aio.open(input.path, { write: true });
aio.enterBatchMode();
for (let i = 0; i < 64; i++) aio.acquire().startWrite(file, Buffer.alloc(65536, i), i * 65536);
aio.exitBatchMode();
parentPort?.postMessage('started');
setInterval(() => {}, 1000);
