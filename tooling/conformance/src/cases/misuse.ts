/** Misuse from JavaScript throws AioUsageError with a documented code; nothing crashes or hangs. */
import assert from 'node:assert/strict';
import { AioUsageError, defineAioCallbacks, type AioHandle } from '@aio/core';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';

function throwsCode(fn: () => unknown, code: string, what: string): void {
  assert.throws(fn, (e: unknown) => e instanceof AioUsageError && e.code === code, `${what} should throw ${code}`);
}

export function defineMisuseCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'wrong types, bad offsets and lengths beyond the buffer are usage errors', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096), { read: true, write: true });
    const buffer = Buffer.alloc(16);
    // A refused start* gives its handle back, so each gets a fresh one and must leave it idle.
    const starts: [(handle: AioHandle) => unknown, string, string][] = [
      [(handle) => handle.startRead(file, 'nope' as never, 0), 'AIO_ERR_INVALID_TYPE', 'a string buffer'],
      [(handle) => handle.startRead(file, null as never, 0), 'AIO_ERR_INVALID_TYPE', 'a null buffer'],
      [(handle) => handle.startRead({} as never, buffer, 0), 'AIO_ERR_INVALID_TYPE', 'a plain object as file'],
      [(handle) => handle.startRead(file, buffer, -1), 'AIO_ERR_OUT_OF_RANGE', 'a negative offset'],
      [(handle) => handle.startRead(file, buffer, 2 ** 60), 'AIO_ERR_OUT_OF_RANGE', 'a huge offset'],
      [(handle) => handle.startRead(file, buffer, 2n ** 63n), 'AIO_ERR_OUT_OF_RANGE', 'a huge bigint offset'],
      [(handle) => handle.startRead(file, buffer, 1.5), 'AIO_ERR_OUT_OF_RANGE', 'a fractional offset'],
      [(handle) => handle.startRead(file, buffer, NaN), 'AIO_ERR_OUT_OF_RANGE', 'NaN'],
      [(handle) => handle.startRead(file, buffer, '0' as never), 'AIO_ERR_INVALID_TYPE', 'a string offset'],
      [(handle) => handle.startRead(file, buffer, 0, 17), 'AIO_ERR_OUT_OF_RANGE', 'a length beyond the buffer'],
      [(handle) => handle.startRead(file, buffer, 0, -1), 'AIO_ERR_OUT_OF_RANGE', 'a negative length'],
      [(handle) => handle.startReadv(file, [], 0), 'AIO_ERR_OUT_OF_RANGE', 'an empty vector'],
      [(handle) => handle.startReadv(file, [buffer, 5 as never], 0), 'AIO_ERR_INVALID_TYPE', 'a number in a vector'],
      [(handle) => handle.startWritev(file, buffer as never, 0), 'AIO_ERR_INVALID_TYPE', 'a buffer instead of a vector'],
    ];
    for (const [fn, code, what] of starts) {
      const handle = aio.acquire();
      throwsCode(() => fn(handle), code, what);
      assert.equal(handle.state, 'idle', `${what}: the refused start* gave the handle back`);
    }
    const handle = aio.acquire();
    const cases: [() => unknown, string, string][] = [
      [() => handle.setFlag('fast' as never), 'AIO_ERR_INVALID_OPTION', 'an unknown flag'],
      [() => aio.acquire(), 'AIO_ERR_HANDLE_HANDED_OUT', 'a second acquire'],
      [() => aio.acquire({} as never), 'AIO_ERR_INVALID_TYPE', 'a return object that is not an AioReturn'],
      [() => aio.open(42 as never), 'AIO_ERR_INVALID_TYPE', 'a number as path'],
      [() => aio.open(fx.path(), { create: true }), 'AIO_ERR_INVALID_OPTION', 'create without write'],
      [() => aio.open(fx.path(), { reed: true } as never), 'AIO_ERR_INVALID_OPTION', 'a misspelt flag'],
    ];
    for (const [fn, code, what] of cases) throwsCode(fn, code, what);
    assert.equal(handle.state, 'handed-out', 'calls refused before start* leave the handle as it was');
    handle.release();
    // The convenience API rejects, never throws, for the same misuse.
    const promises: [() => Promise<unknown>, string, string][] = [
      [() => file.read(buffer, -5), 'AIO_ERR_OUT_OF_RANGE', 'a negative position'],
      [() => file.write(buffer, 0, { length: 100 }), 'AIO_ERR_OUT_OF_RANGE', 'a convenience length beyond the buffer'],
      [() => file.read(buffer, 0, { signal: 'x' } as never), 'AIO_ERR_INVALID_TYPE', 'a signal that is not an AbortSignal'],
      [() => file.read(buffer, 0, { bogus: 1 } as never), 'AIO_ERR_INVALID_OPTION', 'an unknown option'],
      [() => file.readv([], 0), 'AIO_ERR_OUT_OF_RANGE', 'an empty vector'],
      [() => file.sync({ bogus: 1 } as never), 'AIO_ERR_INVALID_OPTION', 'an unknown sync option'],
    ];
    for (const [fn, code, what] of promises) {
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => (promise = fn()), `${what}: a Promise-returning call must not throw`);
      await assert.rejects(promise as Promise<unknown>, (e: unknown) => e instanceof AioUsageError && e.code === code, what);
    }
    await file.close();
  });

  defineCase(h, m, 'releasing the wrong handle, stale references and reused return objects are handled', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 2 });
    const file = aio.open(fx.path(4096));
    const handle = aio.acquire();
    const ref = handle.getWaitRef();
    handle.startRead(file, Buffer.alloc(10), 0);
    throwsCode(() => handle.release(), 'AIO_ERR_HANDLE_STATE', 'releasing a handle that is not handed out');
    throwsCode(() => handle.getWaitRef(), 'AIO_ERR_HANDLE_STATE', 'a wait reference after start');
    await ref.wait();
    throwsCode(() => handle.startRead(file, Buffer.alloc(1), 0), 'AIO_ERR_HANDLE_STATE', 'reusing a handle after start');
    aio.enterBatchMode();
    const staged = aio.acquire();
    staged.startRead(file, Buffer.alloc(10), 0);
    const current = aio.acquire();
    if (m.name === 'sync') {
      // The sync method completed the read already, and the idle stack is
      // LIFO, so the same handle came back: there is no other handle to release.
      assert.equal(current, staged);
    } else {
      throwsCode(() => staged.release(), 'AIO_ERR_HANDLE_STATE', 'releasing a handle other than the handed-out one');
    }
    current.release();
    throwsCode(() => current.release(), 'AIO_ERR_HANDLE_STATE', 'a double release');
    aio.exitBatchMode();
    await aio.close();
  });

  defineCase(h, m, 'every call after aio.close() is a usage error', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096));
    const handle = aio.acquire();
    const ref = handle.getWaitRef();
    handle.startRead(file, Buffer.alloc(10), 0);
    await ref.wait();
    await aio.close();
    await aio.close(); // idempotent
    const calls: [() => unknown, string][] = [
      [() => aio.acquire(), 'acquire'],
      [() => aio.tryAcquire(), 'tryAcquire'],
      [() => aio.enterBatchMode(), 'enterBatchMode'],
      [() => aio.submitStaged(), 'submitStaged'],
      [() => aio.open(fx.path(1)), 'open'],
      [() => ref.wait(), 'wait'],
      [() => ref.isDone(), 'isDone'],
      [() => handle.setFlag('buffered'), 'setFlag'],
    ];
    const closedError = (e: unknown) => e instanceof AioUsageError && (e.code === 'AIO_ERR_CLOSED' || e.code === 'AIO_ERR_FILE_CLOSED');
    for (const [fn, what] of calls) assert.throws(fn, closedError, what);
    await assert.rejects(file.read(Buffer.alloc(1), 0), closedError, 'file.read rejects');
  });

  defineCase(h, m, 'bad context options and bad callback definitions are usage errors', async () => {
    const { Aio } = await import('@aio/core');
    throwsCode(() => new Aio({ maxConcurrency: 0 }), 'AIO_ERR_OUT_OF_RANGE', 'maxConcurrency 0');
    throwsCode(() => new Aio({ maxConcurrency: 5000 }), 'AIO_ERR_OUT_OF_RANGE', 'maxConcurrency 5000');
    throwsCode(() => new Aio({ method: 'io_uring' as never }), 'AIO_ERR_INVALID_TYPE', 'a method name instead of a factory');
    throwsCode(() => new Aio({ bogus: true } as never), 'AIO_ERR_INVALID_OPTION', 'an unknown option');
    throwsCode(() => defineAioCallbacks(null as never), 'AIO_ERR_INVALID_TYPE', 'null callbacks');
    throwsCode(() => defineAioCallbacks({ name: 'x', stage: 5 as never, completeShared: (_h, p) => p }), 'AIO_ERR_INVALID_TYPE', 'a stage that is not a function');
  });
}
