/**
 * End of file is recognizable on the result itself (`result.code ===
 * 'AIO_EOF'`), and readFully/writeFully retry partial results, on the sync
 * method, an in-test asynchronous method and libuv.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'vitest';
import { Aio, AioIoError, AioUsageError, libuvMethod, syncMethod, type AioFile, type AioMethodFactory, type AioReturn } from '../src/index.js';
import { clearInjection, injectShortRead, setInjection } from '../src/testing.js';
import { deferred } from './deferred-method.js';
import { startRead } from './io-helpers.js';
import { tempWorld } from './temp-world.js';

const METHODS: Record<string, () => AioMethodFactory> = { sync: syncMethod, deferred, libuv: libuvMethod };

const world = tempWorld('aio-eof-', { clearInjection: true });
const fileWith = (content: Buffer): string => world.file(content);

function patterned(size: number, seed: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 13 + seed) & 0xff;
  return buffer;
}

/** One IO through the handle API, awaited; returns its return object. */
async function readOnce(aio: Aio, file: AioFile, buffer: Buffer, offset: number): Promise<AioReturn> {
  const { ret, ref } = startRead(aio, file, buffer, offset);
  await ref.wait();
  return ret;
}

for (const [kind, factory] of Object.entries(METHODS)) {
  describe(`${kind}: end of file`, () => {
    const context = (): Aio => {
      return world.track(new Aio({ method: factory() }));
    };

    it(`${kind}: a read at the end of the file carries code AIO_EOF on its result, the code toError() gives`, async () => {
      const aio = context();
      const file = aio.open(fileWith(patterned(5000, 1)));
      const atEnd = await readOnce(aio, file, Buffer.alloc(100), 5000);
      assert.equal(atEnd.result.status, 'error');
      assert.equal(atEnd.result.code, 'AIO_EOF');
      assert.equal(atEnd.result.result, 0);
      assert.equal(atEnd.toError().code, 'AIO_EOF');
      const nearEnd = await readOnce(aio, file, Buffer.alloc(100), 4950);
      assert.equal(nearEnd.result.status, 'partial');
      assert.equal(nearEnd.result.code, undefined, 'a partial result has no code');
      const whole = await readOnce(aio, file, Buffer.alloc(100), 0);
      assert.equal(whole.result.status, 'ok');
      assert.equal(whole.result.code, undefined);
      await file.close();
    });

    it(`${kind}: a read that fails with an errno carries Node's code for it on the result`, async () => {
      const aio = context();
      const file = aio.open(fileWith(patterned(100, 1)), { read: false, write: true });
      const ret = await readOnce(aio, file, Buffer.alloc(10), 0);
      assert.equal(ret.result.status, 'error');
      assert.equal(ret.result.code, 'EBADF');
      assert.equal(ret.toError().code, 'EBADF');
      await file.close();
    });

    it(`${kind}: readFully retries partial reads until the buffer is full`, async () => {
      const aio = context();
      const content = patterned(20000, 4);
      const file = aio.open(fileWith(content));
      injectShortRead(3000, { times: 3 });
      const before = aio.stats().completed;
      const buffer = Buffer.alloc(16384);
      assert.equal(await file.readFully(buffer, 1000), 16384);
      assert.ok(buffer.equals(content.subarray(1000, 17384)));
      assert.equal(aio.stats().completed - before, 4, 'three short reads and the read of the rest');
      const part = Buffer.alloc(100, 0xaa);
      assert.equal(await file.readFully(part, 0, { length: 40 }), 40);
      assert.ok(part.subarray(0, 40).equals(content.subarray(0, 40)));
      assert.ok(part.subarray(40).every((b) => b === 0xaa), 'nothing past length is touched');
      await file.close();
    });

    it(`${kind}: readFully rejects with AIO_EOF when the file ends before the buffer is full`, async () => {
      const aio = context();
      const content = patterned(5000, 6);
      const file = aio.open(fileWith(content));
      const buffer = Buffer.alloc(8192);
      const error = await file.readFully(buffer, 0).catch((caught: unknown) => caught);
      assert.ok(error instanceof AioIoError, String(error));
      assert.equal(error.code, 'AIO_EOF');
      assert.equal((error.result as { result: number }).result, 5000, 'the error says how many bytes were read');
      assert.match(error.message, /end of file after 5000 of 8192 bytes/);
      assert.ok(buffer.subarray(0, 5000).equals(content), 'the bytes before the end are in the buffer');
      await file.close();
    });

    it(`${kind}: writeFully retries short writes, and a write that moves nothing rejects with AIO_SHORT_WRITE`, async () => {
      const aio = context();
      const filePath = fileWith(Buffer.alloc(0));
      const file = aio.open(filePath, { read: true, write: true });
      let shortened = 0;
      // The OS wrote everything; the core is told fewer bytes, twice, as a full disk or a signal would do.
      setInjection((info) => {
        if (info.op !== 'write' || info.raw <= 1000 || shortened === 2) return undefined;
        shortened++;
        return 1000;
      });
      const data = patterned(10000, 8);
      assert.equal(await file.writeFully(data, 0), 10000);
      assert.equal(shortened, 2);
      assert.ok(fs.readFileSync(filePath).equals(data));
      setInjection((info) => (info.op === 'write' ? 0 : undefined));
      const error = await file.writeFully(data, 0).catch((caught: unknown) => caught);
      assert.ok(error instanceof AioIoError, String(error));
      assert.equal(error.code, 'AIO_SHORT_WRITE');
      clearInjection();
      await file.close();
    });

    it(`${kind}: readFullySync and writeFullySync retry partial results through the handle API, or say the method cannot wait`, async () => {
      const aio = context();
      const content = patterned(20000, 3);
      const filePath = fileWith(content);
      const file = aio.open(filePath, { read: true, write: true });
      const buffer = Buffer.alloc(12000);
      if (kind === 'libuv') {
        assert.throws(() => file.readFullySync(buffer, 0), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_CANNOT_WAIT');
        // The refused wait left the read in flight; close() waits for it.
        await file.close();
        return;
      }
      injectShortRead(5000, { times: 2 });
      aio.enterBatchMode();
      assert.equal(file.readFullySync(buffer, 100), 12000, 'works in batch mode too: each attempt is submitted before the wait');
      aio.exitBatchMode();
      assert.ok(buffer.equals(content.subarray(100, 12100)));
      assert.throws(() => file.readFullySync(Buffer.alloc(100), 19950), (e: unknown) => e instanceof AioIoError && e.code === 'AIO_EOF');
      assert.equal(file.writeFullySync(Buffer.from('tail'), 20000), 4);
      assert.equal(fs.readFileSync(filePath).subarray(20000).toString(), 'tail');
      await file.close();
    });

    it(`${kind}: readFully and writeFully refuse bad arguments with usage errors`, async () => {
      const aio = context();
      const file = aio.open(fileWith(patterned(100, 1)), { read: true, write: true });
      await assert.rejects(file.readFully('nope' as unknown as Buffer, 0), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_INVALID_TYPE');
      await assert.rejects(file.writeFully(Buffer.alloc(4), -1), (e: unknown) => e instanceof AioUsageError);
      await assert.rejects(file.readFully(Buffer.alloc(4), 0, { length: 5 }), (e: unknown) => e instanceof AioUsageError);
      await file.close();
    });
  });
}
