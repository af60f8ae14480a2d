/**
 * The helpers on every method: the read stream (holes, all-cached,
 * all-miss, mixed; the PostgreSQL 18 distance rule; the combine limit;
 * per-buffer data; short reads retried), write-back (the window, the hook
 * before each write, the sync after draining, failed pages left dirty) and
 * aligned page pools with real O_DIRECT IO.
 */
import assert from 'node:assert/strict';
import {
  Aio,
  AioIoError,
  AlignedPagePool,
  blockRangeReadStream,
  readStream,
  writeBack,
  type AioFile,
  type AioIoView,
  type AioMethodFactory,
  type DirtyPage,
  type ReadStreamDistanceCause,
  type ReadStreamItem,
} from '@aio/core';
import { assertQuiescent, injectErrno, injectShortRead, setInjection } from '@aio/core/testing';
import { defineCase, filesystemOf, type Fixture } from '../fixture.js';
import type { CaseContext, Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { pattern, submitWatched } from '../util.js';

const BS = 4096;

interface Delivered<T> {
  block: number;
  data: T;
  bytes: Buffer;
  cached: boolean;
}

/** Consumes a stream, copying each block before the next step recycles its buffer. */
async function consume<T>(stream: AsyncIterable<ReadStreamItem<T>>): Promise<Delivered<T>[]> {
  const out: Delivered<T>[] = [];
  for await (const item of stream) {
    out.push({ block: item.block, data: item.data, bytes: Buffer.from(item.buffer.subarray(0, item.length)), cached: item.cached });
  }
  return out;
}

function blockOf(content: Buffer, block: number): Buffer {
  return content.subarray(block * BS, (block + 1) * BS);
}

type Trace = { distance: number; cause: ReadStreamDistanceCause }[];

/** Each step of the trace is what PostgreSQL 18's rule gives from the step before (a hit never lowers it below 1, nor raises it from 0 after the end). */
function assertDistanceRule(trace: Trace, maxDistance: number): void {
  let previous = 1;
  trace.forEach(({ distance, cause }, i) => {
    const expected = cause === 'hit' ? (previous > 1 ? previous - 1 : previous) : cause === 'wait' ? Math.min(previous * 2, maxDistance) : cause === 'end' ? 0 : 1;
    assert.equal(distance, expected, `step ${i} (${cause}): ${previous} -> ${distance}, the rule gives ${expected}`);
    previous = distance;
  });
}

/**
 * A context on the method under test whose every submit is seen first, with
 * the number of IOs already in flight: the window can be checked from the
 * method's side.  Closed by the caller.
 */
function observedContext(m: MethodUnderTest, onSubmit: (aio: Aio, ios: readonly AioIoView[], count: number) => void): Aio {
  const factory = m.factory as AioMethodFactory;
  const context: { aio?: Aio } = {};
  const observed = submitWatched(factory, (ios, count) => {
    if (context.aio !== undefined) onSubmit(context.aio, ios, count);
  });
  context.aio = new Aio({ method: observed });
  return context.aio;
}

function skipUnlessDirect(aio: Aio, fx: Fixture, m: MethodUnderTest, t: CaseContext): void {
  if (!aio.capabilities.direct) t.skip(`the ${m.name} method does not do direct I/O on ${process.platform}`);
  const fsType = filesystemOf(fx.dir);
  if (fsType === 'tmpfs') t.skip(`${fx.dir} is on tmpfs, which has no real O_DIRECT; set AIO_CONFORMANCE_DIR to an ext4 path`);
}

export function defineHelperCases(h: Harness, m: MethodUnderTest): void {
  defineReadStreamCases(h, m);
  defineWriteBackCases(h, m);
  definePagePoolCases(h, m);
}

function defineReadStreamCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'read stream: a block sequence with holes is read in order, no read crosses a hole or exceeds the combine limit', async (fx) => {
    const aio = fx.aio();
    const content = pattern(BS * 300, 41);
    const file = aio.open(fx.path(content));
    const blocks: number[] = [];
    for (let b = 0; b < 300; b++) if (b % 9 !== 4 && b % 13 !== 7) blocks.push(b);
    let at = 0;
    const reads: [number, number][] = [];
    const stream = readStream(aio, file, {
      blockSize: BS,
      combineLimit: 6 * BS,
      maxIos: 4,
      nextBlock: () => (at < blocks.length ? blocks[at++] : null),
      onRead: (block, count) => {
        reads.push([block, count]);
        assert.ok(stream.stats().inFlight <= 4, 'never more than maxIos reads in flight');
      },
    });
    const items = await consume(stream);
    assert.deepEqual(
      items.map((i) => i.block),
      blocks,
    );
    for (const item of items) assert.ok(item.bytes.equals(blockOf(content, item.block)), `block ${item.block} has the file's bytes`);
    const wanted = new Set(blocks);
    for (const [block, count] of reads) {
      assert.ok(count >= 1 && count <= 6, `a read of ${count} blocks (limit 6)`);
      for (let b = block; b < block + count; b++) assert.ok(wanted.has(b), `the read at block ${block} of ${count} covers the hole at ${b}`);
    }
    await file.close();
  });

  defineCase(h, m, 'read stream: all-miss over a whole file follows the PostgreSQL 18 distance rule within (maxIos + 1) x combine', async (fx) => {
    const aio = fx.aio();
    const content = pattern(BS * 512 + 1000, 42);
    const file = aio.open(fx.path(content));
    const trace: Trace = [];
    const stream = blockRangeReadStream(aio, file, { blockSize: BS, combineLimit: 8 * BS, maxIos: 6, onDistance: (distance, cause) => trace.push({ distance, cause }) });
    assert.equal(stream.maxDistance, 56);
    const items = await consume(stream);
    assert.equal(items.length, 513);
    for (const item of items.slice(0, 512)) assert.ok(item.bytes.equals(blockOf(content, item.block)));
    assert.ok(items[512].bytes.equals(content.subarray(512 * BS)), 'the short last block holds the end of the file');
    assertDistanceRule(trace, 56);
    assert.equal(trace.at(-1)?.cause, 'end');
    assert.ok(stream.stats().largestRead <= 8);
    assert.equal(stream.stats().hits, 0);
    if (m.name === 'sync') assert.equal(stream.stats().waits, 0, 'on sync reads complete as they start: no wait, distance 1, reading in order');
    await file.close();
  });

  defineCase(h, m, 'read stream: all-cached does no IO and stays at distance 1', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(BS * 64));
    const cache = Array.from({ length: 64 }, (_, b) => Buffer.alloc(BS, b));
    const trace: Trace = [];
    const started = aio.stats().started;
    const stream = blockRangeReadStream(aio, file, { blockSize: BS, isCached: (b) => cache[b], onDistance: (distance, cause) => trace.push({ distance, cause }) });
    let b = 0;
    for await (const item of stream) {
      assert.ok(item.cached);
      assert.equal(item.buffer, cache[b++], 'the very buffer isCached returned');
    }
    assert.equal(b, 64);
    assert.equal(aio.stats().started, started, 'no IO was started');
    assertDistanceRule(trace, stream.maxDistance);
    assert.ok(trace.every((step) => step.distance <= 1));
    await file.close();
  });

  defineCase(h, m, 'read stream: mixed hits and misses deliver every block, hits split reads and lower the distance', async (fx) => {
    const aio = fx.aio();
    const content = pattern(BS * 400, 43);
    const file = aio.open(fx.path(content));
    const cached = (b: number): boolean => b % 6 === 0 || (b >= 150 && b < 180);
    const reads: [number, number][] = [];
    const trace: Trace = [];
    const stream = blockRangeReadStream(aio, file, {
      blockSize: BS,
      combineLimit: 16 * BS,
      isCached: (b) => (cached(b) ? Buffer.from(blockOf(content, b)) : null),
      onRead: (block, count) => reads.push([block, count]),
      onDistance: (distance, cause) => trace.push({ distance, cause }),
    });
    const items = await consume(stream);
    assert.equal(items.length, 400);
    for (const item of items) {
      assert.equal(item.cached, cached(item.block), `block ${item.block}`);
      assert.ok(item.bytes.equals(blockOf(content, item.block)), `block ${item.block}`);
    }
    for (const [block, count] of reads) for (let b = block; b < block + count; b++) assert.ok(!cached(b), `a read covers the cached block ${b}`);
    assertDistanceRule(trace, stream.maxDistance);
    assert.equal(trace.filter((step) => step.cause === 'hit').length, items.filter((i) => i.cached).length, 'one distance step per hit');
    await file.close();
  });

  defineCase(h, m, 'read stream: per-buffer data arrives with its block', async (fx) => {
    const aio = fx.aio();
    const content = pattern(BS * 100, 44);
    const file = aio.open(fx.path(content));
    const order = [3, 4, 5, 6, 50, 51, 10, 99, 98, 97, 20, 21, 22, 23, 24];
    let at = 0;
    const stream = readStream<{ index: number; tag: string }>(aio, file, {
      blockSize: BS,
      nextBlock: () => (at < order.length ? { block: order[at], data: { index: at, tag: `b${order[at++]}` } } : null),
    });
    const items = await consume(stream);
    assert.deepEqual(
      items.map((i) => [i.block, i.data.index, i.data.tag]),
      order.map((b, i) => [b, i, `b${b}`]),
    );
    for (const item of items) assert.ok(item.bytes.equals(blockOf(content, item.block)));
    await file.close();
  });

  defineCase(h, m, 'read stream: short reads are retried by the stream, errors surface at their block', async (fx) => {
    const aio = fx.aio();
    const content = pattern(BS * 64, 45);
    const file = aio.open(fx.path(content));
    injectShortRead(BS + 100, { times: 4 });
    const stream = blockRangeReadStream(aio, file, { blockSize: BS, full: true, combineLimit: 8 * BS });
    const items = await consume(stream);
    assert.equal(items.length, 64);
    for (const item of items) assert.ok(item.bytes.equals(blockOf(content, item.block)), `block ${item.block}`);
    assert.ok(stream.stats().retries >= 4, `${stream.stats().retries} retries`);

    const failing = blockRangeReadStream(aio, file, { blockSize: BS });
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const item of failing) {
        seen.push(item.block);
        if (item.block === 5) injectErrno('EIO', { op: ['read', 'readv'] });
      }
    }, (error: unknown) => error instanceof AioIoError && error.code === 'EIO' && error.method === m.name);
    assert.ok(seen.length >= 6 && seen.every((b, i) => b === i), 'blocks before the failure were delivered in order');
    assert.ok(failing.ended);
    assert.equal(failing.pool.available, failing.pool.count, 'an error ends the stream and gives every page back');
    await file.close();
  });

  defineCase(h, m, 'read stream: a direct file is read through the stream\'s aligned pages', async (fx, t) => {
    const aio = fx.aio();
    skipUnlessDirect(aio, fx, m, t);
    const content = pattern(8192 * 200, 46);
    const file = aio.open(fx.path(content), { direct: true });
    const items = await consume(blockRangeReadStream(aio, file, { start: 7, end: 190 }));
    assert.equal(items.length, 183);
    for (const item of items) assert.ok(item.bytes.equals(content.subarray(item.block * 8192, (item.block + 1) * 8192)), `block ${item.block}`);
    await file.close();
  });
}

interface Page extends DirtyPage {
  id: number;
}

function dirtyPages(file: AioFile, count: number, slots: number, seed: number): Page[] {
  return Array.from({ length: count }, (_, i) => ({ id: i, file, offset: ((i * 61) % slots) * BS, buffer: pattern(BS, seed + i), lsn: 100 + i }));
}

function defineWriteBackCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'write-back: never more than window writes in flight, the hook before each write, one sync per file after draining', async (fx) => {
    const events: string[] = [];
    let peakWrites = 0;
    let syncSubmittedWithWritesInFlight = false;
    const aio = observedContext(m, (context, handles, count) => {
      const ops = handles.slice(0, count).map((handle) => handle.opName);
      const inFlight = context.stats().inFlight;
      if (ops.includes('write')) peakWrites = Math.max(peakWrites, inFlight + ops.filter((op) => op === 'write').length);
      if ((ops.includes('fsync') && inFlight > 0) || (ops.includes('fsync') && ops.includes('write'))) syncSubmittedWithWritesInFlight = true;
    });
    try {
      const paths = [fx.path(BS * 128), fx.path(BS * 128)];
      const files = paths.map((p) => aio.open(p, { read: true, write: true }));
      const pages = files.flatMap((file, f) => dirtyPages(file, 100, 128, 1000 * (f + 1)));
      setInjection((info) => {
        events.push(info.op === 'fsync' ? `fsync ${info.path}` : info.op);
        return undefined;
      });
      const hooked = new Set<Page>();
      const result = await writeBack(aio, pages, {
        window: 6,
        beforeWrite: (page) => {
          assert.ok(aio.stats().inFlight <= 5, 'room in the window when a page is taken');
          assert.ok(!fx.read(page.file.path as string).subarray(page.offset, page.offset + BS).equals(page.buffer as Buffer), `page ${page.id} is not written before its hook`);
          hooked.add(page);
        },
        onClean: (page) => assert.ok(hooked.has(page), 'clean only after the hook ran'),
      });
      setInjection(null);
      assert.equal(result.clean.length, 200);
      assert.equal(hooked.size, 200);
      assert.ok(result.maxInFlight <= 6);
      assert.ok(peakWrites <= 6, `the method saw ${peakWrites} writes in flight`);
      assert.ok(!syncSubmittedWithWritesInFlight, 'a sync was submitted before the window drained');
      const syncs = events.filter((e) => e.startsWith('fsync'));
      assert.deepEqual(syncs.sort(), paths.map((p) => `fsync ${p}`).sort(), 'each file synced once');
      assert.ok(events.lastIndexOf('write') < events.findIndex((e) => e.startsWith('fsync')), 'every write completed before any sync');
      for (const page of pages) assert.ok(fx.read(page.file.path as string).subarray(page.offset, page.offset + BS).equals(page.buffer as Buffer));
      for (const file of files) await file.close();
      assertQuiescent(aio);
    } finally {
      await aio.close();
    }
  });

  defineCase(h, m, 'write-back: failed writes leave their pages dirty, the rest are clean and synced', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(BS * 64), { read: true, write: true });
    const pages = dirtyPages(file, 40, 64, 7);
    const reported: Page[] = [];
    injectErrno('EIO', { op: 'write', times: 5 });
    const result = await writeBack(aio, pages, { window: 8, sync: 'fdatasync', onError: (page) => reported.push(page) });
    assert.equal(result.failed.length, 5);
    assert.equal(result.clean.length, 35);
    assert.deepEqual(
      result.failed.map((f) => f.page),
      reported,
    );
    for (const { page, error } of result.failed) {
      assert.ok(error instanceof AioIoError && error.code === 'EIO' && error.syscall === 'write');
      assert.ok(!result.clean.includes(page), `failed page ${page.id} reported clean`);
    }
    assert.deepEqual(result.synced, [file]);
    await file.close();
  });

  defineCase(h, m, 'write-back: an async hook (a WAL flush) holds its page until it resolves', async (fx) => {
    const aio = fx.aio();
    const filePath = fx.path(BS * 32);
    const file = aio.open(filePath, { read: true, write: true });
    const pages = dirtyPages(file, 24, 32, 300);
    let flushed = -1;
    const result = await writeBack(aio, pages, {
      window: 4,
      beforeWrite: async (page) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        flushed = Math.max(flushed, page.lsn as number);
      },
      onClean: (page) => assert.ok((page.lsn as number) <= flushed, `page with LSN ${page.lsn} written before the log reached it`),
    });
    assert.equal(result.clean.length, 24);
    await file.close();
  });

  defineCase(h, m, 'write-back: direct writes from an aligned page pool', async (fx, t) => {
    const aio = fx.aio();
    skipUnlessDirect(aio, fx, m, t);
    const filePath = fx.path(8192 * 64);
    const file = aio.open(filePath, { read: true, write: true, direct: true });
    const pool = new AlignedPagePool(8192, 8);
    const expected = new Map<number, Buffer>();
    function* generate(): Generator<DirtyPage> {
      for (let i = 0; i < 64; i++) {
        const buffer = pool.get();
        assert.ok(buffer !== null, 'a pool page is free whenever the window has room');
        pattern(8192, 500 + i).copy(buffer);
        const offset = ((i * 29) % 64) * 8192;
        expected.set(offset, pattern(8192, 500 + i));
        yield { file, offset, buffer };
      }
    }
    const result = await writeBack(aio, generate(), { window: 8, onClean: (page) => pool.put(page.buffer), onError: (page) => pool.put(page.buffer) });
    assert.equal(result.failed.length, 0, result.failed.map((f) => f.error.message).join('; '));
    assert.equal(pool.available, 8);
    const content = fx.read(filePath);
    for (const [offset, bytes] of expected) assert.ok(content.subarray(offset, offset + 8192).equals(bytes), `page at ${offset}`);
    await file.close();
  });
}

function definePagePoolCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'aligned page pool: every page reads a direct file; a view off by 512 bytes of alignment or an odd offset fails with EINVAL', async (fx, t) => {
    const aio = fx.aio();
    skipUnlessDirect(aio, fx, m, t);
    if (filesystemOf(fx.dir) === undefined) t.skip('cannot tell the filesystem type here; unaligned direct I/O is only refused on block filesystems');
    const content = pattern(65536, 47);
    const file = aio.open(fx.path(content), { direct: true });
    const pool = new AlignedPagePool(4096, 16);
    for (let i = 0; i < 16; i++) {
      const page = pool.get() as Buffer;
      assert.equal(await file.read(page, i * 4096), 4096, `page ${i}`);
      assert.ok(page.equals(content.subarray(i * 4096, (i + 1) * 4096)));
    }
    const misaligned = pool.slab.subarray(100, 100 + 4096);
    await assert.rejects(file.read(misaligned, 0), (e: unknown) => e instanceof AioIoError && e.code === 'EINVAL');
    await assert.rejects(file.read(pool.page(0), 100), (e: unknown) => e instanceof AioIoError && e.code === 'EINVAL');
    await file.close();
  });
}
