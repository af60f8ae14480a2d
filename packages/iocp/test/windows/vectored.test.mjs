// readv/writev: one overlapped transfer per buffer, folded into one result like preadv/pwritev.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { AioReturn, AioWaitRef } from '@aio/core';
import { withFixture, pattern, skipReason, underWine } from './helpers.mjs';

describe('iocp vectored IO', { skip: skipReason }, () => {
  it('iocp: a readv that crosses end of file returns the bytes before it, as partial', async () => {
    await withFixture(async (fx) => {
      fs.writeFileSync(fx.file('f'), pattern(10_000, 1));
      const aio = fx.aio();
      const file = aio.open(fx.file('f'));
      const buffers = [Buffer.alloc(4096), Buffer.alloc(4096), Buffer.alloc(4096), Buffer.alloc(4096)];
      const ret = new AioReturn();
      const ref = new AioWaitRef();
      const handle = aio.acquire(ret);
      handle.getWaitRef(ref);
      handle.startReadv(file, buffers, 2000);
      await ref.wait();
      assert.equal(ret.result.status, 'partial');
      assert.equal(ret.result.result, 8000);
      assert.ok(Buffer.concat(buffers).subarray(0, 8000).equals(pattern(10_000, 1).subarray(2000)));
    });
  });

  it('iocp: vectors of many buffers, with empty ones among them, move every byte in order', async () => {
    await withFixture(async (fx) => {
      const aio = fx.aio();
      const file = aio.open(fx.file('f'), { read: true, write: true, create: true });
      const data = pattern(1022 * 37, 4);
      const out = Array.from({ length: 1022 }, (_, i) => data.subarray(i * 37, (i + 1) * 37));
      out.splice(10, 0, Buffer.alloc(0));
      out.splice(500, 0, Buffer.alloc(0));
      assert.equal(await file.writev(out, 123), data.length);
      const into = Array.from({ length: 37 }, () => Buffer.alloc(1022));
      into.push(Buffer.alloc(0));
      assert.equal(await file.readv(into, 123), data.length);
      assert.ok(Buffer.concat(into).equals(data));
      assert.equal(await file.readv([Buffer.alloc(0)], 0), 0, 'a vector of nothing moves nothing');
    });
  });

  it('iocp: offsets above 4 GiB reach the file (OVERLAPPED.OffsetHigh)', async (t) => {
    // On NTFS the file is not sparse, so Windows would write 5 GiB of zeros
    // first; Wine's files are Unix files and stay sparse.
    if (!underWine) return t.skip('needs a sparse file; only run under Wine');
    await withFixture(async (fx) => {
      const aio = fx.aio();
      const file = aio.open(fx.file('big'), { read: true, write: true, create: true });
      const at = 5 * 2 ** 30 + 7;
      assert.equal(await file.writev([Buffer.from('abc'), Buffer.from('defg')], at), 7);
      const back = Buffer.alloc(10);
      assert.equal(await file.read(back, at), 7);
      assert.equal(back.subarray(0, 7).toString(), 'abcdefg');
      await file.close();
      assert.equal(fs.statSync(fx.file('big')).size, at + 7);
    });
  });
});
