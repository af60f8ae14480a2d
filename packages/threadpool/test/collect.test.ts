/**
 * A context the program forgets to close: idle, it must be collected and its
 * native resources freed by the finalizer; with IO in flight, it must stay
 * alive until that IO completed.  The kit holds the context object strongly
 * only while IO is in flight (tooling/native/README.md).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { Aio } from '@aio/core';
import { loadBinding, poolInfo, threadpool } from '../src/index.js';
import { pauseWorkers, resumeWorkers } from '../src/testing.js';
import { pattern, tempFile } from './helpers.js';

const loaded = loadBinding();
if (!('binding' in loaded)) throw new Error(loaded.reason);
const binding = loaded.binding as typeof loaded.binding & { liveContexts(): number };
const gc = (globalThis as { gc?: () => void }).gc;

/** Collects garbage until `done()` or 50 rounds; native finalizers run on a later turn of the loop. */
async function collectUntil(done: () => boolean): Promise<boolean> {
  for (let round = 0; round < 20 && !done(); round++) {
    gc!();
    await nextTurn();
  }
  return done();
}

/** The number of native contexts once everything already unreachable (earlier tests' closed contexts) is gone. */
async function settledLiveContexts(): Promise<number> {
  await collectUntil(() => false);
  return binding.liveContexts();
}

/** Opens a context, runs one read on it and forgets it; returns a way to see whether it was collected. */
async function forgottenContext(path: string): Promise<{ collected: () => boolean }> {
  let collected = false;
  const registry = new FinalizationRegistry(() => (collected = true));
  await (async () => {
    const aio = new Aio({ method: threadpool() });
    registry.register(aio, 'aio');
    const file = aio.open(path);
    expect(await file.read(Buffer.alloc(4096), 0)).toBe(4096);
  })();
  return { collected: () => collected };
}

it.skipIf(gc === undefined)('threadpool: an idle context dropped without close() is collected and its native context freed', async () => {
  const path = tempFile(pattern(4096));
  const liveBefore = await settledLiveContexts();
  const poolContextsBefore = poolInfo().contexts;
  const forgotten = await forgottenContext(path);
  expect(binding.liveContexts()).toBe(liveBefore + 1);
  expect(await collectUntil(() => forgotten.collected() && binding.liveContexts() === liveBefore)).toBe(true);
  // The finalizer closed it: the pool no longer lists it.
  expect(poolInfo().contexts).toBe(poolContextsBefore);
});

it.skipIf(gc === undefined)('threadpool: a dropped context with IO in flight stays alive until the IO completed', async () => {
  const path = tempFile(pattern(4096));
  const liveBefore = await settledLiveContexts();
  pauseWorkers();
  let read: Promise<number>;
  let buffer: Buffer;
  (() => {
    const aio = new Aio({ method: threadpool() });
    buffer = Buffer.alloc(4096);
    read = aio.open(path).read(buffer, 0);
  })();
  // Only the pending Promise is left; the IO sits in the paused pool.
  await collectUntil(() => false);
  expect(binding.liveContexts()).toBe(liveBefore + 1);
  resumeWorkers();
  expect(await read!).toBe(4096);
  expect(buffer!).toEqual(pattern(4096));
  // Idle again, and still unreferenced: now it goes.
  expect(await collectUntil(() => binding.liveContexts() === liveBefore)).toBe(true);
});
