// Synchronous execution: the addon's own path on HANDLEs (node:fs cannot use them).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { getSystemErrorMap } from 'node:util';
import { AioReturn, allocAligned } from '@aio/core';
import { binding, withFixture, pattern, skipReason, underWine } from './helpers.mjs';

describe('iocp synchronous execution', { skip: skipReason }, () => {
  it('iocp: the synchronous flag runs reads, vectors and syncs through the addon before start returns', async () => {
    await withFixture(async (fx) => {
      fs.writeFileSync(fx.file('f'), pattern(9000, 2));
      const aio = fx.aio();
      const file = aio.open(fx.file('f'), { read: true, write: true });
      const run = (start) => {
        const ret = new AioReturn();
        const handle = aio.acquire(ret);
        handle.setFlag('synchronous');
        start(handle);
        return ret.result;
      };
      const buffers = [Buffer.alloc(100), Buffer.alloc(10_000)];
      assert.deepEqual({ ...run((h) => h.startReadv(file, buffers, 50)) }.status, 'partial');
      assert.ok(Buffer.concat(buffers).subarray(0, 8950).equals(pattern(9000, 2).subarray(50)));
      assert.equal(run((h) => h.startWrite(file, Buffer.from('zz'), 9000)).result, 2);
      assert.equal(run((h) => h.startRead(file, Buffer.alloc(10), 20_000)).status, 'error', 'nothing at EOF');
      assert.equal(run((h) => h.startFsync(file)).status, 'ok');
      assert.equal(aio.stats().methodStats.executedSync, 4);
      assert.equal(aio.stats().methodStats.submitted, 0);
    });
  });

  it('iocp: the binding answers misuse with an exception or an errno result, never a crash', async () => {
    const addon = binding();
    const { AIO_OP } = await import('@aio/core');
    assert.throws(() => addon.submit(null, 1, []), /iocp context/);
    assert.throws(() => addon.executeSync({}, AIO_OP.read, 4, 0, 1, [Buffer.alloc(1)]), /iocp context/);
    assert.throws(() => addon.create({ maxConcurrency: 0 }, new Float64Array(320), new Int32Array(3), () => {}), /maxConcurrency/);
    assert.throws(() => addon.create({ maxConcurrency: 1 }, new Float64Array(3), new Int32Array(3), () => {}), /Float64Array/);
    const ctx = addon.create({ maxConcurrency: 4 }, new Float64Array(320), new Int32Array(12), () => {});
    const errno = (name) => [...getSystemErrorMap()].find(([, [n]]) => n === name)?.[0];
    assert.equal(addon.executeSync(ctx, AIO_OP.read, 12344, 0, 1, [Buffer.alloc(1)]), errno('EBADF'), 'an unknown HANDLE');
    assert.equal(addon.executeSync(ctx, AIO_OP.read, 12344, 0, 5, [Buffer.alloc(1)]), errno('EINVAL'), 'a length beyond the buffer');
    assert.equal(addon.executeSync(ctx, 99, 12344, 0, 0, []), errno('EINVAL'), 'an unknown op');
    assert.equal(addon.closeFile(ctx, 12344), errno('EBADF'));
    assert.equal(addon.openFile(ctx, 'a\0b', { read: true }), errno('EINVAL'), 'a path with a NUL');
    assert.equal(addon.cancel(ctx, 0, 1), 1, 'nothing in flight to cancel');
    assert.equal(addon.poll(ctx), 0);
    assert.equal(addon.wait(ctx, 0, 1), 0, 'waiting for an IO that is not in flight returns at once');
    assert.throws(() => addon.wait(ctx, 4, 1), /index/);
    addon.close(ctx);
    assert.throws(() => addon.poll(ctx), /closed/);
    assert.throws(() => addon.openFile(ctx, 'x', { read: true }), /closed/);
    addon.close(ctx); // a second close does nothing
    assert.equal(addon.stats(ctx).openFiles, 0, 'stats still answer once closed');
  });

  it('iocp: direct IO round-trips with aligned buffers; unaligned is EINVAL on Windows and accepted by Wine', async () => {
    await withFixture(async (fx) => {
      const aio = fx.aio();
      const file = aio.open(fx.file('d'), { read: true, write: true, create: true, direct: true });
      const data = allocAligned(8192);
      pattern(8192, 5).copy(data);
      assert.equal(await file.write(data, 4096), 8192);
      const back = allocAligned(8192);
      assert.equal(await file.read(back, 4096), 8192);
      assert.ok(back.equals(data));
      const unaligned = file.read(allocAligned(4096), 100);
      // Windows refuses an unaligned offset with ERROR_INVALID_PARAMETER;
      // Wine 8 lets it through (shared/notes/platforms.md).
      if (underWine) assert.equal(typeof (await unaligned), 'number');
      else await assert.rejects(unaligned, (e) => e.code === 'EINVAL');
    });
  });
});
