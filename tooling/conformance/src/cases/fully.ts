/**
 * End of file on the result itself (`result.code === 'AIO_EOF'`) and the
 * readFully/writeFully helpers, compared with what is on disk.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { AioIoError } from '@aio/core';
import { injectShortRead, setInjection } from '@aio/core/testing';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import { canWaitSync, type MethodUnderTest } from '../methods.js';
import { runOp } from '../ops.js';
import { pattern } from '../util.js';

export function defineFullyCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'a read that finds no bytes carries code AIO_EOF on its result; ok and partial results carry none', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    const atEnd = await runOp(aio, file, { op: 'read', buffer: Buffer.alloc(512), offset: 4096 });
    assert.equal(atEnd.result.code, 'AIO_EOF');
    assert.equal(atEnd.toError().code, atEnd.result.code, 'the result and its error agree');
    const vectored = await runOp(aio, file, { op: 'readv', buffers: [Buffer.alloc(10), Buffer.alloc(10)], offset: 8192 });
    assert.equal(vectored.result.code, 'AIO_EOF');
    const partial = await runOp(aio, file, { op: 'read', buffer: Buffer.alloc(512), offset: 4000 });
    assert.equal(partial.result.status, 'partial');
    assert.equal(partial.result.code, undefined);
    const ok = await runOp(aio, file, { op: 'read', buffer: Buffer.alloc(512), offset: 0 });
    assert.equal(ok.result.code, undefined);
    await file.close();
  });

  defineCase(h, m, 'readFully retries partial reads until the buffer is full, and rejects with AIO_EOF at the end', async (fx) => {
    const aio = fx.aio();
    const content = pattern(40_000, 5);
    const file = aio.open(fx.path(content));
    injectShortRead(1234, { times: 4 });
    const buffer = Buffer.alloc(32_768);
    assert.equal(await file.readFully(buffer, 100), 32_768);
    assert.ok(buffer.equals(content.subarray(100, 32_868)));
    const tail = Buffer.alloc(8192);
    const error = await file.readFully(tail, 36_000).catch((caught: unknown) => caught);
    assert.ok(error instanceof AioIoError && error.code === 'AIO_EOF', String(error));
    assert.equal((error.result as { result: number }).result, 4000);
    assert.ok(tail.subarray(0, 4000).equals(content.subarray(36_000)));
    await file.close();
  });

  defineCase(h, m, 'writeFully retries short writes and the file holds every byte', async (fx) => {
    const aio = fx.aio();
    const filePath = fx.path(0);
    const file = aio.open(filePath, { read: true, write: true });
    let shortened = 0;
    setInjection((info) => {
      if (info.op !== 'write' || info.raw <= 4096 || shortened === 3) return undefined;
      shortened++;
      return 4096;
    });
    const data = pattern(50_000, 9);
    assert.equal(await file.writeFully(data, 0), 50_000);
    assert.equal(shortened, 3);
    assert.ok(fs.readFileSync(filePath).equals(data));
    await file.close();
  });

  defineCase(h, m, 'readFullySync and writeFullySync retry partial results through the handle API', async (fx) => {
    const aio = fx.aio();
    const content = pattern(30_000, 4);
    const filePath = fx.path(content);
    const file = aio.open(filePath, { read: true, write: true });
    if (!canWaitSync(m.name)) {
      // libuv cannot block for its IO: the helper says so, and the Promise form is the one to use.
      assert.throws(() => file.readFullySync(Buffer.alloc(10), 0), (e: unknown) => (e as { code?: string }).code === 'AIO_ERR_CANNOT_WAIT');
      await file.close();
      return;
    }
    injectShortRead(2000, { times: 3 });
    const buffer = Buffer.alloc(20_000);
    assert.equal(file.readFullySync(buffer, 5000), 20_000);
    assert.ok(buffer.equals(content.subarray(5000, 25_000)));
    assert.throws(() => file.readFullySync(Buffer.alloc(1000), 29_500), (e: unknown) => e instanceof AioIoError && e.code === 'AIO_EOF');
    const data = pattern(8192, 11);
    assert.equal(file.writeFullySync(data, 30_000), 8192);
    assert.ok(fs.readFileSync(filePath).subarray(30_000).equals(data));
    await file.close();
  });
}
