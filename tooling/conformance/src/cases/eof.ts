/** End of file: short reads are partial, reads that find nothing are errors. */
import assert from 'node:assert/strict';
import { AioIoError } from '@aio/core';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { runOp } from '../ops.js';
import { pattern } from '../util.js';

export function defineEofCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'a short read at EOF is partial', async (fx) => {
    const aio = fx.aio();
    const content = pattern(10_000, 2);
    const file = aio.open(fx.path(content));
    const buffer = Buffer.alloc(4096);
    const ret = await runOp(aio, file, { op: 'read', buffer, offset: 8192 });
    assert.equal(ret.result.status, 'partial');
    assert.equal(ret.result.result, 10_000 - 8192);
    assert.equal(ret.result.errno, undefined);
    assert.ok(buffer.subarray(0, 10_000 - 8192).equals(content.subarray(8192)));
    aio.reportResult(ret); // partial is not raised: the issuer retries
    await file.close();
  });

  defineCase(h, m, 'a read that finds no bytes where bytes were asked is an error', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    const ret = await runOp(aio, file, { op: 'read', buffer: Buffer.alloc(512), offset: 4096 });
    assert.equal(ret.result.status, 'error');
    assert.equal(ret.result.result, 0);
    assert.equal(ret.result.errno, undefined);
    assert.throws(
      () => aio.reportResult(ret),
      (error: unknown) =>
        error instanceof AioIoError &&
        error.code === 'AIO_EOF' &&
        /read only 0 of 512 bytes/.test(error.message) &&
        error.path === file.path &&
        error.method === m.name,
    );
    await file.close();
  });

  defineCase(h, m, 'a zero-length read is ok', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(100));
    const ret = await runOp(aio, file, { op: 'read', buffer: Buffer.alloc(0), offset: 50 });
    assert.equal(ret.result.status, 'ok');
    assert.equal(ret.result.result, 0);
    await file.close();
  });

  defineCase(h, m, 'file.read resolves with the short count near EOF and 0 at EOF, like node:fs', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(1000));
    assert.equal(await file.read(Buffer.alloc(4096), 0), 1000);
    assert.equal(await file.read(Buffer.alloc(4096), 1000), 0);
    assert.equal(await file.read(Buffer.alloc(4096), 50_000), 0);
    assert.equal(await file.readv([Buffer.alloc(600), Buffer.alloc(600)], 0), 1000);
    await file.close();
  });
}
