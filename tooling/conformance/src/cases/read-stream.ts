/**
 * The read stream's delivery on every method: blocks come out in stream
 * order with the file's bytes however the reads complete (mixed read sizes
 * and retried short reads make later reads finish first), slots freed by
 * completions are refilled while the consumer is away (the stream keeps
 * `maxIos` reads going instead of waiting for the consumer's next call),
 * `nextBatch()` hands out whole runs of ready blocks, the stream refills up to
 * `maxIos` reads while the consumer holds a batch, and reads of a file not
 * opened for direct I/O carry the `buffered` flag (PostgreSQL's
 * PGAIO_HF_BUFFERED), those of a direct file do not.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { blockRangeReadStream, readStream, type Aio, type AioFile } from '@aio/core';
import { injectShortRead } from '@aio/core/testing';
import { defineCase, filesystemOf } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { pattern } from '../util.js';

const BS = 4096;

/** The flags of the stream's reads that are staged right now (batch mode stages them before submitting). */
function stagedReadFlags(aio: Aio): boolean[] {
  return aio
    .inspect()
    .filter((row) => row.state === 'staged' && (row.op === 'read' || row.op === 'readv'))
    .map((row) => row.flags.buffered);
}

/** Whether the method runs every read inside its start (the sync method): nothing is ever in flight to refill. */
function completesAtStart(aio: Aio): boolean {
  return aio.capabilities.maxDepth === 1;
}

export function defineReadStreamCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'read stream: blocks come in stream order with the file\'s bytes while reads of mixed sizes and retried short reads complete out of order', async (fx) => {
    const aio = fx.aio();
    const content = pattern(BS * 300, 71);
    const file = aio.open(fx.path(content));
    // Runs of 1 to 8 consecutive blocks with holes between them: reads of different sizes in flight together.
    const blocks: number[] = [];
    for (let b = 0, run = 1; b < 300; b += run + 1, run = (run % 8) + 1) for (let i = b; i < Math.min(b + run, 300); i++) blocks.push(i);
    let at = 0;
    injectShortRead(BS + 100, { times: 12 });
    const stream = readStream(aio, file, { blockSize: BS, combineLimit: 8 * BS, maxIos: 8, nextBlock: () => (at < blocks.length ? blocks[at++] : null) });
    const got: number[] = [];
    for await (const item of stream) {
      assert.equal(item.length, BS);
      assert.ok(item.buffer.equals(content.subarray(item.block * BS, (item.block + 1) * BS)), `block ${item.block} holds the file's bytes`);
      got.push(item.block);
    }
    assert.deepEqual(got, blocks, 'every block once, in the order nextBlock gave them');
    assert.ok(stream.stats().retries >= 1, 'short reads were retried');
    await file.close();
  });

  defineCase(h, m, 'read stream: nextBatch() hands out runs of ready blocks in order, and their buffers stay valid until the next step', async (fx) => {
    const aio = fx.aio();
    const content = pattern(BS * 256, 72);
    const file = aio.open(fx.path(content));
    const stream = blockRangeReadStream(aio, file, { blockSize: BS, combineLimit: 8 * BS, maxIos: 4 });
    let next = 0;
    let largest = 0;
    for (let batch = await stream.nextBatch(); batch !== null; batch = await stream.nextBatch()) {
      assert.ok(batch.length >= 1);
      largest = Math.max(largest, batch.length);
      for (const item of batch) {
        assert.equal(item.block, next++);
        assert.ok(item.buffer.equals(content.subarray(item.block * BS, (item.block + 1) * BS)), `block ${item.block}`);
      }
    }
    assert.equal(next, 256);
    assert.ok(largest > 1, 'blocks that were ready together came in one batch');
    assert.equal(stream.pool.available, stream.pool.count, 'every page is back in the pool');
    await file.close();
  });

  defineCase(h, m, 'read stream: reads that complete while the consumer is away are refilled at once, keeping up to maxIos in flight', async (fx, t) => {
    const aio = fx.aio();
    if (completesAtStart(aio)) t.skip(`the ${m.name} method runs every read when it starts: none is in flight to complete while the consumer is away`);
    const file = aio.open(fx.path(BS * 512, 73));
    const maxIos = 4;
    let away = false;
    let startedWhileAway = 0;
    let peak = 0;
    const stream = blockRangeReadStream(aio, file, {
      blockSize: BS,
      maxIos,
      combineLimit: BS,
      full: true,
      onRead: () => {
        if (away) startedWhileAway++;
        peak = Math.max(peak, stream.stats().inFlight);
        assert.ok(stream.stats().inFlight <= maxIos, 'never more than maxIos reads');
      },
    });
    let blocks = 0;
    // Reads that completed while the consumer was away: in flight as it left, plus started meanwhile, minus
    // still in flight as it came back.  Only those free a slot that must be refilled before it returns.
    let completedWhileAway = 0;
    for await (const item of stream) {
      assert.equal(item.block, blocks++);
      // A slow consumer: it awaits something else while its reads complete.
      away = true;
      const left = stream.stats();
      if (blocks % 8 === 0) await sleep(10);
      else await new Promise((resolve) => setImmediate(resolve));
      const back = stream.stats();
      completedWhileAway += left.inFlight + (back.reads - left.reads) - back.inFlight;
      away = false;
      if (blocks === 128) break;
    }
    // Some methods finish page-cache reads inside the submission (iocp under Wine, a thread pool that runs
    // an IO before the submitter returns), and a slow emulator may finish them only after the consumer is
    // back: then no slot was freed while it was away, and there was nothing to refill.
    if (completedWhileAway === 0) {
      await file.close();
      t.skip(`no ${m.name} read completed while the consumer was away: no slot freed while it was away`);
    }
    assert.ok(startedWhileAway > 0, 'freed slots were refilled without waiting for the consumer');
    assert.equal(peak, maxIos, 'the stream kept maxIos reads in flight');
    await file.close();
  });

  defineCase(h, m, 'read stream: while the consumer holds a batch, completed reads are refilled up to maxIos and the batch\'s buffers keep their bytes', async (fx, t) => {
    const aio = fx.aio();
    if (completesAtStart(aio)) t.skip(`the ${m.name} method runs every read when it starts: none is in flight to complete while the consumer holds a batch`);
    const content = pattern(BS * 512, 75);
    const file = aio.open(fx.path(content));
    const maxIos = 4;
    let holding = false;
    let peakWhileHolding = 0;
    const stream = blockRangeReadStream(aio, file, {
      blockSize: BS,
      maxIos,
      combineLimit: BS,
      full: true,
      onRead: () => {
        if (holding) peakWhileHolding = Math.max(peakWhileHolding, stream.stats().inFlight);
      },
    });
    let next = 0;
    // Times the consumer took a batch with reads still in flight (reads that could complete while it holds it).
    let heldWithReadsInFlight = 0;
    for (let batch = await stream.nextBatch(); batch !== null; batch = await stream.nextBatch()) {
      // The consumer keeps the whole batch (its pages stay lent) and awaits something else meanwhile.
      if (stream.stats().inFlight > 0) heldWithReadsInFlight++;
      holding = true;
      await sleep(2);
      holding = false;
      for (const item of batch) {
        assert.equal(item.block, next++);
        assert.ok(item.buffer.equals(content.subarray(item.block * BS, (item.block + 1) * BS)), `block ${item.block} still holds its bytes after the wait`);
      }
      if (next >= 256) break;
    }
    await stream.end();
    await file.close();
    // As in the refill case: a method that finishes page-cache reads inside the submission has nothing in flight to refill.
    if (heldWithReadsInFlight === 0) t.skip(`every ${m.name} read had completed before the consumer held a batch: no slot freed while it held one`);
    assert.equal(peakWhileHolding, maxIos, 'the reads started while the batch was held brought the stream back to maxIos in flight');
  });

  defineCase(h, m, 'read stream: reads of a buffered file carry the buffered flag, reads of a direct file do not', async (fx, t) => {
    const aio = fx.aio();
    if (completesAtStart(aio)) t.skip(`the ${m.name} method runs every read when it starts: nothing is staged to inspect`);
    const check = async (file: AioFile, buffered: boolean): Promise<void> => {
      const seen: boolean[] = [];
      const stream = blockRangeReadStream(aio, file, { blockSize: 8192, full: true, onRead: () => seen.push(...stagedReadFlags(aio)) });
      for await (const item of stream) assert.ok(item.length > 0);
      assert.ok(seen.length > 0, 'the stream staged reads');
      assert.ok(seen.every((flag) => flag === buffered), `every staged read has buffered = ${buffered}`);
      await file.close();
    };
    const content = pattern(8192 * 64, 74);
    const filePath = fx.path(content);
    await check(aio.open(filePath), true);
    if (!aio.capabilities.direct || filesystemOf(fx.dir) === 'tmpfs') return;
    await check(aio.open(filePath, { direct: true }), false);
  });
}
