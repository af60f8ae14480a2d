/**
 * The context's life when the program forgets close(): binding.c holds the
 * context object strongly only while IO is in flight.  Idle and
 * unreferenced, it is collected and its finalizer closes it (the fake
 * provider's pipe, the uv_poll) and frees the struct, which liveContexts()
 * counts; with IO in flight it stays, and so do its buffers, until the IO
 * was delivered.
 */
import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import { Aio } from '@aio/core';
import { AIO_SUBMIT_MAX, AIO_SUBMIT_STRIDE } from '@aio/core/method';
import { emulatedBinding as binding, emulatedKqueue, fake } from './emulated.js';
import { openFds, pattern, useScratch } from './helpers.js';

const scratch = useScratch();
const gc = (globalThis as { gc?: () => void }).gc;
const needsGc = gc === undefined ? 'node runs without --expose-gc, so collections cannot be forced' : undefined;

/** Forces collections, a loop turn apart (finalizers run on a later turn), until `settled()` or 30 rounds. */
async function collectAndSee(settled: () => boolean): Promise<boolean> {
  for (let round = 0; round < 30 && !settled(); round++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return settled();
}

/** liveContexts() once whatever earlier tests left unreachable was finalized. */
async function liveAtRest(): Promise<number> {
  await collectAndSee(() => false);
  return binding.liveContexts();
}

it('kqueue (emulated): an idle context object nobody references is collected and its struct freed', async (ctx) => {
  if (needsGc) return ctx.skip(needsGc);
  const before = await liveAtRest();
  const fdsBefore = openFds();
  (() => {
    const words = new Float64Array(AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE);
    binding.create({ maxConcurrency: 4 }, words, new Int32Array(12), () => {});
  })();
  expect(binding.liveContexts()).toBe(before + 1);
  expect(await collectAndSee(() => binding.liveContexts() === before)).toBe(true);
  // The finalizer closed the provider's descriptors, not only freed memory.
  expect(openFds()).toBe(fdsBefore);
});

it('kqueue (emulated): an Aio dropped while a read is in flight is kept, buffer and all, until the read was delivered', async (ctx) => {
  if (needsGc) return ctx.skip(needsGc);
  const path = scratch.file('data', pattern(4096, 71));
  const before = await liveAtRest();
  let bufferRef!: WeakRef<Buffer>;
  let read!: Promise<number>;
  (() => {
    const aio = new Aio({ method: emulatedKqueue() });
    const buffer = Buffer.alloc(4096);
    bufferRef = new WeakRef(buffer);
    fake().configure({ hold: true });
    const file = aio.open(path);
    // The continuation closes the file; only the core's pending IO reaches it (and the file, and the Aio).
    read = file.read(buffer, 0).then(async (bytes) => {
      await file.close();
      return bytes;
    });
  })();
  // Nothing the test holds leads to the Aio now; only binding.c's in-flight reference keeps it.
  await collectAndSee(() => false);
  expect(binding.liveContexts()).toBe(before + 1);
  const buffer = bufferRef.deref();
  expect(buffer).toBeDefined();
  expect(fake().release('fifo')).toBe(1);
  expect(await read).toBe(4096);
  expect(buffer!.equals(fs.readFileSync(path))).toBe(true);
  // Idle again and still unreferenced: now the context goes.
  expect(await collectAndSee(() => binding.liveContexts() === before)).toBe(true);
});
