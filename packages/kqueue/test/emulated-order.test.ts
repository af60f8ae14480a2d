import { describe, expect, it } from 'vitest';
import { Aio } from '@aio/core';
import { deliveries, emulatedKqueue, fake } from './emulated.js';
import { pattern, useScratch } from './helpers.js';

const scratch = useScratch();

/** Lets the event loop run the addon's uv_poll callback. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('kqueue (emulated): completion order and batching', () => {
  it('kqueue (emulated): out-of-order completions are delivered to the right handles', async () => {
    const data = pattern(16 * 4096, 11);
    const file = scratch.file('data', data);
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ hold: true });
    const buffers = Array.from({ length: 16 }, () => Buffer.alloc(4096));
    const reads = buffers.map((buffer, i) => f.read(buffer, i * 4096));
    expect(fake().state().pending).toBe(16);
    // Finish them in a scrambled order, in three separate drains.
    expect(fake().release([13, 2, 7, 0, 15])).toBe(5);
    await turn();
    expect(fake().release([3, 1, 8])).toBe(3);
    await turn();
    expect(fake().release('reverse')).toBe(8);
    expect(await Promise.all(reads)).toEqual(Array(16).fill(4096));
    buffers.forEach((buffer, i) => expect(buffer.equals(data.subarray(i * 4096, (i + 1) * 4096))).toBe(true));
  });

  it('kqueue (emulated): everything ready is reaped in one batch and handed to JavaScript in one call', async () => {
    const file = scratch.file('data', pattern(32 * 512, 12));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ hold: true });
    const reads = Array.from({ length: 32 }, (_, i) => f.read(Buffer.alloc(512), i * 512));
    fake().release('reverse');
    const before = deliveries.length;
    await turn();
    expect(deliveries.slice(before)).toEqual([32]);
    expect(await Promise.all(reads)).toEqual(Array(32).fill(512));
    const stats = aio.stats().methodStats;
    expect(stats.maxReapBatch).toBe(32);
    expect(stats.maxInFlight).toBe(32);
  });

  it('kqueue (emulated): more completions than one kevent batch are all delivered in the same drain', async () => {
    const file = scratch.file('data', pattern(200 * 64, 13));
    const aio = scratch.track(new Aio({ method: emulatedKqueue(), maxConcurrency: 256 }));
    const f = aio.open(file, { read: true });
    fake().configure({ hold: true });
    const buffers = Array.from({ length: 200 }, () => Buffer.alloc(64));
    const reads = buffers.map((buffer, i) => f.read(buffer, i * 64));
    expect(aio.stats().inFlight).toBe(200);
    fake().release('fifo');
    const before = deliveries.length;
    await turn();
    expect(deliveries.slice(before)).toEqual([200]);
    expect(await Promise.all(reads)).toEqual(Array(200).fill(64));
    // Four kevent() calls of at most 64 events each, one JavaScript call.
    expect(aio.stats().methodStats.maxReapBatch).toBe(64);
    expect(aio.stats().methodStats.reaps).toBe(4);
  });

  it('kqueue (emulated): poll() from isDone() collects a completion before the event loop does', () => {
    const file = scratch.file('data', pattern(4096, 14));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ hold: true });
    const handle = aio.acquire();
    const ref = handle.getWaitRef();
    handle.startRead(f, Buffer.alloc(4096), 0);
    expect(ref.isDone()).toBe(false);
    fake().release('fifo');
    expect(ref.isDone()).toBe(true);
  });
});
