/** The fault-injection point: short reads and errnos on any method (J1-J9). */
import assert from 'node:assert/strict';
import { AioIoError } from '@aio/core';
import { clearInjection, injectErrno, injectShortRead } from '@aio/core/testing';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { runOp } from '../ops.js';
import { pattern } from '../util.js';

/** Reads `length` bytes at `offset`, retrying partial reads as an issuer must. */
async function readFully(aio: import('@aio/core').Aio, file: import('@aio/core').AioFile, buffer: Buffer, offset: number): Promise<number> {
  let done = 0;
  let attempts = 0;
  while (done < buffer.length) {
    attempts++;
    const ret = await runOp(aio, file, { op: 'read', buffer: buffer.subarray(done), offset: offset + done });
    ret.throwIfError();
    done += ret.result.result;
  }
  return attempts;
}

export function defineInjectionCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'an injected short read of the full length changes nothing (J1)', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(pattern(8192, 1)));
    injectShortRead(8192, { times: 1 });
    const buffer = Buffer.alloc(8192);
    const ret = await runOp(aio, file, { op: 'read', buffer, offset: 0 });
    assert.equal(ret.result.status, 'ok');
    assert.ok(buffer.equals(pattern(8192, 1)));
    await file.close();
  });

  defineCase(h, m, 'an injected short read is partial, zeroes the rest, and is retried by the caller (J2-J4)', async (fx) => {
    const aio = fx.aio();
    const content = pattern(32_768, 5);
    const file = aio.open(fx.path(content));
    injectShortRead(17, { times: 1 });
    const first = Buffer.alloc(8192, 0xee);
    const ret = await runOp(aio, file, { op: 'read', buffer: first, offset: 0 });
    assert.equal(ret.result.status, 'partial');
    assert.equal(ret.result.result, 17);
    assert.ok(first.subarray(0, 17).equals(content.subarray(0, 17)));
    assert.ok(first.subarray(17).every((b) => b === 0), 'bytes past the short count are zeroed');
    injectShortRead(8192, { times: 2 });
    const whole = Buffer.alloc(32_768);
    const attempts = await readFully(aio, file, whole, 0);
    assert.equal(attempts, 3, 'two shortened reads, then one for the rest');
    assert.ok(whole.equals(content));
    await file.close();
  });

  defineCase(h, m, 'an injected EIO is an error with Node\'s code and message, every time, until removed (J6-J8)', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    injectErrno('EIO');
    for (let i = 0; i < 2; i++) {
      const ret = await runOp(aio, file, { op: 'read', buffer: Buffer.alloc(100), offset: 0 });
      assert.equal(ret.result.status, 'error');
      const error = ret.toError();
      assert.ok(error instanceof AioIoError);
      assert.equal(error.code, 'EIO');
      assert.equal(error.errno, ret.result.errno);
      assert.equal(error.syscall, 'read');
      assert.equal(error.path, file.path);
      assert.equal(error.method, m.name);
      assert.match(error.message, /^EIO: i\/o error, read '/);
      assert.match(error.target, /read of 100 bytes at offset 0 in file/);
    }
    await assert.rejects(file.read(Buffer.alloc(10), 0), (e: unknown) => e instanceof AioIoError && e.code === 'EIO');
    clearInjection();
    assert.equal(await file.read(Buffer.alloc(10), 0), 10, 'after removing the injection the read succeeds');
    await file.close();
  });

  defineCase(h, m, 'injected EROFS and ENOSPC on writes carry their messages (J9)', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096), { read: true, write: true });
    injectErrno('EROFS', { op: 'write', times: 1 });
    const readOnly = await runOp(aio, file, { op: 'write', buffer: Buffer.alloc(10), offset: 0 });
    assert.equal(readOnly.toError().code, 'EROFS');
    assert.match(readOnly.toError().message, /read-only file system, write/);
    injectErrno('ENOSPC', { op: 'writev', times: 1 });
    const full = await runOp(aio, file, { op: 'writev', buffers: [Buffer.alloc(10)], offset: 0 });
    assert.equal(full.toError().code, 'ENOSPC');
    assert.equal(full.toError().syscall, 'writev');
    await file.close();
  });
}
