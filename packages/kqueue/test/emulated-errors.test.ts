import { describe, expect, it } from 'vitest';
import { Aio, AioFile, AioIoError, AioReturn, syncMethod } from '@aio/core';
import { emulatedKqueue, errno, fake } from './emulated.js';
import { pattern, useScratch } from './helpers.js';

const scratch = useScratch();

/** One read of `size` bytes at 0 through the handle API, waited for synchronously; returns its result. */
function readWithHandle(aio: Aio, file: AioFile, size: number): AioReturn {
  const ret = new AioReturn();
  const handle = aio.acquire(ret);
  const ref = handle.getWaitRef();
  handle.startRead(file, Buffer.alloc(size), 0);
  ref.waitSync();
  return ret;
}

describe('kqueue (emulated): errors become results', () => {
  it('kqueue (emulated): an aio_error of EIO is an error result with errno EIO', () => {
    const file = scratch.file('data', pattern(4096, 31));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ failErrno: errno.EIO, failCount: 1 });
    const ret = readWithHandle(aio, f, 4096);
    expect(ret.result.status).toBe('error');
    expect(() => aio.reportResult(ret)).toThrow(expect.objectContaining({ code: 'EIO', method: 'kqueue' }));
  });

  it('kqueue (emulated): a failed write rejects its Promise with the errno name (ENOSPC)', async () => {
    const file = scratch.file('data');
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true, write: true });
    fake().configure({ failErrno: errno.ENOSPC, failCount: 1 });
    const error = await f.write(pattern(100, 32), 0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AioIoError);
    expect(error).toMatchObject({ code: 'ENOSPC', syscall: 'write', path: file });
    expect(await f.write(pattern(100, 32), 0)).toBe(100);
  });

  it('kqueue (emulated): a write to a read-only file fails with EBADF exactly as with the sync method', async () => {
    const file = scratch.file('data', pattern(100, 33));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const oracle = scratch.track(new Aio({ method: syncMethod() }));
    const errors = await Promise.all(
      [aio, oracle].map((context) => context.open(file, { read: true }).write(pattern(10, 1), 0).then(() => null, (e: AioIoError) => e)),
    );
    expect(errors.map((e) => [e?.code, e?.errno])).toEqual([
      ['EBADF', -errno.EBADF],
      ['EBADF', -errno.EBADF],
    ]);
  });

  it('kqueue (emulated): aio_return of -1 without an aio_error is reported as EIO, never as success', () => {
    const file = scratch.file('data', pattern(4096, 34));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ failErrno: 0, failCount: 1 });
    const ret = readWithHandle(aio, f, 4096);
    expect(ret.result.status).toBe('error');
    expect(ret.toError().code).toBe('EIO');
  });

  it('kqueue (emulated): a failing kevent() is counted and retried, never spun on or turned into a lost completion', async () => {
    const file = scratch.file('data', pattern(4096, 35));
    const aio = scratch.track(new Aio({ method: emulatedKqueue() }));
    const f = aio.open(file, { read: true });
    fake().configure({ hold: true });
    const read = f.read(Buffer.alloc(4096), 0);
    fake().configure({ reapErrno: errno.EBADF, reapErrorCount: 2 });
    fake().release('fifo');
    expect(readWithHandle(aio, f, 100).result.result).toBe(100);
    expect(await read).toBe(4096);
    expect(aio.stats().methodStats.reapErrors).toBe(2);
  });
});
