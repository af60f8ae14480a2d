/**
 * IO failures that node:fs cannot be made to produce on demand (EIO, ENOSPC,
 * a short read), injected into every method with @aio/core's fault-injection
 * point.  What node:fs would report is known from libuv's shape: an Error
 * `EIO: i/o error, read` with errno, code and syscall, no path.
 */
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { clearInjection, injectErrno, injectShortRead } from '@aio/core/testing';
import { open } from '../src/index.js';
import { describeEachMethod, scratchDir, TEXT } from './parity.js';

afterEach(() => clearInjection());

function libuvShape(code: string, errno: number, syscall: string, description: string) {
  return { message: `${code}: ${description}, ${syscall}`, code, errno, syscall, name: 'Error' };
}

describeEachMethod('IO errors in node:fs shape', (method) => {
  it(`${method}: an EIO on a read rejects with node:fs's "EIO: i/o error, read" Error`, async () => {
    const h = await open(path.join(scratchDir({ 'a.txt': TEXT }), 'a.txt'), 'r+');
    injectErrno('EIO', { op: ['read', 'readv'] });
    const positioned = await h.read(Buffer.alloc(4), 0, 4, 0).catch((error: unknown) => error);
    const current = await h.read(Buffer.alloc(4)).catch((error: unknown) => error);
    const vectored = await h.readv([Buffer.alloc(4)], 0).catch((error: unknown) => error);
    clearInjection();
    for (const error of [positioned, current, vectored]) {
      expect(Object.getPrototypeOf(error)).toBe(Error.prototype);
      expect(error).toMatchObject(libuvShape('EIO', -5, 'read', 'i/o error'));
      expect(error).not.toHaveProperty('path');
    }
    // A failed read at the current position does not move it.
    expect((await h.read(Buffer.alloc(3))).buffer.toString()).toBe('The');
    await h.close();
  });

  it(`${method}: an ENOSPC on a write, writev or writeFile rejects with node:fs's "ENOSPC: no space left on device, write" Error`, async () => {
    const h = await open(path.join(scratchDir({ 'a.txt': TEXT }), 'a.txt'), 'r+');
    injectErrno('ENOSPC', { op: ['write', 'writev'] });
    const errors = [
      await h.write('x', 0).catch((error: unknown) => error),
      await h.writev([Buffer.from('y')]).catch((error: unknown) => error),
      await h.writeFile('z').catch((error: unknown) => error),
    ];
    clearInjection();
    for (const error of errors) expect(error).toMatchObject(libuvShape('ENOSPC', -28, 'write', 'no space left on device'));
    await h.close();
  });

  it(`${method}: an EIO on fsync or fdatasync rejects with syscall fsync or fdatasync`, async () => {
    const h = await open(path.join(scratchDir({ 'a.txt': TEXT }), 'a.txt'), 'r+');
    injectErrno('EIO', { op: ['fsync', 'fdatasync'] });
    const sync = await h.sync().catch((error: unknown) => error);
    const datasync = await h.datasync().catch((error: unknown) => error);
    clearInjection();
    expect(sync).toMatchObject(libuvShape('EIO', -5, 'fsync', 'i/o error'));
    expect(datasync).toMatchObject(libuvShape('EIO', -5, 'fdatasync', 'i/o error'));
    await h.close();
  });

  it(`${method}: a short read resolves with the bytes read and advances the current position by them, as read(2) does`, async () => {
    const h = await open(path.join(scratchDir({ 'a.txt': TEXT }), 'a.txt'), 'r');
    injectShortRead(2, { times: 1 });
    const short = await h.read(Buffer.alloc(8));
    expect(short.bytesRead).toBe(2);
    expect(short.buffer.subarray(0, 2).toString()).toBe('Th');
    expect((await h.read(Buffer.alloc(3))).buffer.toString()).toBe('e q');
    await h.close();
  });
});
