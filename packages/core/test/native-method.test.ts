import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'vitest';
import { Aio, AioReturn, AioWaitRef, allocAligned, type AioFile, type AioMethodFactory } from '../src/index.js';
import { AIO_DISPOSITION, AIO_SUBMIT_STRIDE, NativeMethod, type AioNativeBinding } from '../src/method.js';

/**
 * A binding written in JavaScript that behaves like a native method: it
 * records what `submit` decoded, keeps accepted IOs in flight, and fills the
 * completion table when the test says so.
 */
class FakeBinding implements AioNativeBinding {
  words!: Float64Array;
  completions!: Int32Array;
  onComplete!: (count: number) => void;
  submitted: { words: number[]; views: ArrayBufferView[] }[] = [];
  pending: [index: number, generation: number, length: number][] = [];
  disposition = AIO_DISPOSITION.accepted as number;
  closed = false;

  probe() {
    return { available: true, reason: 'fake' };
  }
  create(_options: object, words: Float64Array, completions: Int32Array, onComplete: (count: number) => void) {
    this.words = words;
    this.completions = completions;
    this.onComplete = onComplete;
    return {};
  }
  submit(_context: object, count: number, views: readonly ArrayBufferView[]): void {
    for (let i = 0; i < count; i++) {
      const w = Array.from(this.words.subarray(i * AIO_SUBMIT_STRIDE, (i + 1) * AIO_SUBMIT_STRIDE));
      this.submitted.push({ words: w, views: views.slice(w[7], w[7] + w[8]) });
      this.words[i * AIO_SUBMIT_STRIDE + 9] = this.disposition;
      if (this.disposition === AIO_DISPOSITION.accepted) this.pending.push([w[1], w[2], w[6]]);
    }
  }
  /** Moves every pending IO to the completion table, as a native drain does. */
  drain(): number {
    this.pending.forEach(([index, generation, length], i) => this.completions.set([index, generation, length], 3 * i));
    const count = this.pending.length;
    this.pending = [];
    return count;
  }
  poll(): number {
    return this.drain();
  }
  wait(): number {
    return this.drain();
  }
  stats() {
    return { fake: 1 };
  }
  close(): void {
    this.closed = true;
  }
}

let dir: string;
let binding: FakeBinding;
let aio: Aio;
let file: AioFile;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-native-'));
  fs.writeFileSync(path.join(dir, 'f'), Buffer.alloc(8192, 7));
  binding = new FakeBinding();
  const factory: AioMethodFactory = {
    name: 'io_uring',
    probe: () => binding.probe(),
    create: (host, context) =>
      new NativeMethod(
        binding,
        { name: 'io_uring', waitOnFileBeforeClose: true, options: {}, capabilities: { ops: [], direct: true, vectored: true, maxDepth: 64, completesOnOtherThread: false, fileKind: 'fd' } },
        host,
        context,
      ),
  };
  aio = new Aio({ method: factory, maxConcurrency: 8 });
  file = aio.open(path.join(dir, 'f'));
});

afterEach(async () => {
  await aio.close();
  assert.ok(binding.closed);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('core: the native method contract', () => {
  it('core: submit encodes op, handle, generation, fd, offset, length and views into the table', () => {
    // Memory that cannot be detached reaches the addon as it is (zero copy).
    const a = allocAligned(100);
    const b = [new Uint8Array(new SharedArrayBuffer(10)), new DataView(allocAligned(6).buffer, 0, 6)];
    aio.batch(() => {
      const h1 = aio.acquire();
      h1.startRead(file, a, 4096, 50);
      const h2 = aio.acquire();
      h2.startReadv(file, b, 12);
    });
    assert.equal(binding.submitted.length, 2);
    const [first, second] = binding.submitted;
    assert.deepEqual(first.words.slice(0, 9), [1, first.words[1], first.words[2], 0, file.fd, 4096, 50, 0, 1]);
    assert.equal(first.views[0], a);
    assert.deepEqual(second.words.slice(3, 9), [0, file.fd, 12, 16, 1, 2]);
    assert.deepEqual(second.views, b);
    binding.onComplete(binding.drain());
  });

  it('core: completions from the table are delivered to their handles in bulk', async () => {
    const rets = [new AioReturn(), new AioReturn()];
    const refs = [new AioWaitRef(), new AioWaitRef()];
    aio.batch(() => {
      for (let i = 0; i < 2; i++) {
        const h = aio.acquire(rets[i]);
        h.getWaitRef(refs[i]);
        h.startRead(file, Buffer.alloc(64), i * 64);
      }
    });
    const waiting = Promise.all(refs.map((r) => r.wait()));
    binding.onComplete(binding.drain());
    await waiting;
    assert.deepEqual(rets.map((r) => r.result.status), ['ok', 'ok']);
  });

  it('core: an IO the addon refuses runs synchronously and is counted as a fallback', () => {
    binding.disposition = AIO_DISPOSITION.queueFull;
    const ret = new AioReturn();
    const buffer = Buffer.alloc(10);
    aio.acquire(ret).startRead(file, buffer, 0);
    assert.equal(ret.result.status, 'ok');
    assert.ok(buffer.equals(Buffer.alloc(10, 7)));
    assert.equal(aio.stats().fallbacks, 1);
    assert.deepEqual(aio.stats().methodStats, { fake: 1 });
  });

  it('core: waitSync asks the addon to wait and processes what it drained', () => {
    const ret = new AioReturn();
    const ref = new AioWaitRef();
    const h = aio.acquire(ret);
    h.getWaitRef(ref);
    h.startRead(file, Buffer.alloc(10), 0);
    ref.waitSync();
    assert.equal(ret.result.status, 'ok');
  });
});
