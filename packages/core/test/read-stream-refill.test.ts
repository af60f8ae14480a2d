import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'vitest';
import { Aio, blockRangeReadStream, readStream, type AioFile, type AioMethodFactory } from '../src/index.js';
import { injectShortRead } from '../src/testing.js';
import { DeferredMethod } from './deferred-method.js';
import { seededBytes as bytes } from './io-helpers.js';
import { tempWorld } from './temp-world.js';

/*
 * How the read stream delivers: in stream order whatever order its reads
 * complete in, whole runs of ready blocks per nextBatch(), freed read slots
 * refilled while the consumer is away, and the buffered flag on its reads.
 */

const BS = 1024;
const world = tempWorld('aio-stream-refill-', { clearInjection: true });

/** The deferred method, except that each turn completes the newest IO first: every read finishes before the ones started earlier. */
class NewestFirstMethod extends DeferredMethod {
  override completeAll(): void {
    while (this.inFlight.length > 0) {
      const io = this.inFlight[this.inFlight.length - 1];
      this.complete(io, this.host.executeSynchronously(io));
    }
  }
}

function context(kind: 'deferred' | 'newest-first'): { aio: Aio; method: () => DeferredMethod } {
  let created: DeferredMethod | undefined;
  const factory: AioMethodFactory = {
    name: 'threadpool',
    probe: () => ({ available: true, reason: 'test method' }),
    create(host) {
      created = kind === 'deferred' ? new DeferredMethod(host) : new NewestFirstMethod(host);
      return created;
    },
  };
  const aio = world.track(new Aio({ method: factory }));
  return { aio, method: () => created as DeferredMethod };
}

describe('read stream delivery', () => {
  it('reads that complete newest first still hand out every block in stream order with its bytes', async () => {
    const content = bytes(BS * 200, 21);
    const { aio, method } = context('newest-first');
    const file = aio.open(world.file(content));
    const blocks: number[] = [];
    for (let b = 0; b < 200; b++) if (b % 9 !== 4) blocks.push(b);
    let at = 0;
    injectShortRead(BS + 10, { times: 5 });
    const stream = readStream(aio, file, { blockSize: BS, combineLimit: 4 * BS, maxIos: 6, nextBlock: () => (at < blocks.length ? blocks[at++] : null) });
    const got: number[] = [];
    for await (const item of stream) {
      assert.ok(item.buffer.subarray(0, item.length).equals(content.subarray(item.block * BS, (item.block + 1) * BS)), `block ${item.block}`);
      got.push(item.block);
    }
    assert.deepEqual(got, blocks);
    assert.ok(method().peakInFlight > 1, 'several reads were in flight, so they did complete out of order');
    assert.ok(stream.stats().retries >= 1, 'short reads were retried in between');
    await file.close();
  });

  it('nextBatch() hands out every ready block at once, in order, and keeps their pages until the next step', async () => {
    const content = bytes(BS * 300, 22);
    const { aio } = context('deferred');
    const file = aio.open(world.file(content));
    const stream = blockRangeReadStream(aio, file, { blockSize: BS, combineLimit: 4 * BS, maxIos: 4 });
    let next = 0;
    let batches = 0;
    for (let batch = await stream.nextBatch(); batch !== null; batch = await stream.nextBatch()) {
      batches++;
      // Let completions and refills run before the batch is checked: none may reuse its pages.
      await new Promise((resolve) => setImmediate(resolve));
      for (const item of batch) {
        assert.equal(item.block, next++);
        assert.ok(item.buffer.subarray(0, item.length).equals(content.subarray(item.block * BS, (item.block + 1) * BS)), `block ${item.block} unchanged`);
      }
    }
    assert.equal(next, 300);
    assert.ok(batches < 300, 'ready blocks came several at a time');
    assert.equal(stream.pool.available, stream.pool.count);
    await assert.doesNotReject(stream.end());
    await file.close();
  });

  it('next() and nextBatch() at once is a usage error', async () => {
    const { aio } = context('deferred');
    const file = aio.open(world.file(bytes(BS * 8, 23)));
    const stream = blockRangeReadStream(aio, file, { blockSize: BS });
    const first = stream.nextBatch();
    await assert.rejects(stream.next(), { code: 'AIO_ERR_BUSY' });
    await first;
    await stream.end();
    await file.close();
  });

  it('slots freed while the consumer awaits something else are refilled at once: maxIos reads stay in flight', async () => {
    const { aio, method } = context('deferred');
    const file = aio.open(world.file(bytes(BS * 400, 24)));
    const maxIos = 4;
    let away = false;
    let startedWhileAway = 0;
    const stream = blockRangeReadStream(aio, file, {
      blockSize: BS,
      combineLimit: BS,
      maxIos,
      onRead: () => {
        if (away) startedWhileAway++;
        assert.ok(stream.stats().inFlight <= maxIos);
      },
    });
    let blocks = 0;
    for await (const item of stream) {
      assert.equal(item.block, blocks++);
      away = true;
      await new Promise((resolve) => setImmediate(resolve));
      away = false;
    }
    assert.equal(blocks, 400);
    assert.ok(startedWhileAway > 0, 'reads started while the consumer was away');
    assert.equal(method().peakInFlight, maxIos, 'the method saw maxIos reads in flight');
  });

  it('reads of a buffered file carry the buffered flag; a direct file\'s do not', async (ctx) => {
    const { aio } = context('deferred');
    const target = world.file(bytes(8192 * 32, 25));
    const flagsOf = async (file: AioFile): Promise<boolean[]> => {
      const seen: boolean[] = [];
      const stream = blockRangeReadStream(aio, file, {
        full: true,
        onRead: () => seen.push(...aio.inspect().filter((row) => row.state === 'staged' && row.op !== undefined).map((row) => row.flags.buffered)),
      });
      for await (const item of stream) assert.equal(item.length, 8192);
      await file.close();
      return seen;
    };
    const buffered = await flagsOf(aio.open(target));
    assert.ok(buffered.length > 0 && buffered.every(Boolean), 'buffered reads are flagged');
    if (fs.constants.O_DIRECT === undefined) ctx.skip('no O_DIRECT here');
    let direct: AioFile;
    try {
      direct = aio.open(target, { direct: true });
    } catch (error) {
      ctx.skip(`the temporary directory refuses O_DIRECT: ${(error as Error).message}`);
      return;
    }
    const flags = await flagsOf(direct);
    assert.ok(flags.length > 0 && flags.every((flag) => !flag), 'direct reads are not flagged');
  });
});
