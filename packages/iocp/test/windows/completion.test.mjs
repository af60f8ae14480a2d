// Completions: through the port, or by the submitter in skip mode; reaped in batches.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { AioReturn, AioWaitRef } from '@aio/core';
import { withFixture, pattern, skipReason } from './helpers.mjs';

/** 64 writes then 64 reads of 4 KiB in one batch each, checked. */
async function roundTrip(aio, file) {
  const refs = aio.batch(() =>
    Array.from({ length: 64 }, (_, i) => {
      const ref = new AioWaitRef();
      const handle = aio.acquire();
      handle.getWaitRef(ref);
      handle.startWrite(file, pattern(4096, i), i * 4096);
      return ref;
    }),
  );
  await Promise.all(refs.map((ref) => ref.wait()));
  const reads = aio.batch(() =>
    Array.from({ length: 64 }, (_, i) => {
      const slot = { ref: new AioWaitRef(), ret: new AioReturn(), buffer: Buffer.alloc(4096) };
      const handle = aio.acquire(slot.ret);
      handle.getWaitRef(slot.ref);
      handle.startRead(file, slot.buffer, i * 4096);
      return slot;
    }),
  );
  await Promise.all(reads.map((slot) => slot.ref.wait()));
  reads.forEach((slot, i) => {
    assert.equal(slot.ret.result.status, 'ok');
    assert.ok(slot.buffer.equals(pattern(4096, i)), `block ${i}`);
  });
}

describe('iocp completions', { skip: skipReason }, () => {
  for (const skip of [true, false]) {
    it(`iocp: IO round-trips with FILE_SKIP_COMPLETION_PORT_ON_SUCCESS ${skip ? 'on' : 'off'}, and every transfer finishes exactly once`, async () => {
      await withFixture(async (fx) => {
        const aio = fx.aio({ maxConcurrency: 64 }, { skipCompletionPortOnSuccess: skip });
        const file = aio.open(fx.file('f'), { read: true, write: true, create: true });
        await roundTrip(aio, file);
        const stats = aio.stats().methodStats;
        assert.equal(stats.skipCompletionPortOnSuccess, skip ? 1 : 0);
        assert.equal(stats.submitted, 128);
        assert.equal(stats.transfers, 128);
        assert.equal(stats.finishedInline + stats.finishedByPort, 128, JSON.stringify(stats));
        // Without skip mode a transfer can only finish inline by failing at once.
        if (!skip) assert.equal(stats.finishedInline, 0);
        assert.ok(stats.reaps >= 1 && stats.reaps <= stats.finishedByPort, JSON.stringify(stats));
        assert.ok(stats.largestReap >= 1 && stats.largestReap <= 64);
      });
    });
  }

  it('iocp: an idle context with an open file does not keep the process alive', async () => {
    await withFixture(async (fx) => {
      // The child does one write and then nothing: it must exit on its own.
      const script = `
        const { Aio } = await import(${JSON.stringify(import.meta.resolve('@aio/core'))});
        const { iocp } = await import(${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)});
        const aio = new Aio({ method: iocp() });
        const file = aio.open(${JSON.stringify(fx.file('f'))}, { read: true, write: true, create: true });
        await file.write(Buffer.from('idle'), 0);
      `;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(child.error, undefined, 'the child did not exit by itself within 30 s');
      assert.equal(child.status, 0, child.stderr);
      assert.equal(fs.readFileSync(fx.file('f'), 'utf8'), 'idle');
    });
  });

  it('iocp: fsync and fdatasync run FlushFileBuffers on a worker and complete through the queue', async () => {
    await withFixture(async (fx) => {
      const aio = fx.aio();
      const file = aio.open(fx.file('f'), { read: true, write: true, create: true, dsync: true });
      await file.write(pattern(8192, 3), 0);
      await Promise.all([file.sync(), file.datasync(), file.sync()]);
      assert.equal(aio.stats().methodStats.flushes, 3);
    });
  });

  it('iocp: a waitSync blocks on the reaper and sees the completion', async () => {
    await withFixture(async (fx) => {
      const aio = fx.aio();
      const file = aio.open(fx.file('f'), { read: true, write: true, create: true });
      const ret = new AioReturn();
      const ref = new AioWaitRef();
      const handle = aio.acquire(ret);
      handle.getWaitRef(ref);
      handle.startWrite(file, pattern(65536, 9), 1 << 20);
      ref.waitSync();
      assert.equal(ret.result.status, 'ok');
      assert.equal(ret.result.result, 65536);
    });
  });
});
