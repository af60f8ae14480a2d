/** The convenience Promise API: node:fs-like results, queueing, AbortSignal. */
import assert from 'node:assert/strict';
import { AioAbortError } from '@aio/core';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { pattern } from '../util.js';
import { runModelWorkload } from '../workload.js';

function isAbort(error: unknown): boolean {
  return error instanceof AioAbortError && error.name === 'AbortError' && error.code === 'ABORT_ERR';
}

export function definePromiseApiCases(h: Harness, m: MethodUnderTest): void {
  defineCase(
    h,
    m,
    'the convenience API reads back exactly what it wrote over 10,000 random operations',
    async (fx) => {
      const aio = fx.aio();
      const file = aio.open(fx.path(), { read: true, write: true, create: true });
      assert.equal(await runModelWorkload(aio, file, 424242, 10_000), 10_000);
      await file.close();
    },
    300_000,
  );

  defineCase(h, m, 'more convenience calls than handles queue up and all complete correctly', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 4 });
    const content = pattern(200 * 4096, 8);
    const file = aio.open(fx.path(content));
    const buffers = Array.from({ length: 200 }, () => Buffer.alloc(4096));
    const counts = await Promise.all(buffers.map((buffer, i) => file.read(buffer, (199 - i) * 4096)));
    assert.ok(counts.every((n) => n === 4096));
    buffers.forEach((buffer, i) => assert.ok(buffer.equals(content.subarray((199 - i) * 4096, (200 - i) * 4096)), `read ${i}`));
    assert.equal(aio.stats().queued, 0);
    await file.close();
  });

  defineCase(h, m, 'an already aborted signal rejects with AbortError and does no IO', async (fx) => {
    const aio = fx.aio();
    const filePath = fx.path(pattern(4096, 1));
    const file = aio.open(filePath, { read: true, write: true });
    const controller = new AbortController();
    controller.abort();
    const before = aio.stats().started;
    await assert.rejects(file.write(Buffer.alloc(4096), 0, { signal: controller.signal }), isAbort);
    await assert.rejects(file.sync({ signal: controller.signal }), isAbort);
    assert.equal(aio.stats().started, before);
    assert.ok(fx.read(filePath).equals(pattern(4096, 1)));
    await file.close();
  });

  defineCase(h, m, 'aborting a call that waits for a handle rejects it and never does the IO', async (fx) => {
    const aio = fx.aio();
    const filePath = fx.path(pattern(4096, 2));
    const file = aio.open(filePath, { read: true, write: true });
    const held = aio.acquire(); // convenience calls queue while a handle is handed out
    const controller = new AbortController();
    const aborted = file.write(Buffer.alloc(4096), 0, { signal: controller.signal });
    const kept = file.read(Buffer.alloc(10), 0);
    assert.equal(aio.stats().queued, 2);
    controller.abort();
    await assert.rejects(aborted, isAbort);
    held.release();
    assert.equal(await kept, 10);
    assert.ok(fx.read(filePath).equals(pattern(4096, 2)), 'the aborted write must not happen');
    await file.close();
  });

  defineCase(h, m, 'aborting an IO the method already has settles with what really happened', async (fx) => {
    const aio = fx.aio();
    const content = pattern(1 << 20, 3);
    const file = aio.open(fx.path(content));
    const outcomes = await Promise.allSettled(
      Array.from({ length: 32 }, async (_, i) => {
        const controller = new AbortController();
        const buffer = Buffer.alloc(32768);
        const pending = file.read(buffer, i * 32768, { signal: controller.signal });
        controller.abort();
        const bytes = await pending;
        assert.ok(buffer.equals(content.subarray(i * 32768, (i + 1) * 32768)), 'a read that was not cancelled has its data');
        return bytes;
      }),
    );
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') assert.equal(outcome.value, 32768);
      else assert.ok(isAbort(outcome.reason), `unexpected rejection: ${String(outcome.reason)}`);
    }
    await file.close();
  });
}
