/**
 * One context per thread: each worker_thread that imports @aio/fs gets its
 * own module instance, so its own default context (@aio/core contexts are
 * never shared between threads).  The workers run the built package
 * (dist/), which `pnpm --filter @aio/fs build` produces.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { scratchDir, TEXT } from './parity.js';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');

function runWorker(file: string, position: number): Promise<{ text: string; threadContext: boolean }> {
  const source = `
    import { workerData, parentPort } from 'node:worker_threads';
    const { open, getContext, closeContext } = await import(workerData.dist);
    const h = await open(workerData.file, 'r');
    const { buffer, bytesRead } = await h.read(Buffer.alloc(5), 0, 5, workerData.position);
    const threadContext = h.aio === (await getContext());
    await h.close();
    await closeContext();
    parentPort.postMessage({ text: buffer.toString('utf8', 0, bytesRead), threadContext });
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { dist: pathToFileURL(dist).href, file, position } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

describe('threads', () => {
  if (!fs.existsSync(dist)) {
    it.skip('skipped: dist/ is not built (pnpm --filter @aio/fs build)', () => {});
    return;
  }
  it('each worker thread opens files on its own default context, side by side', async () => {
    const file = path.join(scratchDir({ 'a.txt': TEXT }), 'a.txt');
    const results = await Promise.all([runWorker(file, 4), runWorker(file, 10), runWorker(file, 16)]);
    expect(results).toEqual([
      { text: 'quick', threadContext: true },
      { text: 'brown', threadContext: true },
      { text: 'fox j', threadContext: true },
    ]);
  });
});
