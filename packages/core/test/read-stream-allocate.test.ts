/**
 * The read stream reading into the caller's buffers (`allocate`): the bytes,
 * who owns a buffer when, IO combining over adjacent and separate buffers,
 * and the usage errors for buffers the stream cannot read into.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'vitest';
import {
  AioUsageError,
  AlignedPagePool,
  allocAligned,
  blockRangeReadStream,
  readStream,
  type AioFile,
  type ReadStreamItem,
} from '../src/index.js';
import { injectShortRead, setInjection, type AioInjectionInfo } from '../src/testing.js';
import { helperWorld } from './helper-world.js';
import { blocksBeforeEio, seededBytes as bytes } from './io-helpers.js';

const BS = 1024;
const { context, file: makeFile } = helperWorld('aio-stream-allocate-');

function blockOf(content: Buffer, block: number, size = BS): Buffer {
  return content.subarray(block * size, (block + 1) * size);
}

/** Records the reads the method completed (op and length), through the injection point. */
function recordReads(): AioInjectionInfo[] {
  const seen: AioInjectionInfo[] = [];
  setInjection((info) => {
    if (info.op === 'read' || info.op === 'readv') seen.push(info);
    return undefined;
  });
  return seen;
}

const usage = (code: string) => (e: unknown) => e instanceof AioUsageError && e.code === code;

for (const kind of ['sync', 'deferred'] as const) {
  describe(`${kind}: read stream into the caller's buffers`, () => {
    it(`${kind}: every block is read into the very buffer allocate returned, with the file's bytes`, async () => {
      const content = bytes(BS * 50, 1);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      const asked: number[] = [];
      const given = new Map<number, Buffer>();
      const stream = blockRangeReadStream(aio, file, {
        blockSize: BS,
        combineLimit: 8 * BS,
        allocate: (block) => {
          asked.push(block);
          const buffer = Buffer.alloc(BS);
          given.set(block, buffer);
          return buffer;
        },
      });
      const kept: ReadStreamItem<undefined>[] = [];
      for await (const item of stream) kept.push(item);
      assert.deepEqual(asked, Array.from({ length: 50 }, (_, b) => b), 'allocate is asked once per block, in stream order');
      for (const item of kept) {
        assert.equal(item.buffer, given.get(item.block), `block ${item.block} is in the buffer allocate returned`);
        assert.ok(!item.cached);
        // The consumer owns handed-out buffers: later steps never reused them.
        assert.ok(item.buffer.equals(blockOf(content, item.block)), `block ${item.block} still holds its bytes after the stream ended`);
      }
      assert.deepEqual([stream.stats().allocated, stream.stats().discarded], [50, 0]);
      await file.close();
    });

    it(`${kind}: adjacent caller buffers are combined into one plain read within the combine limit`, async () => {
      const content = bytes(BS * 64, 2);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      // One slab, block b at frame b: the frames of consecutive blocks are back to back.
      const slab = allocAligned(BS * 64);
      const reads = recordReads();
      const blocks: [number, number][] = [];
      const stream = blockRangeReadStream(aio, file, {
        blockSize: BS,
        combineLimit: 4 * BS,
        full: true,
        allocate: (block) => slab.subarray(block * BS, (block + 1) * BS),
        onRead: (block, count) => blocks.push([block, count]),
      });
      for await (const item of stream) assert.ok(item.buffer.equals(blockOf(content, item.block)), `block ${item.block}`);
      setInjection(null);
      assert.ok(slab.equals(content), 'the slab holds the whole file: every block went straight into its frame');
      assert.ok(blocks.some(([, count]) => count > 1), 'blocks were combined');
      assert.ok(blocks.every(([, count]) => count <= 4), 'no read exceeds the combine limit');
      assert.equal(reads.filter((r) => r.op === 'readv').length, 0, 'adjacent buffers need no vectored read');
      assert.ok(reads.some((r) => r.op === 'read' && r.length === 4 * BS), 'a combined read of four blocks is one 4-block read');
      await file.close();
    });

    it(`${kind}: separate caller buffers are combined through one vectored read`, async () => {
      const content = bytes(BS * 64, 3);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      // Frames in reverse order: never adjacent in stream order.
      const slab = allocAligned(BS * 64);
      const reads = recordReads();
      const stream = blockRangeReadStream(aio, file, {
        blockSize: BS,
        combineLimit: 4 * BS,
        full: true,
        allocate: (block) => slab.subarray((63 - block) * BS, (64 - block) * BS),
      });
      let count = 0;
      for await (const item of stream) {
        assert.ok(item.buffer.equals(blockOf(content, item.block)), `block ${item.block}`);
        count++;
      }
      setInjection(null);
      assert.equal(count, 64);
      assert.ok(reads.some((r) => r.op === 'readv' && r.length === 4 * BS), 'a combined read of four separate buffers is one readv');
      assert.ok(reads.every((r) => r.length <= 4 * BS));
      assert.ok(stream.stats().largestRead === 4);
      await file.close();
    });

    it(`${kind}: runs of adjacent caller buffers among separate ones are joined within one vectored read`, async () => {
      const content = bytes(BS * 32, 14);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      // Pairs of blocks back to back, each pair far from the one before it:
      // a combined read of four blocks is two runs of two.
      const slab = allocAligned(BS * 64);
      const reads = recordReads();
      const stream = blockRangeReadStream(aio, file, {
        blockSize: BS,
        combineLimit: 4 * BS,
        full: true,
        allocate: (block) => slab.subarray((2 * block - (block % 2)) * BS, (2 * block - (block % 2) + 1) * BS),
      });
      let count = 0;
      for await (const item of stream) {
        assert.ok(item.buffer.equals(blockOf(content, item.block)), `block ${item.block}`);
        count++;
      }
      setInjection(null);
      assert.equal(count, 32);
      assert.ok(reads.some((r) => r.op === 'readv' && r.length === 4 * BS), 'four blocks in two runs are one readv');
      assert.ok(reads.every((r) => r.op === 'readv'), 'no run spans a whole read');
      await file.close();
    });

    it(`${kind}: hits come from isCached and are never allocated; misses are`, async () => {
      const content = bytes(BS * 40, 4);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      const cached = (b: number): boolean => b % 3 === 0;
      const allocated: number[] = [];
      const stream = blockRangeReadStream(aio, file, {
        blockSize: BS,
        isCached: (b) => (cached(b) ? Buffer.from(blockOf(content, b)) : null),
        allocate: (b) => {
          allocated.push(b);
          return allocAligned(BS);
        },
      });
      for await (const item of stream) {
        assert.equal(item.cached, cached(item.block));
        assert.ok(item.buffer.equals(blockOf(content, item.block)));
      }
      assert.deepEqual(
        allocated,
        Array.from({ length: 40 }, (_, b) => b).filter((b) => !cached(b)),
      );
      await file.close();
    });

    it(`${kind}: a short read is retried into the same caller buffers`, async () => {
      const content = bytes(BS * 32, 5);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      injectShortRead(BS + 17, { times: 3 });
      let allocations = 0;
      const stream = blockRangeReadStream(aio, file, {
        blockSize: BS,
        full: true,
        combineLimit: 8 * BS,
        allocate: () => {
          allocations++;
          return Buffer.alloc(BS);
        },
      });
      for await (const item of stream) assert.ok(item.buffer.equals(blockOf(content, item.block)), `block ${item.block}`);
      assert.equal(allocations, 32, 'a retry reuses the buffers of its blocks');
      assert.ok(stream.stats().retries >= 3);
      await file.close();
    });

    it(`${kind}: the end of the file zeroes the rest of the caller's buffer for the short last block`, async () => {
      const content = bytes(BS * 3 + 100, 6);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      const stream = blockRangeReadStream(aio, file, { blockSize: BS, allocate: () => Buffer.alloc(BS, 0xee) });
      const items: ReadStreamItem<undefined>[] = [];
      for await (const item of stream) items.push(item);
      assert.equal(items.length, 4);
      assert.equal(items[3].length, 100);
      assert.ok(items[3].buffer.subarray(0, 100).equals(content.subarray(BS * 3)));
      assert.ok(items[3].buffer.subarray(100).every((b) => b === 0), 'the bytes past the end are zeroed');
      await file.close();
    });

    it(`${kind}: buffers the stream never hands out go back through discard once no read uses them`, async () => {
      const content = bytes(BS * 256, 7);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      const given = new Set<Buffer>();
      const discarded: { block: number; data: { n: number }; buffer: Buffer }[] = [];
      let next = 0;
      const stream = readStream<{ n: number }>(aio, file, {
        blockSize: BS,
        full: true,
        nextBlock: () => (next < 256 ? { block: next, data: { n: next++ } } : null),
        allocate: () => {
          const buffer = Buffer.alloc(BS);
          given.add(buffer);
          return buffer;
        },
        discard: (block, data, buffer) => {
          assert.equal(aio.stats().inFlight, 0, 'no read can still write into a discarded buffer');
          assert.ok(given.has(buffer), 'only buffers allocate returned come back');
          discarded.push({ block, data, buffer });
        },
      });
      const handedOut: Buffer[] = [];
      for await (const item of stream) {
        handedOut.push(item.buffer);
        if (item.block === 20) break;
      }
      const { allocated } = stream.stats();
      assert.equal(allocated, handedOut.length + discarded.length, 'every allocated buffer is handed out or discarded');
      assert.equal(stream.stats().discarded, discarded.length);
      for (const d of discarded) {
        assert.ok(!handedOut.includes(d.buffer), 'a handed-out buffer is the consumer\'s, never discarded');
        assert.equal(d.data.n, d.block, 'discard gets the block\'s own data');
      }
      await file.close();
    });

    it(`${kind}: an IO error discards the failed blocks' buffers and surfaces at its block`, async () => {
      const content = bytes(BS * 32, 8);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      let discards = 0;
      const stream = blockRangeReadStream(aio, file, { blockSize: BS, allocate: () => Buffer.alloc(BS), discard: () => discards++ });
      const got = await blocksBeforeEio(stream, 9);
      assert.ok(got.every((b, i) => b === i));
      assert.ok(discards >= 1, 'the failed block\'s buffer came back');
      assert.equal(stream.stats().allocated, got.length + discards);
      await file.close();
    });

    it(`${kind}: reads into AlignedPagePool pages allocated by the caller need no copy`, async () => {
      const content = bytes(BS * 48, 9);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      const frames = new AlignedPagePool(BS, 48);
      const copiedBefore = aio.stats().copied;
      const stream = blockRangeReadStream(aio, file, {
        blockSize: BS,
        combineLimit: 8 * BS,
        allocate: () => frames.get() as Buffer,
        discard: (_block, _data, buffer) => frames.put(buffer),
      });
      for await (const item of stream) {
        assert.ok(item.buffer.equals(blockOf(content, item.block)));
        frames.put(item.buffer); // the consumer owns it: it installs or frees it
      }
      assert.equal(aio.stats().copied, copiedBefore, 'pool frames are non-detachable: the kernel reads into them directly');
      assert.equal(frames.available, 48);
      await file.close();
    });

    it(`${kind}: a direct file is read into 4096-aligned caller buffers`, async (ctx) => {
      if (fs.constants.O_DIRECT === undefined) ctx.skip('no O_DIRECT here');
      const content = bytes(8192 * 32, 10);
      const { aio } = context(kind);
      let file: AioFile;
      try {
        file = aio.open(makeFile(content), { direct: true });
      } catch (error) {
        ctx.skip(`the temporary directory refuses O_DIRECT: ${(error as Error).message}`);
        return;
      }
      const slab = allocAligned(8192 * 32);
      const stream = blockRangeReadStream(aio, file, { allocate: (b) => slab.subarray(b * 8192, (b + 1) * 8192) });
      let count = 0;
      for await (const item of stream) {
        assert.ok(item.buffer.equals(blockOf(content, item.block, 8192)), `block ${item.block}`);
        count++;
      }
      assert.equal(count, 32);
      await file.close();
    });
  });
}

describe('read stream into the caller\'s buffers: usage errors', () => {
  async function rejectsAtNext(allocate: (block: number) => unknown, code: string, full = false): Promise<void> {
    const { aio } = context('sync');
    const file = aio.open(makeFile(bytes(BS * 8, 11)));
    let discards = 0;
    const stream = blockRangeReadStream(aio, file, { blockSize: BS, full, allocate: allocate as (block: number) => Buffer, discard: () => discards++ });
    await assert.rejects(stream.next(), usage(code));
    await stream.end();
    assert.equal(stream.stats().allocated, discards, 'buffers accepted before the error are given back');
    await file.close();
  }

  it('an allocate that returns a non-view is AIO_ERR_INVALID_TYPE', async () => {
    await rejectsAtNext(() => 42, 'AIO_ERR_INVALID_TYPE');
    await rejectsAtNext(() => null, 'AIO_ERR_INVALID_TYPE');
    await rejectsAtNext(() => new ArrayBuffer(BS), 'AIO_ERR_INVALID_TYPE');
  });

  it('an allocate that returns a wrong-sized buffer is AIO_ERR_OUT_OF_RANGE', async () => {
    await rejectsAtNext(() => Buffer.alloc(BS - 1), 'AIO_ERR_OUT_OF_RANGE');
    await rejectsAtNext(() => Buffer.alloc(BS * 2), 'AIO_ERR_OUT_OF_RANGE');
  });

  it('an allocate that returns a detached buffer is AIO_ERR_DETACHED', async () => {
    await rejectsAtNext(() => {
      const memory = new ArrayBuffer(BS);
      const view = Buffer.from(memory);
      structuredClone(memory, { transfer: [memory] });
      return view;
    }, 'AIO_ERR_DETACHED');
  });

  it('an allocate that returns a buffer the stream already holds is AIO_ERR_BUFFER_STATE', async () => {
    const same = Buffer.alloc(BS);
    // full: the first read covers several blocks, all held by the stream at once.
    await rejectsAtNext(() => same, 'AIO_ERR_BUFFER_STATE', true);
  });

  it('a throwing allocate rejects next() with its error and leaves the stream endable', async () => {
    const { aio } = context('sync');
    const file = aio.open(makeFile(bytes(BS * 8, 12)));
    const stream = blockRangeReadStream(aio, file, {
      blockSize: BS,
      allocate: () => {
        throw new Error('the buffer pool is full');
      },
    });
    await assert.rejects(stream.next(), /the buffer pool is full/);
    await stream.end();
    await file.close();
  });

  it('on a direct file an allocate that returns a buffer not known to be 4096-aligned is AIO_ERR_OUT_OF_RANGE', async (ctx) => {
    if (fs.constants.O_DIRECT === undefined) ctx.skip('no O_DIRECT here');
    const { aio } = context('sync');
    let file: AioFile;
    try {
      file = aio.open(makeFile(bytes(8192 * 4, 13)), { direct: true });
    } catch (error) {
      ctx.skip(`the temporary directory refuses O_DIRECT: ${(error as Error).message}`);
      return;
    }
    const slab = allocAligned(8192 * 2);
    for (const allocate of [() => Buffer.alloc(8192), () => slab.subarray(512, 512 + 8192)]) {
      const stream = blockRangeReadStream(aio, file, { allocate });
      await assert.rejects(stream.next(), usage('AIO_ERR_OUT_OF_RANGE'));
      await stream.end();
    }
    await file.close();
  });

  it('on a direct file a misaligned view of memory the stream already read into is AIO_ERR_OUT_OF_RANGE', async (ctx) => {
    if (fs.constants.O_DIRECT === undefined) ctx.skip('no O_DIRECT here');
    const { aio } = context('sync');
    let file: AioFile;
    try {
      file = aio.open(makeFile(bytes(8192 * 4, 15)), { direct: true });
    } catch (error) {
      ctx.skip(`the temporary directory refuses O_DIRECT: ${(error as Error).message}`);
      return;
    }
    // Block 0 gets an aligned page of the slab; block 1 a view of the same slab 512 bytes off.
    const slab = allocAligned(8192 * 4);
    const stream = blockRangeReadStream(aio, file, {
      allocate: (block) => (block === 0 ? slab.subarray(0, 8192) : slab.subarray(8192 + 512, 2 * 8192 + 512)),
    });
    const first = await stream.next();
    assert.equal(first?.block, 0);
    await assert.rejects(stream.next(), usage('AIO_ERR_OUT_OF_RANGE'));
    await stream.end();
    await file.close();
  });

  it('pool with allocate, and discard without allocate, are AIO_ERR_INVALID_OPTION', () => {
    const { aio } = context('sync');
    const file = aio.open(makeFile(bytes(BS, 14)));
    assert.throws(() => readStream(aio, file, { nextBlock: () => null, blockSize: BS, pool: new AlignedPagePool(BS, 4), allocate: () => Buffer.alloc(BS) }), usage('AIO_ERR_INVALID_OPTION'));
    assert.throws(() => readStream(aio, file, { nextBlock: () => null, discard: () => undefined }), usage('AIO_ERR_INVALID_OPTION'));
    assert.throws(() => readStream(aio, file, { nextBlock: () => null, allocate: 1 as never }), usage('AIO_ERR_INVALID_TYPE'));
    file.closeSync();
  });
});
