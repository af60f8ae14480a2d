import { describe, expect, it } from 'vitest';
import { Aio, AioReturn, syncMethod } from '@aio/core';
import { emulatedKqueue, fake } from './emulated.js';
import { pattern, useScratch } from './helpers.js';

const scratch = useScratch();

describe('kqueue (emulated): round trips through the portable C and a fake kevent/aio provider', () => {
  it('kqueue (emulated): reads return the same bytes and counts as the sync method', async () => {
    const file = scratch.file('data', pattern(65536, 3));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const oracle = scratch.track(new Aio({ method: syncMethod() }));
    const f = aio.open(file, { read: true });
    const g = oracle.open(file, { read: true });
    for (const [offset, size] of [[0, 4096], [1, 100], [60000, 8192], [65536, 10], [4095, 1], [70000, 5]]) {
      const a = Buffer.alloc(size, 0xee);
      const b = Buffer.alloc(size, 0xee);
      expect(await f.read(a, offset)).toBe(await g.read(b, offset));
      expect(a.equals(b)).toBe(true);
    }
  });

  it('kqueue (emulated): write, writev and readv round trip byte for byte', async () => {
    const file = scratch.file('data');
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true, write: true });
    expect(await f.write(pattern(5000, 1), 0)).toBe(5000);
    const parts = [pattern(10, 2), pattern(4096, 3), pattern(7, 4)];
    expect(await f.writev(parts, 5000)).toBe(4113);
    const back = [Buffer.alloc(5000), Buffer.alloc(4113)];
    expect(await f.readv(back, 0)).toBe(9113);
    expect(back[0].equals(pattern(5000, 1))).toBe(true);
    expect(back[1].equals(Buffer.concat(parts))).toBe(true);
  });

  it('kqueue (emulated): readv with more buffers than fit inline keeps every buffer in place', async () => {
    const file = scratch.file('data', pattern(9 * 512, 9));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    const buffers = Array.from({ length: 9 }, () => Buffer.alloc(512));
    expect(await f.readv(buffers, 0)).toBe(9 * 512);
    expect(Buffer.concat(buffers).equals(pattern(9 * 512, 9))).toBe(true);
  });

  it('kqueue (emulated): fsync and fdatasync complete', async () => {
    const file = scratch.file('data', pattern(100, 5));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true, write: true });
    await f.write(pattern(100, 6), 0);
    await f.sync();
    await f.datasync();
    expect(aio.stats().methodStats.accepted).toBe(3);
  });

  it('kqueue (emulated): a short read at EOF is partial and a read past EOF is an error, as with sync', () => {
    const file = scratch.file('data', pattern(1000, 7));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const oracle = scratch.track(new Aio({ method: syncMethod() }));
    for (const [context, name] of [[aio, 'kqueue'], [oracle, 'sync']] as const) {
      const f = context.open(file, { read: true });
      const short = new AioReturn();
      const past = new AioReturn();
      let handle = context.acquire(short);
      let ref = handle.getWaitRef();
      handle.startRead(f, Buffer.alloc(4096), 0);
      ref.waitSync();
      handle = context.acquire(past);
      ref = handle.getWaitRef();
      handle.startRead(f, Buffer.alloc(4096), 5000);
      ref.waitSync();
      expect([name, short.result.status, short.result.result]).toEqual([name, 'partial', 1000]);
      expect([name, past.result.status]).toEqual([name, 'error']);
    }
  });

  it('kqueue (emulated): waitSync blocks in the provider until that IO is reaped', () => {
    const file = scratch.file('data', pattern(8192, 8));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ hold: true });
    const rets = [new AioReturn(), new AioReturn(), new AioReturn()];
    const refs = rets.map((ret, i) => {
      const handle = aio.acquire(ret);
      const ref = handle.getWaitRef();
      handle.startRead(f, Buffer.alloc(1024), i * 1024);
      return ref;
    });
    expect(fake().state().pending).toBe(3);
    refs[0].waitSync();
    expect(rets[0].result.status).toBe('ok');
    expect(aio.stats().inFlight).toBe(0);
    expect(rets.map((r) => r.result.result)).toEqual([1024, 1024, 1024]);
  });
});
