/**
 * Lifetimes: buffers outlive the caller's references, worker threads each
 * have their own context, and a process or worker that ends with IO in
 * flight neither crashes nor loses the IO (PostgreSQL X11).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AioWaitRef, type Aio, type AioFile } from '@aio/core';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { pattern } from '../util.js';

const DIST = new URL('../../dist/', import.meta.url);

declare const gc: undefined | (() => void);

/** Starts a write from a buffer nobody else references; returns only the wait reference. */
function writeFromDroppedBuffer(aio: Aio, file: AioFile, seed: number, offset: number): AioWaitRef {
  const ref = new AioWaitRef();
  const handle = aio.acquire();
  handle.getWaitRef(ref);
  handle.startWrite(file, pattern(65536, seed), offset);
  return ref;
}

/** Allocates and fills garbage so freed memory would be reused and overwritten. */
function churn(): void {
  let keep = 0;
  for (let i = 0; i < 64; i++) keep += Buffer.alloc(1 << 20, 0xaa)[i];
  if (keep < 0) throw new Error('unreachable');
}

export function defineLifetimeCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'buffers stay alive until the IO completes even if the caller drops every reference', async (fx, t) => {
    if (typeof gc !== 'function') return t.skip('node runs without --expose-gc, so collections cannot be forced');
    const aio = fx.aio();
    const filePath = fx.path();
    const file = aio.open(filePath, { read: true, write: true, create: true });
    const refs = aio.batch(() => Array.from({ length: 16 }, (_, i) => writeFromDroppedBuffer(aio, file, i, i * 65536)));
    gc();
    churn();
    gc();
    await Promise.all(refs.map((ref) => ref.wait()));
    const content = fx.read(filePath);
    for (let i = 0; i < 16; i++) assert.ok(content.subarray(i * 65536, (i + 1) * 65536).equals(pattern(65536, i)), `write ${i} lost its data`);

    let weak: WeakRef<Buffer> | undefined;
    const ref = new AioWaitRef();
    (() => {
      const buffer = Buffer.alloc(65536);
      weak = new WeakRef(buffer);
      const handle = aio.acquire();
      handle.getWaitRef(ref);
      handle.startRead(file, buffer, 0);
    })();
    const stillInFlight = aio.inspect().some((row) => row.state === 'submitted');
    gc();
    if (stillInFlight) assert.ok(weak?.deref() !== undefined, 'the read buffer was collected while the IO was in flight');
    await ref.wait();
    await file.close();
  });

  defineCase(
    h,
    m,
    'four worker_threads use the method at once, each with its own context',
    async (fx) => {
      const outcomes = await Promise.all(
        [0, 1, 2, 3].map(
          (index) =>
            new Promise<{ ok: boolean; error?: string; operations?: number; method?: string }>((resolve, reject) => {
              const worker = new Worker(new URL('worker-entry.js', DIST), {
                workerData: { method: m.name, dir: fx.dir, index, operations: 800 },
                execArgv: [],
              });
              let outcome: { ok: boolean } | undefined;
              worker.on('message', (message: { ok: boolean }) => (outcome = message));
              worker.on('error', reject);
              worker.on('exit', (code) => (code === 0 && outcome !== undefined ? resolve(outcome) : reject(new Error(`worker ${index} exited with ${code}: ${JSON.stringify(outcome)}`))));
            }),
        ),
      );
      for (const outcome of outcomes) {
        assert.ok(outcome.ok, outcome.error);
        assert.equal(outcome.method, m.name);
        assert.equal(outcome.operations, 800);
      }
    },
    180_000,
  );

  defineCase(h, m, 'terminating a worker_thread with IO in flight does not crash the process', async (fx) => {
    const filePath = fx.path();
    const fd = fs.openSync(filePath, 'w');
    try {
      const worker = new Worker(new URL('terminate-worker.js', DIST), { workerData: { method: m.name, fd, path: filePath } });
      await new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
      });
      const code = await worker.terminate();
      assert.equal(code, 1, 'terminate() reports exit code 1');
    } finally {
      fs.closeSync(fd);
    }
  });

  defineCase(h, m, 'a method first loaded by a worker_thread that exited keeps working in the main thread', async (fx) => {
    const child = spawnSync(process.execPath, [fileURLToPath(new URL('worker-first-child.js', DIST)), m.name, fx.dir], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(child.signal, null, `the child died of ${child.signal}: ${child.stderr}`);
    assert.equal(child.status, 0, `the child exited with ${child.status}: ${child.stderr}`);
    assert.equal(child.stdout.trim(), 'ok');
  });

  for (const mode of ['natural', 'exit'] as const) {
    const behaviour =
      mode === 'natural'
        ? 'a process that ends with IO in flight stays alive until the IO completed'
        : 'process.exit() with IO in flight exits cleanly';
    defineCase(h, m, behaviour, async (fx) => {
      const filePath = fx.path();
      const child = spawnSync(process.execPath, [fileURLToPath(new URL('exit-child.js', DIST)), m.name, filePath, mode], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(child.signal, null, `the child died of ${child.signal}: ${child.stderr}`);
      assert.equal(child.status, 0, `the child exited with ${child.status}: ${child.stderr}`);
      if (mode === 'natural') {
        const content = fx.read(filePath);
        assert.equal(content.length, 64 * 65536);
        for (let i = 0; i < 64; i++) assert.ok(content.subarray(i * 65536, (i + 1) * 65536).equals(pattern(65536, i)), `write ${i}`);
      }
    });
  }
}
