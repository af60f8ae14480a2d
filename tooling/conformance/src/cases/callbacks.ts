/** Callbacks by id: order, result transformation, local results, errors (X5, X6). */
import assert from 'node:assert/strict';
import { AioIoError, AioResult, AioReturn, AioUsageError, AioWaitRef, defineAioCallbacks, type AioHandle } from '@aio/core';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { pattern } from '../util.js';

const BLOCK = 512;

/**
 * A storage-manager-like layer, as PostgreSQL's md.c: turns bytes into
 * blocks, and a read of less than one block into an error with its own
 * report ("read only N of M bytes").
 */
const blocks = defineAioCallbacks({
  name: 'test-blocks',
  completeShared(handle: AioHandle, prior: AioResult): AioResult {
    if (prior.status === 'error') return prior;
    const done = Math.floor(prior.result / BLOCK);
    const next = new AioResult().assign(prior);
    if (done === 0) {
      next.status = 'error';
      next.errorData = prior.result;
      next.id = blocks;
    } else {
      next.status = done * BLOCK < handle.length ? 'partial' : 'ok';
    }
    next.result = done;
    return next;
  },
  report(ret: AioReturn): AioIoError {
    return new AioIoError({
      code: 'EIO',
      syscall: 'read',
      path: ret.target.path,
      target: ret.target.describe(),
      method: ret.target.method,
      detail: `could not read blocks: read only ${ret.result.errorData} of ${ret.target.length} bytes`,
    });
  },
});

function startWithCallbacks(
  aio: import('@aio/core').Aio,
  file: import('@aio/core').AioFile,
  ids: number[],
  buffer: Buffer,
  offset: number,
): { ret: AioReturn; ref: AioWaitRef } {
  const ret = new AioReturn();
  const ref = new AioWaitRef();
  const handle = aio.acquire(ret);
  ids.forEach((id, i) => handle.registerCallbacks(id, i + 10));
  handle.getWaitRef(ref);
  handle.startRead(file, buffer, offset);
  return { ret, ref };
}

export function defineCallbackCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'callbacks run last-registered first in every phase, local after all shared (X6)', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    const trace: string[] = [];
    const make = (name: string): number =>
      defineAioCallbacks({
        name,
        stage: (_h, data) => void trace.push(`stage ${name} ${data}`),
        completeShared: (_h, prior, data) => (trace.push(`shared ${name} ${data}`), prior),
        completeLocal: (_h, prior, data) => (trace.push(`local ${name} ${data}`), prior),
      });
    const [a, b, c] = [make('a'), make('b'), make('c')];
    const { ref, ret } = startWithCallbacks(aio, file, [a, b, c], Buffer.alloc(100), 0);
    await ref.wait();
    assert.equal(ret.result.status, 'ok');
    assert.deepEqual(trace, ['stage c 12', 'stage b 11', 'stage a 10', 'shared c 12', 'shared b 11', 'shared a 10', 'local c 12', 'local b 11', 'local a 10']);
    await file.close();
  });

  defineCase(h, m, 'shared callbacks shape what everyone sees; local results reach only the issuer (X6)', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    let sharedSeenByLocal: string | undefined;
    const id = defineAioCallbacks({
      name: 'warn-then-annotate',
      completeShared(_h, prior) {
        const next = new AioResult().assign(prior);
        next.status = 'warning';
        next.errorData = 7;
        return next;
      },
      completeLocal(handle, prior) {
        sharedSeenByLocal = `${handle.distilled.status}/${handle.distilled.errorData}`;
        const next = new AioResult().assign(prior);
        next.errorData = 99;
        return next;
      },
    });
    const { ref, ret } = startWithCallbacks(aio, file, [id], Buffer.alloc(100), 0);
    await ref.wait();
    assert.equal(sharedSeenByLocal, 'warning/7', 'local callbacks start from the shared result');
    assert.equal(ret.result.status, 'warning');
    assert.equal(ret.result.errorData, 99, 'the issuer gets the local result');
    await file.close();
  });

  defineCase(h, m, 'a layer callback turns a short read into blocks, and less than a block into its own error', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(pattern(1300, 1)));
    const full = startWithCallbacks(aio, file, [blocks], Buffer.alloc(1024), 0);
    const short = startWithCallbacks(aio, file, [blocks], Buffer.alloc(1024), 512);
    const tiny = startWithCallbacks(aio, file, [blocks], Buffer.alloc(1024), 1200);
    for (const io of [full, short, tiny]) await io.ref.wait();
    assert.deepEqual([full.ret.result.status, full.ret.result.result], ['ok', 2]);
    assert.deepEqual([short.ret.result.status, short.ret.result.result], ['partial', 1]);
    assert.equal(tiny.ret.result.status, 'error');
    assert.throws(
      () => aio.reportResult(tiny.ret),
      (e: unknown) => e instanceof AioIoError && e.code === 'EIO' && /read only 100 of 1024 bytes/.test(e.message),
    );
    await file.close();
  });

  defineCase(h, m, 'a throwing completion callback becomes an error result, never a crash or a lost completion', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    const boom = new Error('boom');
    const id = defineAioCallbacks({
      name: 'throws',
      completeShared() {
        throw boom;
      },
    });
    const { ref, ret } = startWithCallbacks(aio, file, [id], Buffer.alloc(100), 0);
    await ref.wait();
    assert.equal(ret.result.status, 'error');
    assert.equal(ret.result.id, id);
    assert.equal(ret.cause, boom);
    assert.throws(() => ret.throwIfError(), (e: unknown) => e instanceof AioIoError && e.code === 'AIO_CALLBACK_FAILED' && e.cause === boom);
    assert.equal(aio.stats().inFlight, 0);
    assert.equal(await file.read(Buffer.alloc(10), 0), 10, 'the context keeps working');
    await file.close();
  });

  defineCase(h, m, 'a throwing stage callback fails the IO without executing it', async (fx) => {
    const aio = fx.aio();
    const filePath = fx.path(pattern(4096, 2));
    const file = aio.open(filePath, { read: true, write: true });
    const id = defineAioCallbacks({
      name: 'stage-throws',
      stage() {
        throw new Error('no');
      },
      completeLocal: (_h, prior) => prior,
    });
    const ret = new AioReturn();
    const ref = new AioWaitRef();
    const handle = aio.acquire(ret);
    handle.registerCallbacks(id);
    handle.getWaitRef(ref);
    handle.startWrite(file, Buffer.alloc(4096), 0);
    await ref.wait();
    assert.equal(ret.result.status, 'error');
    assert.ok(fx.read(filePath).equals(pattern(4096, 2)), 'the write must not have happened');
    await file.close();
  });

  defineCase(h, m, 'handle data is one array per IO, shared by all its callbacks', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    const seen: number[][] = [];
    const ids = [0, 1].map((n) =>
      defineAioCallbacks({ name: `data-${n}`, completeShared: (handle, prior) => (seen.push([...handle.getHandleData()]), prior) }),
    );
    const ret = new AioReturn();
    const ref = new AioWaitRef();
    const handle = aio.acquire(ret);
    ids.forEach((id) => handle.registerCallbacks(id));
    handle.setHandleData([3, 1, 4]);
    assert.throws(() => handle.setHandleData([1]), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_HANDLE_DATA');
    handle.getWaitRef(ref);
    handle.startRead(file, Buffer.alloc(10), 0);
    await ref.wait();
    assert.deepEqual(seen, [[3, 1, 4], [3, 1, 4]]);
    await file.close();
  });

  defineCase(h, m, 'a fifth callback, an unknown id and late registration are usage errors (X5)', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    const id = defineAioCallbacks({ name: 'noop', completeShared: (_h, prior) => prior });
    const handle = aio.acquire();
    for (let i = 0; i < 4; i++) handle.registerCallbacks(id, i);
    assert.throws(() => handle.registerCallbacks(id), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_TOO_MANY_CALLBACKS');
    assert.throws(() => handle.registerCallbacks(9999), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_UNKNOWN_CALLBACK');
    const ref = handle.getWaitRef();
    handle.startRead(file, Buffer.alloc(10), 0);
    assert.throws(() => handle.registerCallbacks(id), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_HANDLE_STATE');
    await ref.wait();
    assert.throws(() => defineAioCallbacks({ name: 'nothing' }), (e: unknown) => e instanceof AioUsageError);
    await file.close();
  });
}
