/** Reads and writes round-trip, and every result equals the sync method's. */
import assert from 'node:assert/strict';
import { AioReturn, AioWaitRef } from '@aio/core';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { runOp, type Op } from '../ops.js';
import { Prng, assertSameResult, bytesOf, pattern } from '../util.js';

const SIZES = [1, 511, 512, 4096, 4097, 65536, 1 << 20];
const OFFSETS = [0, 1, 4095, 4096, 65537, 1 << 20, 3 * (1 << 20) + 7];

export function defineRoundTripCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'writes then reads back identical bytes at many offsets and sizes', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(), { read: true, write: true, create: true });
    let seed = 1;
    for (const size of SIZES) {
      for (const offset of OFFSETS) {
        const data = pattern(size, seed++);
        const written = await runOp(aio, file, { op: 'write', buffer: data, offset });
        assert.equal(written.result.status, 'ok', `write ${size}@${offset}`);
        assert.equal(written.result.result, size);
        const back = Buffer.alloc(size);
        const read = await runOp(aio, file, { op: 'read', buffer: back, offset });
        assert.equal(read.result.status, 'ok', `read ${size}@${offset}`);
        assert.equal(read.result.result, size);
        assert.ok(back.equals(data), `bytes read back at ${offset} (${size} bytes) differ`);
      }
    }
    await file.close();
  });

  defineCase(h, m, 'readv and writev move several buffers of different kinds in order', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(), { read: true, write: true, create: true });
    const data = pattern(10_000, 7);
    const out = [
      new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + 1000)),
      Buffer.from(data.subarray(1000, 5096)),
      new DataView(data.buffer.slice(data.byteOffset + 5096, data.byteOffset + 5100)),
      new Uint16Array(data.buffer.slice(data.byteOffset + 5100, data.byteOffset + 10_000)),
    ];
    const written = await runOp(aio, file, { op: 'writev', buffers: out, offset: 123 });
    assert.equal(written.result.status, 'ok');
    assert.equal(written.result.result, 10_000);
    const into = [Buffer.alloc(3), new Uint8Array(4093), new Float64Array(3), new DataView(new ArrayBuffer(5880))];
    const read = await runOp(aio, file, { op: 'readv', buffers: into, offset: 123 });
    assert.equal(read.result.status, 'ok');
    assert.equal(read.result.result, 10_000);
    assert.ok(Buffer.concat(into.map(bytesOf)).equals(data), 'readv bytes differ from what writev wrote');
    assert.ok(fx.read(file.path as string).subarray(123).equals(data), 'file content differs');
    await file.close();
  });

  defineCase(h, m, 'fsync and fdatasync complete with status ok', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(4096), { read: true, write: true });
    await runOp(aio, file, { op: 'write', buffer: pattern(4096, 3), offset: 0 });
    for (const op of ['fsync', 'fdatasync'] as const) {
      const ret = await runOp(aio, file, { op });
      assert.equal(ret.result.status, 'ok', op);
      assert.equal(ret.result.result, 0, op);
      assert.equal(ret.target.op, op);
    }
    await file.sync();
    await file.datasync();
    await file.close();
  });

  defineCase(h, m, 'results match the sync method byte for byte over a random sequence of operations', async (fx) => {
    const initial = pattern(300_000, 11);
    const subject = fx.aio();
    const oracle = fx.oracle();
    const subjectFile = subject.open(fx.path(initial), { read: true, write: true });
    const oracleFile = oracle.open(fx.path(initial), { read: true, write: true });
    const prng = new Prng(20260101);
    for (let i = 0; i < 400; i++) {
      const op = randomOp(prng, i);
      const [a, b] = [cloneOp(op), cloneOp(op)];
      const got = await runOp(subject, subjectFile, a);
      const want = await runOp(oracle, oracleFile, b);
      assertSameResult(got.result, want.result, `operation ${i} (${describeOp(op)})`);
      assert.ok(Buffer.concat(opBuffers(a).map(bytesOf)).equals(Buffer.concat(opBuffers(b).map(bytesOf))), `operation ${i}: buffers differ`);
    }
    assert.ok(fx.read(subjectFile.path as string).equals(fx.read(oracleFile.path as string)), 'final file contents differ');
    await subjectFile.close();
    await oracleFile.close();
  });

  defineCase(h, m, 'a full pool of IOs in flight at once completes with the right data', async (fx) => {
    const aio = fx.aio({ maxConcurrency: 64 });
    const content = pattern(64 * 8192, 5);
    const file = aio.open(fx.path(content), { read: true });
    const slots = Array.from({ length: 64 }, () => ({ ret: new AioReturn(), ref: new AioWaitRef(), buf: Buffer.alloc(8192) }));
    aio.batch(() => {
      for (const [i, slot] of slots.entries()) {
        const handle = aio.acquire(slot.ret);
        handle.getWaitRef(slot.ref);
        handle.startRead(file, slot.buf, (63 - i) * 8192);
      }
    });
    await Promise.all(slots.map((slot) => slot.ref.wait()));
    for (const [i, slot] of slots.entries()) {
      assert.equal(slot.ret.result.status, 'ok');
      assert.ok(slot.buf.equals(content.subarray((63 - i) * 8192, (64 - i) * 8192)), `slot ${i} has the wrong bytes`);
    }
    await file.close();
  });
}

function randomOp(prng: Prng, i: number): Op {
  const offset = prng.below(320_000);
  const size = prng.pick([1, 100, 512, 4096, 5000, 40_000]);
  switch (prng.below(6)) {
    case 0:
    case 1:
      return { op: 'read', buffer: Buffer.alloc(size), offset };
    case 2:
      return { op: 'write', buffer: pattern(size, i + 100), offset };
    case 3:
      return { op: 'readv', buffers: [Buffer.alloc(size), Buffer.alloc(prng.pick([1, 4096, 777]))], offset };
    case 4:
      return { op: 'writev', buffers: [pattern(size, i + 200), pattern(prng.pick([1, 4096, 777]), i + 300)], offset };
    default:
      return { op: i % 2 === 0 ? 'fsync' : 'fdatasync' };
  }
}

function cloneOp(op: Op): Op {
  if (op.op === 'read' || op.op === 'write') return { ...op, buffer: Buffer.from(bytesOf(op.buffer)) };
  if (op.op === 'readv' || op.op === 'writev') return { ...op, buffers: op.buffers.map((b) => Buffer.from(bytesOf(b))) };
  return { ...op };
}

function opBuffers(op: Op): ArrayBufferView[] {
  if (op.op === 'read' || op.op === 'write') return [op.buffer];
  if (op.op === 'readv' || op.op === 'writev') return op.buffers;
  return [];
}

function describeOp(op: Op): string {
  if (op.op === 'read' || op.op === 'write') return `${op.op} ${op.buffer.byteLength}@${op.offset}`;
  if (op.op === 'readv' || op.op === 'writev') return `${op.op} ${op.buffers.map((b) => b.byteLength).join('+')}@${op.offset}`;
  return op.op;
}

