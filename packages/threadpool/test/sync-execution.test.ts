import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import { AioReturn, syncMethod, Aio } from '@aio/core';
import { newAio, pattern, tempFile } from './helpers.js';

it('threadpool: a references-local IO never goes to a worker; it runs on the issuing thread (PostgreSQL X14)', () => {
  const content = pattern(8192);
  const aio = newAio();
  const file = aio.open(tempFile(content));
  const ret = new AioReturn();
  const handle = aio.acquire(ret);
  handle.setFlag('references-local');
  const buffer = Buffer.alloc(4096);
  handle.startRead(file, buffer, 4096);
  // Completed before start returned: it never reached the pool.
  expect(ret.result.status).toBe('ok');
  expect(buffer.equals(content.subarray(4096))).toBe(true);
  const stats = aio.stats();
  expect(stats.synchronous).toBe(1);
  expect(stats.methodStats.accepted).toBe(0);
  file.closeSync();
});

it('threadpool: synchronous execution runs the workers\' own code and matches the sync method, errors included', () => {
  const content = pattern(20000);
  const path = tempFile(content);
  const pool = newAio();
  const oracle = new Aio({ method: syncMethod() });
  try {
    const files = [pool.open(path, { read: true, write: true }), oracle.open(path, { read: true, write: true })];
    const outcome = files.map((file, i) => {
      const aio = i === 0 ? pool : oracle;
      const results: unknown[] = [];
      const run = (start: (h: ReturnType<Aio['acquire']>) => void) => {
        const ret = new AioReturn();
        const handle = aio.acquire(ret);
        handle.setFlag('synchronous');
        start(handle);
        results.push({ ...ret.result });
      };
      // Seven buffers: more than the kit keeps inline, so the vector is allocated and freed.
      const views = [1, 2, 3, 500, 4096, 7, 9000].map((n) => Buffer.alloc(n));
      run((h) => h.startReadv(file, views, 100));
      results.push(Buffer.concat(views).toString('hex'));
      run((h) => h.startRead(file, Buffer.alloc(100), 19950)); // short at EOF
      run((h) => h.startRead(file, Buffer.alloc(100), 30000)); // nothing at EOF
      run((h) => h.startWritev(file, [Buffer.from('ab'), new Uint16Array([0x6463])], 3));
      run((h) => h.startFdatasync(file));
      run((h) => h.startFsync(file));
      return results;
    });
    expect(outcome[0]).toEqual(outcome[1]);
    expect(pool.stats().synchronous).toBe(6);
    const bytes = fs.readFileSync(path);
    expect(bytes.subarray(3, 7).toString()).toBe('abcd');
    files.forEach((file) => file.closeSync());
  } finally {
    oracle.closeSync();
  }
});

it('threadpool: an IO on a file descriptor closed behind the library fails with EBADF on the synchronous path too', () => {
  const aio = newAio();
  const fd = fs.openSync(tempFile(pattern(100)), 'r');
  const file = aio.fromFd(fd);
  fs.closeSync(fd);
  const ret = new AioReturn();
  const handle = aio.acquire(ret);
  handle.setFlag('synchronous');
  handle.startRead(file, Buffer.alloc(10), 0);
  expect(ret.result.status).toBe('error');
  expect(ret.toError().code).toBe('EBADF');
  file.closeSync();
});
