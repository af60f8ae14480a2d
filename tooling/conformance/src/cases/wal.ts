/**
 * The WAL writer on every method: several flushes in flight acknowledged in
 * LSN order, group commit, every durability mode, short writes retried,
 * injected EIO and ENOSPC (a failed flush is reported and nothing after it
 * is acknowledged), recovery stopping at a torn tail, segments recycled, and
 * usage errors.  Records are compared byte for byte with what was appended.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { AioIoError, AioUsageError, WalWriter, readWal, type Aio, type WalDurability, type WalRecord } from '@aio/core';
import { setInjection } from '@aio/core/testing';
import { defineCase, filesystemOf, type Fixture } from '../fixture.js';
import type { CaseContext, Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { pattern, skipUnlessDsync } from '../util.js';

const LAYOUT = { segmentSize: 128 * 1024, blockSize: 4096 } as const;

function payload(i: number): Buffer {
  return pattern(20 + ((i * 53) % 700), i + 1);
}

async function readBack(aio: Aio, dir: string, from?: number): Promise<{ records: WalRecord[]; end: number }> {
  const reader = readWal(aio, dir, { ...LAYOUT, from });
  const records: WalRecord[] = [];
  for await (const record of reader) records.push(record);
  return { records, end: reader.endLsn };
}

/** The segment files in `dir`, sorted (not the temporary file of a segment being created). */
function segmentNames(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.wal'))
    .sort();
}

function skipUnlessDirect(aio: Aio, fx: Fixture, m: MethodUnderTest, t: CaseContext): void {
  if (!aio.capabilities.direct) t.skip(`the ${m.name} method does not do direct I/O on ${process.platform}`);
  if (filesystemOf(fx.dir) === 'tmpfs') t.skip(`${fx.dir} is on tmpfs, which has no real O_DIRECT; set AIO_CONFORMANCE_DIR to an ext4 path`);
}

export function defineWalCases(h: Harness, m: MethodUnderTest): void {
  for (const durability of ['dsync', 'fdatasync', 'direct-dsync'] as const satisfies readonly WalDurability[]) {
    defineCase(h, m, `wal (${durability}): concurrent commits are acknowledged in LSN order, only once durable, and read back byte for byte`, async (fx, t) => {
      const aio = fx.aio();
      if (durability === 'direct-dsync') skipUnlessDirect(aio, fx, m, t);
      if (durability !== 'fdatasync') skipUnlessDsync(aio, path.join(fx.dir, 'dsync-probe'), m.name, t);
      const dir = fx.path();
      const wal = await WalWriter.open(aio, dir, { ...LAYOUT, durability, maxFlushes: 4 });
      const acknowledged: number[] = [];
      const commits: Promise<void>[] = [];
      const ends: number[] = [];
      for (let i = 0; i < 200; i++) {
        const end = wal.append(payload(i));
        ends.push(end);
        commits.push(
          wal.flush(end).then(() => {
            assert.ok(wal.durableLsn >= end, 'acknowledged only once durable');
            acknowledged.push(end);
          }),
        );
        // Commits arrive in bursts, so groups hold several records.
        if (i % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(commits);
      assert.deepEqual(acknowledged, ends, 'acknowledged in LSN order');
      assert.ok(wal.stats.groups < 200, `group commit: ${wal.stats.groups} groups for 200 commits`);
      await wal.close();
      const { records } = await readBack(aio, dir);
      assert.equal(records.length, 200);
      records.forEach((record, i) => {
        assert.ok(record.data.equals(payload(i)), `record ${i}`);
        assert.equal(record.endLsn, ends[i]);
      });
    });
  }

  for (const code of ['EIO', 'ENOSPC'] as const) {
    defineCase(h, m, `wal: a flush that fails with injected ${code} is reported and nothing after it is acknowledged`, async (fx) => {
      const aio = fx.aio();
      const dir = fx.path();
      const wal = await WalWriter.open(aio, dir, { ...LAYOUT, maxFlushes: 4 });
      const first = wal.append(payload(1));
      await wal.flush(first);
      // The write of the next group fails, whatever order the method completes the two groups in.
      const failAt = wal.endLsn % LAYOUT.segmentSize;
      // libuv's number for the name (Node's), which is not the POSIX number on Windows.
      const errno = [...getSystemErrorMap()].find(([, [name]]) => name === code)?.[0];
      setInjection((info) => (info.op === 'write' && info.offset === failAt ? errno : undefined));
      const failing = wal.flush(wal.append(payload(2)));
      const later = wal.flush(wal.append(payload(3)));
      const results = await Promise.allSettled([failing, later]);
      for (const result of results) {
        assert.equal(result.status, 'rejected');
        const error = (result as PromiseRejectedResult).reason as unknown;
        assert.ok(error instanceof AioIoError && error.code === code, String(error));
      }
      assert.ok(wal.durableLsn >= first && wal.durableLsn < wal.endLsn);
      assert.equal(wal.state, 'failed');
      assert.throws(() => wal.append(payload(4)), (e: unknown) => e instanceof AioIoError && e.code === code);
      await wal.close();
      // Recovery finds at least the acknowledged record; a later group may have reached the disk, never an earlier gap.
      const { records } = await readBack(aio, dir);
      assert.ok(records.length >= 1 && records[0].data.equals(payload(1)));
    });
  }

  defineCase(h, m, 'wal: short writes are retried until the whole group is written', async (fx) => {
    const aio = fx.aio();
    const dir = fx.path();
    const wal = await WalWriter.open(aio, dir, LAYOUT);
    let shortened = 0;
    setInjection((info) => {
      if (info.op !== 'write' || info.raw <= 512 || shortened >= 4) return undefined;
      shortened++;
      return 512;
    });
    for (let i = 0; i < 40; i++) wal.append(payload(i));
    await wal.flush();
    setInjection(null);
    assert.equal(shortened, 4);
    assert.ok(wal.stats.retries >= 4);
    await wal.close();
    const { records } = await readBack(aio, dir);
    assert.equal(records.length, 40);
    records.forEach((record, i) => assert.ok(record.data.equals(payload(i)), `record ${i}`));
  });

  defineCase(h, m, 'wal: recovery stops at a torn record and the reopened log continues after the last good one', async (fx) => {
    const aio = fx.aio();
    const dir = fx.path();
    const wal = await WalWriter.open(aio, dir, LAYOUT);
    const ends = [0, 1, 2, 3, 4, 5].map((i) => wal.append(payload(i)));
    await wal.flush();
    await wal.close();
    const fifth = (await readBack(aio, dir)).records[4];
    const segment = path.join(dir, fs.readdirSync(dir).sort()[0]);
    const bytes = fs.readFileSync(segment);
    bytes[fifth.lsn + 30] ^= 0x55; // Inside the fifth record's payload.
    fs.writeFileSync(segment, bytes);
    const torn = await readBack(aio, dir);
    assert.equal(torn.records.length, 4);
    assert.equal(torn.end, ends[3]);
    const reopened = await WalWriter.open(aio, dir, LAYOUT);
    await reopened.flush(reopened.append(payload(9)));
    await reopened.close();
    const { records } = await readBack(aio, dir);
    assert.deepEqual(
      records.map((record) => record.data),
      [0, 1, 2, 3, 9].map(payload),
    );
  });

  defineCase(h, m, 'wal: segments are pre-allocated, recycled after a checkpoint, and the log reads across them', async (fx) => {
    const aio = fx.aio();
    const dir = fx.path();
    const wal = await WalWriter.open(aio, dir, LAYOUT);
    const big = (i: number): Buffer => pattern(9000, i + 100);
    for (let i = 0; i < 40; i++) await wal.flush(wal.append(big(i)));
    // The segment after the current one is being prepared in the background: only finished segments are looked at.
    for (const name of segmentNames(dir)) assert.equal(fs.statSync(path.join(dir, name)).size, LAYOUT.segmentSize, `${name} is pre-allocated`);
    const redo = wal.durableLsn;
    assert.ok(wal.recycleBefore(redo) >= 2);
    assert.equal(wal.recycleBefore(redo), 0, 'a segment is made recyclable once');
    for (let i = 0; i < 30; i++) await wal.flush(wal.append(big(50 + i)));
    assert.ok(wal.stats.segmentsRecycled >= 2);
    // Closing waits for the preparation running ahead; then every file is one created or one renamed.
    await wal.close();
    assert.deepEqual(fs.readdirSync(dir).sort(), segmentNames(dir), 'no temporary file is left');
    assert.equal(fs.readdirSync(dir).length, wal.stats.segmentsCreated, 'recycled by rename: no new files');
    const { records } = await readBack(aio, dir, redo);
    assert.equal(records.length, 30);
    records.forEach((record, i) => assert.ok(record.data.equals(big(50 + i)), `record ${i}`));
  });

  defineCase(h, m, 'wal: bad input gets usage errors (an LSN beyond the end, a flush on a closed log, records that are not buffers)', async (fx) => {
    const aio = fx.aio();
    const dir = fx.path();
    const wal = await WalWriter.open(aio, dir, LAYOUT);
    const end = wal.append(payload(1));
    await assert.rejects(wal.flush(end + 8), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_OUT_OF_RANGE');
    assert.throws(() => wal.append({ length: 3 } as never), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_INVALID_TYPE');
    assert.throws(() => wal.append(['abc'] as never), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_INVALID_TYPE');
    await wal.close();
    await assert.rejects(wal.flush(end), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_CLOSED');
  });
}
