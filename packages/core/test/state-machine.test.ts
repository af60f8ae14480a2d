import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'vitest';
import { Aio, AioHandle, AioReturn, AioWaitRef, AioUsageError, isNonDetachable, type AioFile, type AioIoView } from '../src/index.js';
import { assertQuiescent } from '../src/testing.js';
import { scripted, type ScriptedMethod } from './fake-method.js';

let dir: string;
let aio: Aio;
let method: ScriptedMethod;
let file: AioFile;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-core-'));
  fs.writeFileSync(path.join(dir, 'f'), Buffer.alloc(65536, 1));
  const factory = scripted();
  aio = new Aio({ method: factory, maxConcurrency: 4 });
  method = factory.created as ScriptedMethod;
  file = aio.open(path.join(dir, 'f'));
});

afterEach(async () => {
  for (const handle of [...method.inFlight]) method.complete(handle, handle.length);
  assertQuiescent(aio);
  await aio.close();
  assert.ok(method.closed, 'close() frees the method');
  fs.rmSync(dir, { recursive: true, force: true });
});

function start(offset: number): { ret: AioReturn; ref: AioWaitRef } {
  const ret = new AioReturn();
  const ref = new AioWaitRef();
  const handle = aio.acquire(ret);
  handle.getWaitRef(ref);
  handle.startRead(file, Buffer.alloc(100), offset);
  return { ret, ref };
}

describe('core: the handle state machine', () => {
  it('core: an IO goes idle → handed-out → staged → submitted → idle, and the generation goes up', () => {
    const ret = new AioReturn();
    const handle = aio.acquire(ret);
    const generation = handle.generation;
    assert.equal(handle.state, 'handed-out');
    const ref = handle.getWaitRef();
    aio.enterBatchMode();
    handle.startRead(file, Buffer.alloc(100), 0);
    assert.equal(handle.state, 'staged');
    aio.exitBatchMode();
    assert.equal(handle.state, 'submitted');
    assert.equal(ref.isDone(), false);
    method.complete(handle, 100);
    assert.equal(handle.state, 'idle');
    assert.equal(handle.generation, generation + 1);
    assert.ok(ref.isDone());
    assert.equal(ret.result.status, 'ok');
    assert.equal(ret.target.describe(), `read of 100 bytes at offset 0 in file ${JSON.stringify(file.path)}`);
  });

  it('core: completions in any order reach the right return objects', () => {
    const ios = [0, 1, 2, 3].map((i) => start(i * 100));
    const handles = [...method.inFlight];
    method.complete(handles[2], 100);
    method.complete(handles[0], -5);
    method.complete(handles[3], 40);
    method.complete(handles[1], 0);
    assert.deepEqual(
      ios.map(({ ret }) => [ret.result.status, ret.result.result]),
      [
        ['error', -5],
        ['error', 0],
        ['ok', 100],
        ['partial', 40],
      ],
    );
  });

  it('core: a Promise wait resolves when the completion is processed, not before', async () => {
    const { ref, ret } = start(0);
    let resolved = false;
    const waiting = ref.wait().then(() => (resolved = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(resolved, false);
    method.complete(method.inFlight[0], 100);
    await waiting;
    assert.equal(ret.result.status, 'ok');
    assert.equal(aio.stats().waits, 1);
  });

  it('core: acquire with every handle in flight waits for the oldest one, with the method\'s waitOne', () => {
    const ios = [0, 1, 2, 3].map((i) => start(i));
    const oldest = method.inFlight[0];
    const extra = aio.acquire();
    assert.ok(ios[0].ref.isDone(), 'the oldest IO was waited for');
    assert.equal(ios[1].ref.isDone(), false, 'only the oldest');
    assert.equal(extra.io, oldest, 'its handle is the one handed out (the method saw its IO view)');
    extra.release();
  });

  it('core: tryAcquire returns null instead of waiting', () => {
    for (let i = 0; i < 4; i++) start(i);
    assert.equal(aio.tryAcquire(), null);
    method.complete(method.inFlight[1], 100);
    const handle = aio.tryAcquire();
    assert.ok(handle !== null);
    handle.release();
  });

  it('core: the method sees at most 32 IOs per submit call', () => {
    const factory = scripted();
    const big = new Aio({ method: factory, maxConcurrency: 100 });
    const m = factory.created as ScriptedMethod;
    const f = big.open(path.join(dir, 'f'));
    big.enterBatchMode();
    for (let i = 0; i < 70; i++) big.acquire().startRead(f, Buffer.alloc(1), i);
    big.exitBatchMode();
    assert.deepEqual(m.submitCalls, [32, 32, 6]);
    for (const handle of [...m.inFlight]) m.complete(handle, 1);
    big.closeSync();
  });

  it('core: a completion for a stale generation is ignored with a warning, never applied', async () => {
    const { ret } = start(0);
    const handle = method.inFlight[0];
    const warnings: string[] = [];
    const listener = (w: Error): void => void warnings.push(w.message);
    process.on('warning', listener);
    method.host.processCompletions(Int32Array.of(handle.index, handle.generation + 1, 100), 1);
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', listener);
    assert.equal(ret.result.status, 'unknown');
    assert.match(warnings.join(), /stale generation/);
    method.complete(handle, 100);
    assert.equal(ret.result.status, 'ok');
  });

  it('core: a submit that throws runs the batch synchronously instead of losing it', () => {
    method.submit = () => {
      throw new Error('ring broke');
    };
    const warnings: string[] = [];
    const listener = (w: Error): void => void warnings.push(w.message);
    process.on('warning', listener);
    const { ret, ref } = start(0);
    process.off('warning', listener);
    assert.ok(ref.isDone());
    assert.equal(ret.result.status, 'ok');
    assert.equal(aio.stats().fallbacks, 1);
  });

  it('core: a method sees a read-only view of each IO, never its handle', () => {
    const { ret } = start(4096);
    const io = method.inFlight[0];
    assert.ok(!(io instanceof AioHandle), 'the method got the IO, not the handle');
    assert.deepEqual([io.opName, io.offset, io.length, io.file], ['read', 4096, 100, file]);
    assert.ok(io.buffer !== null && isNonDetachable(io.buffer), 'a plain Buffer reaches the method as bounce memory');
    assert.equal('ret' in io || 'callbackIds' in io, false, "the handle's return object and callbacks are not reachable");
    assert.throws(() => method.host.prepareSubmit({ ...io, index: io.index } as AioIoView), /not one of this context's IOs/);
    method.complete(io, 100);
    assert.equal(ret.result.status, 'ok');
  });

  it('core: closing a file waits for its in-flight IO when the method asks for it', async () => {
    const { ret } = start(0);
    const closing = file.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, false, 'close waits for the in-flight read');
    method.complete(method.inFlight[0], 100);
    await closing;
    assert.equal(ret.result.status, 'ok');
    const handle = aio.acquire();
    assert.throws(() => handle.startRead(file, Buffer.alloc(1), 0), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_FILE_CLOSED');
    assert.equal(handle.state, 'idle', 'a refused start* gives the handle back');
    aio.acquire().release();
  });
});
