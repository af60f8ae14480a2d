/** Batch mode: staged IOs go out together; at most 32 are staged (X3, X4). */
import assert from 'node:assert/strict';
import { AioUsageError, type AioReturn, type AioWaitRef } from '@aio/core';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { startOp } from '../ops.js';
import { pattern } from '../util.js';

export function defineBatchCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'batch mode submits what is staged together, in one submit call', async (fx) => {
    const aio = fx.aio();
    const content = pattern(40_960, 21);
    const file = aio.open(fx.path(content));
    const before = aio.stats();
    const ios: { ref: AioWaitRef; ret: AioReturn; buffer: Buffer }[] = [];
    aio.enterBatchMode();
    for (let i = 0; i < 10; i++) {
      const buffer = Buffer.alloc(4096);
      ios.push({ ...startOp(aio, file, { op: 'read', buffer, offset: i * 4096 }), buffer });
    }
    const staged = aio.stats().staged;
    aio.exitBatchMode();
    const after = aio.stats();
    if (m.name === 'sync') {
      assert.equal(staged, 0, 'the sync method runs each IO when it is staged');
    } else {
      assert.equal(staged, 10, 'all ten IOs wait in the batch');
      assert.equal(after.batches - before.batches, 1, 'one submit call for the whole batch');
    }
    await Promise.all(ios.map((io) => io.ref.wait()));
    ios.forEach((io, i) => assert.ok(io.buffer.equals(content.subarray(i * 4096, (i + 1) * 4096))));
    await file.close();
  });

  defineCase(h, m, 'staging more than 32 IOs submits the first 32 at the next acquire (X3)', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 64 });
    const file = aio.open(fx.path(40 * 512));
    const refs: AioWaitRef[] = [];
    aio.enterBatchMode();
    for (let i = 0; i < 33; i++) {
      refs.push(startOp(aio, file, { op: 'read', buffer: Buffer.alloc(512), offset: i * 512 }).ref);
      if (m.name !== 'sync') assert.ok(aio.stats().staged <= 32, 'never more than 32 staged');
    }
    if (m.name !== 'sync') assert.equal(aio.stats().staged, 1, 'the 33rd acquire submitted the first 32');
    aio.exitBatchMode();
    await Promise.all(refs.map((ref) => ref.wait()));
    await file.close();
  });

  defineCase(h, m, 'batch mode cannot be nested, and ending a batch that was not started is an error (X4)', async (fx) => {
    const aio = fx.aio();
    aio.enterBatchMode();
    assert.throws(() => aio.enterBatchMode(), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_BATCH_NESTED');
    aio.exitBatchMode();
    assert.throws(() => aio.exitBatchMode(), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_BATCH_NOT_ACTIVE');
  });

  defineCase(h, m, 'an error inside aio.batch() still submits what was staged', async (fx) => {
    const aio = fx.aio();
    const filePath = fx.path(4096);
    const file = aio.open(filePath, { read: true, write: true });
    let ref: AioWaitRef | undefined;
    assert.throws(() =>
      aio.batch(() => {
        ref = startOp(aio, file, { op: 'write', buffer: pattern(4096, 31), offset: 0 }).ref;
        throw new Error('caller failed mid-batch');
      }),
    );
    assert.equal(aio.inBatchMode, false);
    await ref?.wait();
    assert.ok(fx.read(filePath).equals(pattern(4096, 31)));
    await file.close();
  });
}
