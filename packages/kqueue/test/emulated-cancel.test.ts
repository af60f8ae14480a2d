import { describe, expect, it } from 'vitest';
import { Aio, AioAbortError } from '@aio/core';
import { emulatedBinding, emulatedKqueue, fake, newestContext } from './emulated.js';
import { pattern, useScratch } from './helpers.js';

const scratch = useScratch();

/** The answers a provider gives, by the numbers fake.c uses (enum aio_rq_cancel_answer). */
const ANSWER = { canceled: 0, notCanceled: 1, allDone: 2, error: 3 } as const;

describe('kqueue (emulated): cancellation', () => {
  it('kqueue (emulated): aborting a queued request cancels it and the Promise rejects with AbortError', async () => {
    const file = scratch.file('data', pattern(4096, 41));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ hold: true });
    const controller = new AbortController();
    const read = f.read(Buffer.alloc(4096), 0, { signal: controller.signal });
    controller.abort();
    await expect(read).rejects.toBeInstanceOf(AioAbortError);
    expect(aio.stats().cancelRequests).toBe(1);
    expect(aio.stats().methodStats.cancelRequests).toBe(1);
    expect(fake().state().cancels).toBe(1);
  });

  it('kqueue (emulated): a request that already finished is not canceled and resolves with its bytes', async () => {
    const file = scratch.file('data', pattern(4096, 42));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ hold: true });
    const controller = new AbortController();
    const buffer = Buffer.alloc(4096);
    const read = f.read(buffer, 0, { signal: controller.signal });
    fake().release('fifo'); // finished in the kernel, not yet reaped: aio_cancel says AIO_ALLDONE
    controller.abort();
    expect(await read).toBe(4096);
    expect(buffer.equals(pattern(4096, 42))).toBe(true);
  });

  for (const [name, answer] of [
    ['AIO_NOTCANCELED', ANSWER.notCanceled],
    ['a failing aio_cancel', ANSWER.error],
  ] as const) {
    it(`kqueue (emulated): ${name} maps to not-canceled and the IO completes normally`, async () => {
      const file = scratch.file('data', pattern(4096, 43));
      const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
      const f = aio.open(file, { read: true });
      fake().configure({ hold: true, cancelAnswer: answer });
      const controller = new AbortController();
      const read = f.read(Buffer.alloc(4096), 0, { signal: controller.signal });
      controller.abort();
      expect(fake().state().cancels).toBe(1);
      fake().release('fifo');
      expect(await read).toBe(4096);
    });
  }

  it('kqueue (emulated): cancel answers map to the core outcomes, and a stale reference is never canceled', () => {
    const file = scratch.file('data', pattern(4096, 44));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    const context = newestContext();
    fake().configure({ hold: true });
    const handle = aio.acquire();
    const ref = handle.getWaitRef();
    handle.startRead(f, Buffer.alloc(4096), 0);
    const generation = ref.generation % 2 ** 32;
    expect(emulatedBinding.cancel?.(context, handle.index, generation + 1)).toBe(1);
    fake().configure({ cancelAnswer: ANSWER.allDone });
    expect(emulatedBinding.cancel?.(context, handle.index, generation)).toBe(1);
    fake().configure({ cancelAnswer: -1 });
    expect(emulatedBinding.cancel?.(context, handle.index, generation)).toBe(0);
    ref.waitSync();
    expect(emulatedBinding.cancel?.(context, handle.index, generation)).toBe(1);
  });
});
