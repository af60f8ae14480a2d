import { describe, expect, it } from 'vitest';
import { Aio } from '@aio/core';
import { emulatedKqueue, errno, fake } from './emulated.js';
import { pattern, useScratch } from './helpers.js';

const scratch = useScratch();

describe('kqueue (emulated): synchronous fallbacks', () => {
  it('kqueue (emulated): EAGAIN from the kernel runs the IO synchronously and counts it', async () => {
    const data = pattern(8 * 1024, 21);
    const file = scratch.file('data', data);
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ refuseErrno: errno.EAGAIN, refuseCount: 3 });
    const buffers = Array.from({ length: 8 }, () => Buffer.alloc(1024));
    expect(await Promise.all(buffers.map((b, i) => f.read(b, i * 1024)))).toEqual(Array(8).fill(1024));
    expect(Buffer.concat(buffers).equals(data)).toBe(true);
    const stats = aio.stats();
    expect(stats.fallbacks).toBe(3);
    expect(stats.methodStats.fallbackEagain).toBe(3);
    expect(stats.methodStats.accepted).toBe(5);
  });

  it('kqueue (emulated): EOPNOTSUPP (unsafe aio disabled for this file) falls back as an unsupported op', async () => {
    const file = scratch.file('data', pattern(4096, 22));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true, write: true });
    fake().configure({ refuseErrno: errno.EOPNOTSUPP, refuseCount: 1 });
    expect(await f.write(pattern(4096, 23), 0)).toBe(4096);
    expect(aio.stats().methodStats.fallbackUnsupported).toBe(1);
    const back = Buffer.alloc(4096);
    await f.read(back, 0);
    expect(back.equals(pattern(4096, 23))).toBe(true);
  });

  it('kqueue (emulated): EINVAL for readv (a kernel without aio_readv) is a missing feature, not an error', async () => {
    const file = scratch.file('data', pattern(2048, 24));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ refuseErrno: errno.EINVAL, refuseCount: 1 });
    const parts = [Buffer.alloc(1000), Buffer.alloc(1048)];
    expect(await f.readv(parts, 0)).toBe(2048);
    expect(aio.stats().methodStats.fallbackUnsupported).toBe(1);
    expect(aio.stats().methodStats.submitErrors).toBe(0);
  });

  it('kqueue (emulated): any other refusal is re-run synchronously, which reports the real result', async () => {
    const file = scratch.file('data', pattern(2048, 25));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ refuseErrno: errno.EBADF, refuseCount: 1 });
    const buffer = Buffer.alloc(2048);
    expect(await f.read(buffer, 0)).toBe(2048);
    expect(buffer.equals(pattern(2048, 25))).toBe(true);
    expect(aio.stats().methodStats.submitErrors).toBe(1);
  });

  it('kqueue (emulated): a full in-flight table sends the rest of a batch to the synchronous path', async () => {
    const data = pattern(10 * 512, 26);
    const file = scratch.file('data', data);
    const aio = scratch.track(new Aio({ method: emulatedKqueue({ maxInFlight: 4 }) }));
    expect(aio.capabilities.maxDepth).toBe(4);
    const f = aio.open(file, { read: true });
    fake().configure({ hold: true });
    const buffers = Array.from({ length: 10 }, () => Buffer.alloc(512));
    aio.enterBatchMode();
    const reads = buffers.map((b, i) => f.read(b, i * 512));
    aio.exitBatchMode();
    expect(aio.stats().inFlight).toBe(4);
    expect(fake().state().pending).toBe(4);
    const stats = aio.stats();
    expect(stats.fallbacks).toBe(6);
    expect(stats.methodStats.fallbackQueueFull).toBe(6);
    expect(stats.methodStats.capacity).toBe(4);
    fake().release('reverse');
    expect(await Promise.all(reads)).toEqual(Array(10).fill(512));
    expect(Buffer.concat(buffers).equals(data)).toBe(true);
  });

  it('kqueue (emulated): many IOs in flight at once all complete with the right data', async () => {
    const data = pattern(1024 * 128, 27);
    const file = scratch.file('data', data);
    const aio = scratch.track(new Aio({ method: emulatedKqueue(), maxConcurrency: 1024 }));
    const f = aio.open(file, { read: true });
    fake().configure({ hold: true });
    const buffers = Array.from({ length: 1024 }, () => Buffer.alloc(128));
    const reads = buffers.map((b, i) => f.read(b, ((i * 389) % 1024) * 128));
    expect(aio.stats().inFlight).toBe(1024);
    expect(fake().state().maxPending).toBe(1024);
    fake().release('reverse');
    expect(await Promise.all(reads)).toEqual(Array(1024).fill(128));
    buffers.forEach((b, i) => {
      const at = ((i * 389) % 1024) * 128;
      expect(b.equals(data.subarray(at, at + 128))).toBe(true);
    });
    expect(aio.stats().fallbacks).toBe(0);
  });
});
