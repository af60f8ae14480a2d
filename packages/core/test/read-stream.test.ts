import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'vitest';
import {
  AioIoError,
  AioUsageError,
  AlignedPagePool,
  blockRangeReadStream,
  readStream,
  type AioFile,
  type ReadStreamDistanceCause,
  type ReadStreamItem,
} from '../src/index.js';
import { injectShortRead } from '../src/testing.js';
import { helperWorld } from './helper-world.js';
import { blocksBeforeEio, seededBytes as bytes } from './io-helpers.js';

const BS = 1024;
const { context, file: makeFile } = helperWorld('aio-stream-');

/** Yields the blocks of `list` in order. */
function listOf(list: readonly number[]): () => number | null {
  let at = 0;
  return () => (at < list.length ? list[at++] : null);
}

async function collect<T>(stream: AsyncIterable<ReadStreamItem<T>>): Promise<{ block: number; data: T; bytes: Buffer; cached: boolean; length: number }[]> {
  const out = [];
  for await (const item of stream) out.push({ block: item.block, data: item.data, bytes: Buffer.from(item.buffer.subarray(0, item.length)), cached: item.cached, length: item.length });
  return out;
}

/** Checks every distance change against PostgreSQL 18's rule. */
function assertDistanceRule(trace: { distance: number; cause: ReadStreamDistanceCause }[], maxDistance: number, start = 1): void {
  let previous = start;
  for (const [i, { distance, cause }] of trace.entries()) {
    const expected =
      cause === 'hit' ? (previous > 1 ? previous - 1 : previous) : cause === 'wait' ? Math.min(previous * 2, maxDistance) : cause === 'end' ? 0 : 1;
    assert.equal(distance, expected, `step ${i} (${cause}): ${previous} -> ${distance}, expected ${expected}`);
    previous = distance;
  }
}

for (const kind of ['sync', 'deferred'] as const) {
  describe(`${kind}: read stream`, () => {
    it(`${kind}: a whole-file stream yields every block in order with the file's bytes, the last one short`, async () => {
      const content = bytes(BS * 40 + 300, 1);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      const stream = blockRangeReadStream(aio, file, { blockSize: BS });
      const items = await collect(stream);
      assert.equal(items.length, 41);
      items.forEach((item, i) => {
        assert.equal(item.block, i);
        assert.ok(item.bytes.equals(content.subarray(i * BS, (i + 1) * BS)), `block ${i}`);
      });
      assert.equal(items[40].length, 300, 'the block holding the end of the file is short');
      assert.equal(stream.pool.available, stream.pool.count, 'every page is back in the pool');
      assert.ok(stream.ended);
      await file.close();
    });

    it(`${kind}: the distance follows the PostgreSQL 18 rule and stays within its cap`, async () => {
      const content = bytes(BS * 300, 2);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      const trace: { distance: number; cause: ReadStreamDistanceCause }[] = [];
      const stream = blockRangeReadStream(aio, file, { blockSize: BS, combineLimit: 4 * BS, maxIos: 4, onDistance: (distance, cause) => trace.push({ distance, cause }) });
      await collect(stream);
      assertDistanceRule(trace, 20);
      assert.equal(trace.at(-1)?.cause, 'end');
      assert.ok(trace.some((t) => t.cause === 'wait'));
      assert.equal(Math.max(...trace.map((t) => t.distance)), 20, 'reads reached ramp the distance up to (maxIos + 1) x combine');
      assert.equal(stream.stats().largestRead, 4, 'reads combine up to the limit');
      if (kind === 'sync') {
        // PostgreSQL 18 grows the distance for every read the consumer reaches, blocked or not:
        // a read that completed inside its submission (sync, or io_uring on the page cache) still ramps it up.
        assert.equal(stream.stats().waits, 0, 'on sync every read completes when it starts: the consumer never blocks');
      }
      await file.close();
    });

    it(`${kind}: reads never cross a hole in the block sequence nor exceed the combine limit, and never exceed maxIos in flight`, async () => {
      const content = bytes(BS * 200, 3);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      const blocks: number[] = [];
      for (let b = 0; b < 200; b++) if (b % 7 !== 3 && b % 11 !== 5) blocks.push(b);
      const reads: [number, number][] = [];
      const stream = readStream(aio, file, {
        blockSize: BS,
        combineLimit: 5 * BS,
        maxIos: 3,
        nextBlock: listOf(blocks),
        onRead: (block, count) => {
          reads.push([block, count]);
          assert.ok(stream.stats().inFlight <= 3, 'at most maxIos reads in flight');
        },
      });
      const items = await collect(stream);
      assert.deepEqual(
        items.map((i) => i.block),
        blocks,
      );
      for (const item of items) assert.ok(item.bytes.equals(content.subarray(item.block * BS, (item.block + 1) * BS)));
      const wanted = new Set(blocks);
      for (const [block, count] of reads) {
        assert.ok(count <= 5, `read of ${count} blocks exceeds the limit`);
        for (let b = block; b < block + count; b++) assert.ok(wanted.has(b), `read at ${block} x ${count} covers hole ${b}`);
      }
      await file.close();
    });

    it(`${kind}: per-buffer data arrives with its block`, async () => {
      const { aio } = context(kind);
      const file = aio.open(makeFile(bytes(BS * 64, 4)));
      const order = [5, 6, 7, 1, 2, 40, 41, 42, 43, 9];
      let at = 0;
      const stream = readStream<{ tag: string }>(aio, file, {
        blockSize: BS,
        nextBlock: () => (at < order.length ? { block: order[at], data: { tag: `#${at++}` } } : null),
      });
      const items = await collect(stream);
      assert.deepEqual(
        items.map((i) => [i.block, i.data.tag]),
        order.map((b, i) => [b, `#${i}`]),
      );
      await file.close();
    });

    it(`${kind}: an all-cached stream does no IO, hands out the caller's buffers and stays at distance 1`, async () => {
      const { aio } = context(kind);
      const file = aio.open(makeFile(bytes(BS * 16, 5)));
      const cache = new Map(Array.from({ length: 16 }, (_, b) => [b, Buffer.alloc(BS, b)] as const));
      const trace: { distance: number; cause: ReadStreamDistanceCause }[] = [];
      const before = aio.stats().started;
      const stream = blockRangeReadStream(aio, file, { blockSize: BS, isCached: (b) => cache.get(b), onDistance: (distance, cause) => trace.push({ distance, cause }) });
      const seen: Buffer[] = [];
      for await (const item of stream) {
        assert.ok(item.cached);
        seen.push(item.buffer);
      }
      assert.equal(aio.stats().started, before, 'no IO at all');
      assert.deepEqual(seen, [...cache.values()], 'the very buffers isCached returned');
      assert.ok(trace.slice(0, -1).every((t) => t.cause === 'hit' && t.distance === 1));
      assert.equal(stream.stats().hits, 16);
      await file.close();
    });

    it(`${kind}: mixed hits and misses: hits split reads, lower the distance, and every block has the right bytes`, async () => {
      const content = bytes(BS * 120, 6);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      const cached = (b: number) => b % 5 === 0 || (b >= 60 && b < 70);
      const asked: number[] = [];
      const reads: [number, number][] = [];
      const trace: { distance: number; cause: ReadStreamDistanceCause }[] = [];
      const stream = blockRangeReadStream(aio, file, {
        blockSize: BS,
        combineLimit: 8 * BS,
        isCached: (b) => {
          asked.push(b);
          return cached(b) ? Buffer.from(content.subarray(b * BS, (b + 1) * BS)) : null;
        },
        onRead: (block, count) => reads.push([block, count]),
        onDistance: (distance, cause) => trace.push({ distance, cause }),
      });
      const items = await collect(stream);
      assert.equal(items.length, 120);
      for (const item of items) {
        assert.equal(item.cached, cached(item.block), `block ${item.block}`);
        assert.ok(item.bytes.equals(content.subarray(item.block * BS, (item.block + 1) * BS)));
      }
      for (const [block, count] of reads) for (let b = block; b < block + count; b++) assert.ok(!cached(b), `read covers cached block ${b}`);
      assert.deepEqual(asked, [...new Set(asked)], 'isCached is asked once per block');
      assertDistanceRule(trace, stream.maxDistance);
      await file.close();
    });

    it(`${kind}: a short read is retried by the stream`, async () => {
      const content = bytes(BS * 32, 7);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      injectShortRead(BS + 17, { times: 3 });
      const stream = blockRangeReadStream(aio, file, { blockSize: BS, full: true, combineLimit: 8 * BS });
      const items = await collect(stream);
      assert.equal(items.length, 32);
      for (const item of items) assert.ok(item.bytes.equals(content.subarray(item.block * BS, (item.block + 1) * BS)), `block ${item.block}`);
      assert.ok(stream.stats().retries >= 3);
      await file.close();
    });

    it(`${kind}: an IO error surfaces at its block, after the blocks before it, and ends the stream`, async () => {
      const content = bytes(BS * 32, 8);
      const { aio } = context(kind);
      const target = makeFile(content);
      const file = aio.open(target);
      let reads = 0;
      const stream = blockRangeReadStream(aio, file, { blockSize: BS, onRead: () => reads++ });
      const got = await blocksBeforeEio(stream, 9);
      assert.ok(got.length >= 10 && got.every((b, i) => b === i));
      assert.ok(stream.ended);
      assert.equal(await stream.next(), null);
      assert.equal(stream.pool.available, stream.pool.count);
      await file.close();
    });

    it(`${kind}: a block beyond the end of the file is an AIO_EOF error`, async () => {
      const { aio } = context(kind);
      const file = aio.open(makeFile(bytes(BS * 4, 9)));
      const stream = readStream(aio, file, { blockSize: BS, nextBlock: listOf([2, 3, 4, 5]) });
      assert.equal((await stream.next())?.block, 2);
      assert.equal((await stream.next())?.block, 3);
      await assert.rejects(stream.next(), (error: unknown) => error instanceof AioIoError && error.code === 'AIO_EOF');
      await file.close();
    });

    it(`${kind}: reset() waits for reads in flight, forgets queued blocks and starts again at distance 1`, async () => {
      const content = bytes(BS * 100, 10);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      let next = 0;
      const trace: { distance: number; cause: ReadStreamDistanceCause }[] = [];
      const stream = readStream(aio, file, { blockSize: BS, nextBlock: () => (next < 100 ? next++ : null), onDistance: (distance, cause) => trace.push({ distance, cause }) });
      for (let i = 0; i < 20; i++) assert.equal((await stream.next())?.block, i);
      await stream.reset();
      assert.equal(stream.stats().distance, 1);
      assert.equal(stream.stats().inFlight, 0);
      assert.equal(stream.stats().queued, 0);
      assert.equal(trace.at(-1)?.cause, 'reset');
      const resumed = next;
      next = 50;
      assert.equal((await stream.next())?.block, 50, 'after reset the callback is asked again');
      assert.ok(resumed >= 20);
      await stream.end();
      assert.equal(stream.pool.available, stream.pool.count);
      await file.close();
    });

    it(`${kind}: breaking out of for await ends the stream and waits for its reads`, async () => {
      const { aio } = context(kind);
      const file = aio.open(makeFile(bytes(BS * 256, 11)));
      const stream = blockRangeReadStream(aio, file, { blockSize: BS });
      for await (const item of stream) if (item.block === 100) break;
      assert.ok(stream.ended);
      assert.equal(aio.stats().inFlight, 0);
      assert.equal(stream.pool.available, stream.pool.count);
      await file.close();
    });

    it(`${kind}: in manual release mode buffers stay the consumer's until released`, async () => {
      const content = bytes(BS * 64, 12);
      const { aio } = context(kind);
      const file = aio.open(makeFile(content));
      const pool = new AlignedPagePool(BS, 8);
      const stream = blockRangeReadStream(aio, file, { blockSize: BS, release: 'manual', pool, combineLimit: 2 * BS, maxIos: 2 });
      const held: ReadStreamItem<undefined>[] = [];
      for (let i = 0; i < 5; i++) held.push((await stream.next()) as ReadStreamItem<undefined>);
      for (const item of held) assert.ok(item.buffer.equals(content.subarray(item.block * BS, (item.block + 1) * BS)), `held block ${item.block} unchanged`);
      for (const item of held) stream.release(item.buffer);
      assert.throws(() => stream.release(held[0].buffer), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_BUFFER_STATE');
      let count = 5;
      for (let item = await stream.next(); item !== null; item = await stream.next()) {
        assert.ok(item.buffer.equals(content.subarray(item.block * BS, (item.block + 1) * BS)));
        stream.release(item.buffer);
        count++;
      }
      assert.equal(count, 64);
      await stream.end();
      assert.equal(pool.available, pool.count);
      await file.close();
    });

    it(`${kind}: a consumer holding every page gets a clear error instead of a hang`, async () => {
      const { aio } = context(kind);
      const file = aio.open(makeFile(bytes(BS * 64, 13)));
      const pool = new AlignedPagePool(BS, 2);
      const stream = blockRangeReadStream(aio, file, { blockSize: BS, release: 'manual', pool });
      await stream.next();
      await stream.next();
      await assert.rejects(stream.next(), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_BUFFER_STATE');
      await stream.end();
      await file.close();
    });

    it(`${kind}: in next mode a buffer can be released early, and twice without harm`, async () => {
      const { aio } = context(kind);
      const file = aio.open(makeFile(bytes(BS * 64, 16)));
      const stream = blockRangeReadStream(aio, file, { blockSize: BS, maxIos: 1, combineLimit: BS });
      const first = (await stream.next()) as ReadStreamItem<undefined>;
      stream.release(first.buffer);
      stream.release(first.buffer);
      assert.equal(stream.pool.available, stream.pool.count - stream.stats().queued);
      for (let i = 1; i < 64; i++) assert.equal((await stream.next())?.block, i);
      await stream.end();
      await file.close();
    });

    it(`${kind}: two next() at once is a usage error`, async () => {
      const { aio } = context(kind);
      const file = aio.open(makeFile(bytes(BS * 8, 14)));
      const stream = blockRangeReadStream(aio, file, { blockSize: BS });
      const first = stream.next();
      await assert.rejects(stream.next(), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_BUSY');
      await first;
      await stream.end();
      await file.close();
    });

    it(`${kind}: a range stream reads blocks start to end - 1 from a direct file with pool pages`, async (ctx) => {
      if (fs.constants.O_DIRECT === undefined) ctx.skip('no O_DIRECT here');
      const content = bytes(8192 * 64, 15);
      const { aio } = context(kind);
      const target = makeFile(content);
      let file: AioFile;
      try {
        file = aio.open(target, { direct: true });
      } catch (error) {
        ctx.skip(`the temporary directory refuses O_DIRECT: ${(error as Error).message}`);
        return;
      }
      const items = await collect(blockRangeReadStream(aio, file, { start: 10, end: 50 }));
      assert.deepEqual(
        items.map((i) => i.block),
        Array.from({ length: 40 }, (_, i) => i + 10),
      );
      for (const item of items) assert.ok(item.bytes.equals(content.subarray(item.block * 8192, (item.block + 1) * 8192)));
      await file.close();
    });
  });
}

describe('read stream: options', () => {
  it('rejects bad options with usage errors', () => {
    const { aio } = context('sync');
    const file = aio.open(makeFile(bytes(BS, 1)));
    const usage = (code: string) => (e: unknown) => e instanceof AioUsageError && e.code === code;
    assert.throws(() => readStream(aio, file, {} as never), usage('AIO_ERR_INVALID_TYPE'));
    assert.throws(() => readStream(aio, file, { nextBlock: () => null, blockSize: 0 }), usage('AIO_ERR_OUT_OF_RANGE'));
    assert.throws(() => readStream(aio, file, { nextBlock: () => null, release: 'later' as never }), usage('AIO_ERR_INVALID_OPTION'));
    assert.throws(() => readStream(aio, file, { nextBlock: () => null, pool: new AlignedPagePool(512, 2) }), usage('AIO_ERR_INVALID_OPTION'));
    assert.throws(() => readStream(aio, {} as never, { nextBlock: () => null }), usage('AIO_ERR_INVALID_TYPE'));
    assert.throws(() => readStream(aio, file, { nextBlock: () => null, speed: 1 } as never), usage('AIO_ERR_INVALID_OPTION'));
    file.closeSync();
  });

  it('a bad block number from the callback is a usage error from next()', async () => {
    const { aio } = context('sync');
    const file = aio.open(makeFile(bytes(BS, 1)));
    const stream = readStream(aio, file, { nextBlock: () => -1 });
    await assert.rejects(stream.next(), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_OUT_OF_RANGE');
    await stream.end();
    await file.close();
  });

  it('the limits: combine in blocks (at least 1), maxIos capped by the context, distance cap (maxIos + 1) x combine and at least 2 x maxIos', () => {
    const { aio } = context('sync', 8);
    const file = aio.open(makeFile(bytes(BS, 1)));
    const a = readStream(aio, file, { nextBlock: () => null, blockSize: 8192 });
    assert.deepEqual([a.combineBlocks, a.maxIos, a.maxDistance], [16, 8, 144]);
    const b = readStream(aio, file, { nextBlock: () => null, blockSize: 8192, combineLimit: 1000, maxIos: 2 });
    assert.deepEqual([b.combineBlocks, b.maxIos, b.maxDistance], [1, 2, 4], 'room for maxIos reads in flight and as many blocks done');
    file.closeSync();
  });
});
