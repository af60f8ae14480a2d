/**
 * The read stream reading into the caller's buffers (`allocate`) on every
 * method: the bytes equal the sync method's, byte for byte, in the very
 * buffers allocate returned; consecutive blocks in adjacent buffers become
 * one plain read, in separate buffers one readv, both within the combine
 * limit; buffers never handed out come back through `discard` only once no
 * read can write into them; and buffers the stream cannot read into are
 * usage errors with stable codes.
 */
import assert from 'node:assert/strict';
import {
  AioIoError,
  AioUsageError,
  AlignedPagePool,
  allocAligned,
  blockRangeReadStream,
  readStream,
  type Aio,
  type AioFile,
  type ReadStreamOptions,
} from '@aio/core';
import { injectErrno, setInjection, type AioInjectionInfo } from '@aio/core/testing';
import { defineCase, filesystemOf, type Fixture } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { pattern } from '../util.js';

const BS = 4096;

interface Delivered {
  block: number;
  length: number;
  bytes: Buffer;
}

/**
 * Reads `blocks` of `file` through a stream with `allocate`, checking each
 * item's buffer is the one allocate returned for its block; the bytes are
 * copied out (the consumer owns them, so they are also checked again at the
 * end: nothing wrote into a handed-out buffer afterwards).
 */
async function readInto(aio: Aio, file: AioFile, blocks: readonly number[], frameOf: (block: number) => Buffer, extra: Partial<ReadStreamOptions<undefined>> = {}): Promise<Delivered[]> {
  let at = 0;
  // allocate is called in stream order, once per block (no hits here): the n-th buffer is the n-th item's.
  const given: Buffer[] = [];
  const stream = readStream(aio, file, {
    blockSize: BS,
    ...extra,
    nextBlock: () => (at < blocks.length ? blocks[at++] : null),
    allocate: (block) => {
      const frame = frameOf(block);
      given.push(frame);
      return frame;
    },
  });
  const out: Delivered[] = [];
  const held: Buffer[] = [];
  for await (const item of stream) {
    assert.equal(item.buffer, given[out.length], `block ${item.block} arrives in the buffer allocate returned for it`);
    out.push({ block: item.block, length: item.length, bytes: Buffer.from(item.buffer.subarray(0, item.length)) });
    held.push(item.buffer);
  }
  out.forEach((d, i) => assert.ok(held[i].subarray(0, d.length).equals(d.bytes), `block ${d.block} changed after it was handed out`));
  return out;
}

/**
 * A context, a file of 128 blocks of `pattern(…, seed)`, a slab of 128 frames
 * for the stream to read into, and the recorder of the reads that follow.
 */
function slabSetup(fx: Fixture, seed: number): { aio: Aio; content: Buffer; file: AioFile; slab: Buffer; reads: AioInjectionInfo[] } {
  const aio = fx.aio();
  const content = pattern(BS * 128, seed);
  const file = aio.open(fx.path(content));
  const slab = allocAligned(BS * 128);
  return { aio, content, file, slab, reads: recordReads() };
}

/**
 * A full stream over `file` that combines up to 8 blocks, reading block b
 * into frame `frameOf(b)` of `slab`.
 */
function streamIntoSlab(aio: Aio, file: AioFile, slab: Buffer, frameOf: (block: number) => number, onRead?: (block: number, count: number) => void): ReturnType<typeof blockRangeReadStream> {
  return blockRangeReadStream(aio, file, {
    blockSize: BS,
    combineLimit: 8 * BS,
    full: true,
    allocate: (b) => slab.subarray(frameOf(b) * BS, (frameOf(b) + 1) * BS),
    ...(onRead ? { onRead } : {}),
  });
}

/** Records every read and readv the method completed (op and length) through the injection point. */
function recordReads(): AioInjectionInfo[] {
  const seen: AioInjectionInfo[] = [];
  setInjection((info) => {
    if (info.op === 'read' || info.op === 'readv') seen.push(info);
    return undefined;
  });
  return seen;
}

const usage = (code: string) => (e: unknown) => e instanceof AioUsageError && e.code === code;

export function defineReadStreamAllocateCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, "read stream into caller buffers: every block equals the sync method's, byte for byte, in the buffer allocate returned", async (fx) => {
    const content = pattern(BS * 200 + 777, 61);
    const filePath = fx.path(content);
    const blocks: number[] = [];
    for (let b = 0; b <= 200; b++) if (b % 11 !== 3) blocks.push(b);
    for (let b = 120; b > 100; b--) blocks.push(b);
    const results: Delivered[][] = [];
    for (const aio of [fx.oracle(), fx.aio()]) {
      const file = aio.open(filePath);
      // Frames of one slab at block order (adjacent runs) for the first half, separate buffers after.
      const slab = allocAligned(BS * 201);
      results.push(await readInto(aio, file, blocks, (b) => (b < 100 ? slab.subarray(b * BS, (b + 1) * BS) : allocAligned(BS)), { combineLimit: 8 * BS }));
      await file.close();
    }
    const [want, got] = results;
    assert.equal(got.length, want.length);
    got.forEach((d, i) => {
      assert.equal(d.block, want[i].block);
      assert.equal(d.length, want[i].length, `block ${d.block} length`);
      assert.ok(d.bytes.equals(want[i].bytes), `block ${d.block} differs from the sync method's`);
    });
    assert.equal(got.at(-21)?.length, 777, 'the short last block holds the end of the file');
  });

  defineCase(h, m, 'read stream into caller buffers: adjacent buffers make one plain read per combined read, within the combine limit', async (fx) => {
    const { aio, content, file, slab, reads } = slabSetup(fx, 62);
    const combined: number[] = [];
    const stream = streamIntoSlab(aio, file, slab, (b) => b, (_block, count) => combined.push(count));
    for await (const item of stream) assert.ok(item.buffer.equals(content.subarray(item.block * BS, (item.block + 1) * BS)), `block ${item.block}`);
    setInjection(null);
    assert.ok(slab.equals(content), 'every block went straight into its frame');
    assert.ok(combined.some((count) => count > 1), 'blocks were combined');
    assert.ok(combined.every((count) => count <= 8), 'no read exceeds the combine limit');
    assert.equal(reads.filter((r) => r.op === 'readv').length, 0, 'adjacent buffers need no vectored read');
    assert.ok(reads.some((r) => r.op === 'read' && r.length === 8 * BS), 'a full combined read is one plain read of 8 blocks');
    assert.ok(reads.every((r) => r.length <= 8 * BS));
    await file.close();
  });

  defineCase(h, m, 'read stream into caller buffers: separate buffers make one readv per combined read, within the combine limit', async (fx) => {
    const { aio, content, file, slab, reads } = slabSetup(fx, 63);
    // Frames in reverse order in one slab: never adjacent in stream order.
    const stream = streamIntoSlab(aio, file, slab, (b) => 127 - b);
    let count = 0;
    for await (const item of stream) {
      assert.ok(item.buffer.equals(content.subarray(item.block * BS, (item.block + 1) * BS)), `block ${item.block}`);
      count++;
    }
    setInjection(null);
    assert.equal(count, 128);
    assert.ok(reads.some((r) => r.op === 'readv' && r.length === 8 * BS), 'a full combined read is one readv of 8 buffers');
    assert.ok(reads.every((r) => r.length <= 8 * BS));
    assert.equal(stream.stats().largestRead, 8);
    await file.close();
  });

  defineCase(h, m, 'read stream into caller buffers: buffers never handed out come back through discard after their reads, also after an IO error', async (fx) => {
    const aio = fx.aio();
    const content = pattern(BS * 256, 64);
    const file = aio.open(fx.path(content));
    const frames = new AlignedPagePool(BS, 256);
    const handedOut = new Set<Buffer>();
    const discarded: Buffer[] = [];
    const options = {
      blockSize: BS,
      full: true,
      allocate: () => frames.get() as Buffer,
      discard: (_block: number, _data: undefined, buffer: Buffer) => {
        assert.equal(aio.stats().inFlight, 0, 'no read can still write into a discarded buffer');
        assert.ok(!handedOut.has(buffer), "a handed-out buffer is the consumer's, never discarded");
        discarded.push(buffer);
        frames.put(buffer);
      },
    };
    const stream = blockRangeReadStream(aio, file, options);
    for await (const item of stream) {
      handedOut.add(item.buffer);
      if (item.block === 30) break;
    }
    assert.equal(stream.stats().allocated, handedOut.size + discarded.length, 'every allocated buffer is handed out or discarded');
    assert.equal(frames.lent, handedOut.size, 'the pool has every frame back but the consumer\'s');
    for (const buffer of handedOut) frames.put(buffer);
    handedOut.clear();
    discarded.length = 0;

    const failing = blockRangeReadStream(aio, file, options);
    await assert.rejects(async () => {
      for await (const item of failing) {
        handedOut.add(item.buffer);
        if (item.block === 5) injectErrno('EIO', { op: ['read', 'readv'] });
      }
    }, (error: unknown) => error instanceof AioIoError && error.code === 'EIO' && error.method === m.name);
    assert.ok(discarded.length >= 1, "the failed block's buffer came back");
    assert.equal(failing.stats().allocated, handedOut.size + discarded.length);
    for (const buffer of handedOut) frames.put(buffer);
    assert.equal(frames.available, 256);
    await file.close();
  });

  defineCase(h, m, 'read stream into caller buffers: a non-view, wrong-sized, detached or doubly supplied buffer is a usage error with a stable code', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(BS * 16));
    const same = allocAligned(BS);
    const cases: [string, () => unknown][] = [
      ['AIO_ERR_INVALID_TYPE', () => 42],
      ['AIO_ERR_INVALID_TYPE', () => new ArrayBuffer(BS)],
      ['AIO_ERR_OUT_OF_RANGE', () => allocAligned(BS - 512)],
      ['AIO_ERR_OUT_OF_RANGE', () => allocAligned(BS * 2)],
      [
        'AIO_ERR_DETACHED',
        () => {
          const memory = new ArrayBuffer(BS);
          const view = Buffer.from(memory);
          structuredClone(memory, { transfer: [memory] });
          return view;
        },
      ],
      ['AIO_ERR_BUFFER_STATE', () => same],
    ];
    for (const [code, allocate] of cases) {
      let discards = 0;
      const stream = blockRangeReadStream(aio, file, { blockSize: BS, full: true, allocate: allocate as () => Buffer, discard: () => discards++ });
      await assert.rejects(stream.next(), usage(code), code);
      await stream.end();
      assert.equal(stream.stats().allocated, discards, `${code}: buffers accepted before the error are given back`);
    }
    await file.close();
  });

  defineCase(h, m, 'read stream into caller buffers: a direct file takes 4096-aligned buffers and refuses others with AIO_ERR_OUT_OF_RANGE', async (fx, t) => {
    const aio = fx.aio();
    if (!aio.capabilities.direct) t.skip(`the ${m.name} method does not do direct I/O on ${process.platform}`);
    if (filesystemOf(fx.dir) === 'tmpfs') t.skip(`${fx.dir} is on tmpfs, which has no real O_DIRECT; set AIO_CONFORMANCE_DIR to an ext4 path`);
    const content = pattern(8192 * 64, 65);
    const filePath = fx.path(content);
    const file = aio.open(filePath, { direct: true });
    const slab = allocAligned(8192 * 64);
    const got = await readInto(aio, file, Array.from({ length: 64 }, (_, b) => b), (b) => slab.subarray(b * 8192, (b + 1) * 8192), { blockSize: 8192 });
    assert.equal(got.length, 64);
    for (const d of got) assert.ok(d.bytes.equals(content.subarray(d.block * 8192, (d.block + 1) * 8192)), `block ${d.block}`);
    for (const allocate of [() => Buffer.alloc(8192), () => slab.subarray(512, 512 + 8192)]) {
      const stream = blockRangeReadStream(aio, file, { allocate });
      await assert.rejects(stream.next(), usage('AIO_ERR_OUT_OF_RANGE'));
      await stream.end();
    }
    await file.close();
  });
}
