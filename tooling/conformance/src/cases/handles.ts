/**
 * Handle semantics: PostgreSQL's test_aio single-process cases (notes §9.2,
 * ids H*, B*, C*, I* in the names) and the invariants X1–X15 of §9.5.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { AioReturn, AioUsageError, AioWaitRef } from '@aio/core';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import { canWaitSync, type MethodUnderTest } from '../methods.js';
import { runOp, startOp } from '../ops.js';
import { callbackAttempt, pattern } from '../util.js';

function usageError(code: string): (error: unknown) => boolean {
  return (error) => error instanceof AioUsageError && error.code === code;
}

/** Collects process warnings emitted while `fn` runs. */
async function warningsDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (warning: Error): void => {
    seen.push(`${(warning as { code?: string }).code ?? ''} ${warning.message}`);
  };
  process.on('warning', listener);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

export function defineHandleCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'a handle leaked at close is released with a "leaked AIO handle" warning (H1-H4)', async (fx) => {
    const aio = fx.aio();
    const ret = new AioReturn();
    aio.acquire(ret);
    const warnings = await warningsDuring(() => aio.close());
    assert.ok(warnings.some((w) => w.includes('AIO_LEAKED_HANDLE') && w.includes('leaked AIO handle')), `warnings: ${warnings.join(' | ')}`);
    assert.equal(ret.result.status, 'unknown', 'the leaked handle must not write into the return object (X10)');
  });

  defineCase(h, m, 'release after the IO was started is "release in unexpected state" (H5)', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(100));
    const handle = aio.acquire();
    handle.startRead(file, Buffer.alloc(10), 0);
    assert.throws(() => handle.release(), usageError('AIO_ERR_HANDLE_STATE'));
    aio.submitStaged();
    await file.close();
  });

  defineCase(h, m, 'acquire and release in a row is clean and bumps the generation (H6, H7, X2)', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 1 });
    const first = aio.acquire();
    const generation = first.generation;
    first.release();
    const second = aio.acquire();
    assert.equal(second, first, 'with one handle, the same handle comes back');
    assert.equal(second.generation, generation + 1, 'release without defining an IO still bumps the generation');
    assert.equal(second.state, 'handed-out');
    second.release();
    assert.equal(aio.inspect().length, 0);
  });

  defineCase(h, m, 'a second acquire while one handle is handed out is an API violation (H8)', async (fx) => {
    const aio = fx.aio();
    const handle = aio.acquire();
    assert.throws(() => aio.acquire(), (e: unknown) => usageError('AIO_ERR_HANDLE_HANDED_OUT')(e) && /only one IO can be handed out/.test((e as Error).message));
    assert.throws(() => aio.tryAcquire(), usageError('AIO_ERR_HANDLE_HANDED_OUT'));
    handle.release();
  });

  defineCase(h, m, 'after an error while holding a handle, release and a later acquire work (H9-H11)', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(100));
    const handle = aio.acquire();
    assert.throws(() => handle.startRead(file, Buffer.alloc(10), -1), usageError('AIO_ERR_OUT_OF_RANGE'));
    // As PostgreSQL's error cleanup does, the refused start gave the handed-out handle back.
    assert.equal(handle.state, 'idle', 'a rejected start gives the handle back');
    assert.throws(() => handle.release(), usageError('AIO_ERR_HANDLE_STATE'));
    aio.acquire().release();
    const ret = await runOp(aio, file, { op: 'read', buffer: Buffer.alloc(10), offset: 0 });
    assert.equal(ret.result.status, 'ok');
    await file.close();
  });

  defineCase(h, m, 'a batch left open at close is submitted with a warning (B1, B2)', async (fx) => {
    const aio = fx.aio();
    const filePath = fx.path(4096);
    const file = aio.open(filePath, { read: true, write: true });
    aio.enterBatchMode();
    const { ret } = startOp(aio, file, { op: 'write', buffer: pattern(4096, 77), offset: 0 });
    const warnings = await warningsDuring(() => aio.close());
    assert.ok(warnings.some((w) => w.includes('AIO_OPEN_BATCH')), `warnings: ${warnings.join(' | ')}`);
    assert.equal(ret.result.status, 'ok', 'the staged write was submitted and completed');
    assert.ok(fx.read(filePath).equals(pattern(4096, 77)));
  });

  defineCase(h, m, 'a batch started and ended in one go leaves no warning (B4)', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    const warnings = await warningsDuring(async () => {
      aio.enterBatchMode();
      const { ref } = startOp(aio, file, { op: 'read', buffer: Buffer.alloc(100), offset: 0 });
      aio.exitBatchMode();
      await ref.wait();
      await file.close();
    });
    assert.deepEqual(warnings, []);
  });

  defineCase(h, m, 'closing a file in batch mode submits its staged IO first, and waiting then works (C1, X12)', async (fx) => {
    const aio = fx.aio();
    const content = pattern(8192, 4);
    const file = aio.open(fx.path(content));
    aio.enterBatchMode();
    const buffer = Buffer.alloc(8192);
    const { ref, ret } = startOp(aio, file, { op: 'read', buffer, offset: 0 });
    await file.close();
    await ref.wait();
    aio.exitBatchMode();
    assert.equal(ret.result.status, 'ok');
    assert.ok(buffer.equals(content));
  });

  defineCase(h, m, 'closing a file with unwaited IO and reading another file afterwards works (C2)', async (fx) => {
    const aio = fx.aio();
    const first = aio.open(fx.path(8192));
    aio.enterBatchMode();
    const { ret } = startOp(aio, first, { op: 'read', buffer: Buffer.alloc(8192), offset: 0 });
    await first.close();
    aio.exitBatchMode();
    const second = aio.open(fx.path(pattern(4096, 8)));
    const buffer = Buffer.alloc(4096);
    assert.equal(await second.read(buffer, 0), 4096);
    assert.ok(buffer.equals(pattern(4096, 8)));
    await second.close();
    assert.equal(ret.result.status, 'ok');
  });

  defineCase(h, m, 'an unwaited read of a file that is then unlinked completes without error (I1, I2)', async (fx) => {
    const aio = fx.aio();
    const filePath = fx.path(pattern(8192, 12));
    const file = aio.open(filePath);
    const buffer = Buffer.alloc(8192);
    const { ref, ret } = startOp(aio, file, { op: 'read', buffer, offset: 0 });
    fs.unlinkSync(filePath);
    await ref.wait();
    assert.equal(ret.result.status, 'ok');
    assert.ok(buffer.equals(pattern(8192, 12)));
    await file.close();
  });

  defineCase(h, m, 'waiting on a recycled reference returns at once and isDone is true (X1, X15)', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 1 });
    const file = aio.open(fx.path(4096));
    const { ref } = startOp(aio, file, { op: 'read', buffer: Buffer.alloc(10), offset: 0 });
    await ref.wait();
    const again = await runOp(aio, file, { op: 'read', buffer: Buffer.alloc(10), offset: 10 });
    assert.equal(again.result.status, 'ok');
    assert.ok(ref.isDone(), 'a recycled reference is done');
    ref.waitSync();
    await ref.wait();
    await file.close();
  });

  defineCase(h, m, 'the owner waiting on its own unsubmitted IO is a usage error (X7)', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    aio.enterBatchMode();
    const { ref } = startOp(aio, file, { op: 'read', buffer: Buffer.alloc(10), offset: 0 });
    assert.equal(ref.isDone(), m.name === 'sync', 'isDone never blocks and never throws');
    if (m.name !== 'sync') {
      assert.throws(() => ref.waitSync(), usageError('AIO_ERR_WAIT_UNSUBMITTED'));
      assert.throws(() => ref.wait(), usageError('AIO_ERR_WAIT_UNSUBMITTED'));
    }
    aio.exitBatchMode();
    if (canWaitSync(m.name)) {
      ref.waitSync();
    } else {
      // A method that cannot block for its IO says so instead of hanging.
      assert.throws(() => ref.waitSync(), usageError('AIO_ERR_CANNOT_WAIT'));
      await ref.wait();
    }
    assert.ok(ref.isDone());
    await file.close();
  });

  defineCase(h, m, 'with every handle in flight, acquire waits for the oldest IO and then succeeds (X8)', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 4 });
    const file = aio.open(fx.path(pattern(65536, 3)));
    const slots = Array.from({ length: 4 }, () => ({ ret: new AioReturn(), ref: new AioWaitRef(), buffer: Buffer.alloc(4096) }));
    aio.batch(() => {
      for (const [i, slot] of slots.entries()) {
        const handle = aio.acquire(slot.ret);
        handle.getWaitRef(slot.ref);
        handle.startRead(file, slot.buffer, i * 4096);
      }
    });
    if (canWaitSync(m.name)) {
      const extra = aio.acquire();
      assert.ok(slots[0].ref.isDone(), 'the oldest IO completed to free a handle');
      assert.equal(slots[0].ret.result.status, 'ok');
      extra.release();
      for (const slot of slots) slot.ref.waitSync();
    } else {
      // A method that cannot block (libuv) refuses the blocking acquire at once and hands out nothing;
      // tryAcquire says null, and once the IOs completed (awaited) acquire succeeds again.
      assert.throws(() => aio.acquire(), usageError('AIO_ERR_CANNOT_WAIT'));
      assert.equal(aio.tryAcquire(), null);
      for (const slot of slots) await slot.ref.wait();
      aio.acquire().release();
    }
    for (const [i, slot] of slots.entries()) assert.ok(slot.buffer.equals(pattern(65536, 3).subarray(i * 4096, (i + 1) * 4096)));
    await file.close();
  });

  defineCase(h, m, 'IO cannot be started from inside a completion callback (the X9 guard)', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 1 });
    const file = aio.open(fx.path(100));
    const acquiring = callbackAttempt('acquire-inside', () => aio.acquire());
    const ret = new AioReturn();
    const ref = new AioWaitRef();
    const handle = aio.acquire(ret);
    handle.registerCallbacks(acquiring.id);
    handle.getWaitRef(ref);
    handle.startRead(file, Buffer.alloc(10), 0);
    await ref.wait();
    assert.ok(usageError('AIO_ERR_IN_CALLBACK')(acquiring.error), `acquire inside a callback threw ${String(acquiring.error)}`);
    assert.equal(ret.result.status, 'ok');
    await file.close();
  });

  defineCase(h, m, 'a references-local IO runs synchronously on methods that execute elsewhere (X14)', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(pattern(4096, 6)));
    const before = aio.stats().synchronous;
    const ret = new AioReturn();
    const ref = new AioWaitRef();
    const handle = aio.acquire(ret);
    handle.setFlag('references-local');
    handle.getWaitRef(ref);
    const buffer = Buffer.alloc(4096);
    handle.startRead(file, buffer, 0);
    if (aio.capabilities.completesOnOtherThread) {
      assert.ok(ref.isDone(), 'a references-local IO completes before start returns');
      assert.equal(aio.stats().synchronous, before + 1);
    }
    await ref.wait();
    assert.equal(ret.result.status, 'ok');
    assert.ok(buffer.equals(pattern(4096, 6)));
    await file.close();
  });

  defineCase(h, m, 'the synchronous flag makes the IO complete before start returns', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(pattern(4096, 6)));
    const ret = new AioReturn();
    const ref = new AioWaitRef();
    const handle = aio.acquire(ret);
    handle.setFlag('synchronous');
    handle.getWaitRef(ref);
    handle.startRead(file, Buffer.alloc(100), 0);
    assert.ok(ref.isDone());
    assert.equal(ret.result.status, 'ok');
    await file.close();
  });

  defineCase(h, m, 'inspect shows handed-out and staged handles like pg_aios, and nothing when idle', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    const handle = aio.acquire();
    handle.setFlag('buffered');
    let rows = aio.inspect();
    assert.equal(rows.length, 1);
    assert.equal(rows[0].state, 'handed-out');
    assert.equal(rows[0].op, undefined, 'a handed-out handle shows no op, like pg_aios');
    assert.equal(rows[0].flags.buffered, true);
    if (m.name !== 'sync') {
      const ref = handle.getWaitRef();
      aio.enterBatchMode();
      handle.startRead(file, Buffer.alloc(100), 5);
      rows = aio.inspect();
      assert.equal(rows.length, 1);
      assert.deepEqual({ state: rows[0].state, op: rows[0].op, offset: rows[0].offset, length: rows[0].length }, { state: 'staged', op: 'read', offset: 5, length: 100 });
      assert.match(rows[0].target ?? '', /read of 100 bytes at offset 5 in file/);
      aio.exitBatchMode();
      await ref.wait();
    } else {
      handle.release();
    }
    const stats = aio.stats();
    assert.equal(stats.method, m.name);
    assert.equal(stats.handedOut, 0);
    await file.close();
  });
}
