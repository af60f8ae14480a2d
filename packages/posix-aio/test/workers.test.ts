import * as fs from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { scratchDir, unavailable } from './helpers.js';

const skip = unavailable();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface WorkerResult {
  ok?: boolean;
  ios?: number;
  error?: string;
  stats?: Record<string, number>;
}

function runWorker(index: number, doorbell: string): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./fixtures/worker.mjs', import.meta.url), {
      workerData: { path: join(dir, `worker-${index}.bin`), doorbell, operations: 800, seed: index + 1 },
    });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
}

describe.skipIf(skip !== undefined)('worker_threads', () => {
  it('posix_aio: four worker_threads run their own contexts at once, with every doorbell, and all data checks out', async () => {
    const doorbells = ['cancel', 'cancel', 'pipe', 'timeout'];
    const results = await Promise.all(doorbells.map((doorbell, i) => runWorker(i, doorbell)));
    for (const result of results) {
      expect(result.error).toBeUndefined();
      expect(result.ok).toBe(true);
      expect(result.ios).toBe(800);
      expect(result.stats?.iosCompleted).toBe(result.stats?.iosAccepted);
    }
  });
});
