import { availableParallelism } from 'node:os';
import { expect, it } from 'vitest';
import { AioUsageError } from '@aio/core';
import { defaultWorkerCount, method, methodName, poolInfo, probe, threadpool } from '../src/index.js';
import { newAio, pattern, runScript, tempFile } from './helpers.js';

it('threadpool: one process-wide pool serves every context and survives a context closing', async () => {
  const content = pattern(16384);
  const first = newAio();
  const second = newAio();
  const a = first.open(tempFile(content));
  const b = second.open(tempFile(content));
  const buffer = Buffer.alloc(4096);
  expect(await a.read(buffer, 4096)).toBe(4096);
  const started = poolInfo();
  expect(started.threads).toBeGreaterThan(0);
  expect(started.contexts).toBeGreaterThanOrEqual(2);
  await a.close();
  await first.close();
  expect(poolInfo().contexts).toBe(started.contexts - 1);
  expect(await b.read(buffer, 8192)).toBe(4096);
  expect(buffer.equals(content.subarray(8192, 12288))).toBe(true);
  // Same threads, same pool: closing a context neither stops nor restarts it.
  expect(poolInfo().threads).toBe(started.threads);
  expect(poolInfo().starts).toBe(started.starts);
  await b.close();
});

it('threadpool: an explicit workers option resizes the running pool; a default never overrides it', async () => {
  const aio = newAio({ workers: 3 });
  const file = aio.open(tempFile(pattern(4096)));
  expect(await file.read(Buffer.alloc(4096), 0)).toBe(4096);
  expect(poolInfo().workers).toBe(3);
  const bigger = newAio({ workers: 6 });
  const other = bigger.open(tempFile(pattern(4096)));
  expect(await other.read(Buffer.alloc(4096), 0)).toBe(4096);
  expect(poolInfo().workers).toBe(6);
  expect(poolInfo().threads).toBeGreaterThanOrEqual(6);
  newAio(); // default options: the explicit size stays
  expect(poolInfo().workers).toBe(6);
  const smaller = newAio({ workers: 2 });
  const third = smaller.open(tempFile(pattern(4096)));
  // Surplus threads park; IO keeps flowing through the two that work.
  const reads = Array.from({ length: 20 }, (_, i) => third.read(Buffer.alloc(64), i * 64));
  expect(await Promise.all(reads)).toEqual(Array.from({ length: 20 }, () => 64));
  expect(poolInfo().workers).toBe(2);
  await Promise.all([file.close(), other.close(), third.close()]);
});

it('threadpool: bad options are usage errors at once', () => {
  expect(() => threadpool({ workers: 0 })).toThrow(AioUsageError);
  expect(() => threadpool({ workers: 33 })).toThrow(/workers must be an integer from 1 to 32/);
  expect(() => threadpool({ workers: 2.5 })).toThrow(AioUsageError);
  expect(() => threadpool({ queueSize: 0 })).toThrow(/queueSize/);
  expect(() => threadpool({ queueSize: 1025 })).toThrow(AioUsageError);
  expect(() => threadpool({ threads: 4 } as never)).toThrow(/unknown threadpool option "threads"/);
  expect(() => threadpool(null as never)).toThrow(AioUsageError);
});

it('threadpool: the default size is four threads per CPU, at least 16 and at most 32', () => {
  expect(defaultWorkerCount()).toBe(Math.min(32, Math.max(16, 4 * availableParallelism())));
  expect(defaultWorkerCount()).toBeGreaterThanOrEqual(16);
  expect(defaultWorkerCount()).toBeLessThanOrEqual(32);
});

it('threadpool: AIO_THREADPOOL_WORKERS sets the default pool size, and a bad value is a usage error', () => {
  const source = `
    import { Aio } from '@aio/core';
    import { threadpool, poolInfo } from '@aio/threadpool';
    import { writeFileSync } from 'node:fs';
    const path = ${JSON.stringify(tempFile(pattern(4096)))};
    try {
      const aio = new Aio({ method: threadpool() });
      const file = aio.open(path);
      await file.read(Buffer.alloc(16), 0);
      console.log(JSON.stringify(poolInfo()));
      await file.close();
      await aio.close();
    } catch (error) {
      console.log(JSON.stringify({ error: error.code, message: error.message }));
    }
  `;
  const good = runScript(source, { AIO_THREADPOOL_WORKERS: '5' });
  expect(good.stderr).toBe('');
  expect(JSON.parse(good.stdout)).toMatchObject({ workers: 5, threads: 5 });
  const bad = runScript(source, { AIO_THREADPOOL_WORKERS: 'many' });
  expect(JSON.parse(bad.stdout)).toMatchObject({ error: 'AIO_ERR_INVALID_OPTION' });
  expect(JSON.parse(bad.stdout).message).toMatch(/AIO_THREADPOOL_WORKERS/);
});

it('threadpool: probe() is available here and says what it runs', () => {
  const result = probe();
  expect(result.available).toBe(true);
  expect(result.reason).toMatch(/native worker pool \(\d+ threads, queue \d+\)/);
  expect(method).toBe(threadpool);
  expect(methodName).toBe('threadpool');
  expect(threadpool().name).toBe('threadpool');
  expect(threadpool().probe().available).toBe(true);
});
