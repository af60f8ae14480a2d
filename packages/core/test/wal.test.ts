import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'vitest';
import { Aio, AioIoError, AioUsageError, WalWriter, crc32c, readWal, walDefaultDurability, type WalRecord } from '../src/index.js';
import { injectErrno, setInjection } from '../src/testing.js';
import { scripted, type ScriptedMethod } from './fake-method.js';
import { helperWorld } from './helper-world.js';

const world = helperWorld('aio-wal-');
const context = world.context;
const SMALL = { segmentSize: 64 * 1024, blockSize: 4096 } as const;

/** A fresh directory for a log, inside the test's directory. */
function walDir(): string {
  const marker = world.file(Buffer.alloc(0));
  fs.rmSync(marker);
  return marker;
}

function record(i: number, size = 40 + (i % 7) * 13): Buffer {
  return Buffer.alloc(size, (i * 31 + 7) & 0xff);
}

async function readAll(aio: Aio, dir: string, options: { from?: number; segmentSize?: number } = {}): Promise<{ records: WalRecord[]; end: number; reason: string | null }> {
  const reader = readWal(aio, dir, { ...SMALL, ...options });
  const records: WalRecord[] = [];
  for await (const item of reader) records.push(item);
  return { records, end: reader.endLsn, reason: reader.stopReason };
}

/** Settles a promise into a value for assertions, without an unhandled rejection. */
function settle(promise: Promise<void>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const box: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (box.state = 'resolved'),
    (error: unknown) => {
      box.state = 'rejected';
      box.error = error;
    },
  );
  return box;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('wal: checksums', () => {
  it('wal: crc32c matches the Castagnoli check value', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.from('6789'), crc32c(Buffer.from('12345'))), 0xe3069283);
  });

  it('wal: crc32c folding 8 bytes at a time agrees with the bit-by-bit definition at every length and offset', () => {
    const bitwise = (bytes: Uint8Array): number => {
      let c = 0xffffffff;
      for (const byte of bytes) {
        c ^= byte;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return ~c >>> 0;
    };
    const data = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 151 + 17) & 0xff));
    for (let start = 0; start < 9; start++) {
      for (let length = 0; length + start <= data.length; length += 7) {
        const view = data.subarray(start, start + length);
        assert.equal(crc32c(view), bitwise(view), `start ${start} length ${length}`);
      }
    }
  });
});

for (const kind of ['sync', 'deferred'] as const) {
  describe(`${kind}: wal`, () => {
    it(`${kind}: append returns increasing LSNs at once, flush makes them durable, and reading back returns every record`, async () => {
      const { aio } = context(kind);
      const dir = walDir();
      const wal = await WalWriter.open(aio, dir, SMALL);
      const start = wal.endLsn;
      const lsns: number[] = [];
      for (let i = 0; i < 20; i++) lsns.push(wal.append(record(i)));
      for (let i = 1; i < lsns.length; i++) assert.ok(lsns[i] > lsns[i - 1]);
      assert.equal(wal.durableLsn, start, 'nothing is durable before a flush');
      await wal.flush(lsns[9]);
      assert.ok(wal.durableLsn >= lsns[9]);
      await wal.flush();
      assert.ok(wal.durableLsn >= lsns[19]);
      await wal.close();
      const { records, reason } = await readAll(aio, dir);
      assert.equal(records.length, 20);
      records.forEach((item, i) => {
        assert.ok(item.data.equals(record(i)), `record ${i}`);
        assert.equal(item.endLsn, lsns[i]);
      });
      assert.equal(reason, 'invalid-record');
    });

    it(`${kind}: a reopened log continues after the recovered end, in a new epoch, and keeps the old records`, async () => {
      const { aio } = context(kind);
      const dir = walDir();
      const first = await WalWriter.open(aio, dir, SMALL);
      first.append([record(1), record(2)]);
      await first.flush();
      await first.close();
      const second = await WalWriter.open(aio, dir, SMALL);
      assert.equal(second.epoch, first.epoch + 1);
      const end = second.append(record(3));
      await second.flush(end);
      await second.close();
      const { records } = await readAll(aio, dir);
      assert.deepEqual(
        records.map((item) => item.data[0]),
        [record(1)[0], record(2)[0], record(3)[0]],
      );
    });

    it(`${kind}: records spanning several segments read back in order, and recycled segments are reused by rename`, async () => {
      const { aio } = context(kind);
      const dir = walDir();
      const wal = await WalWriter.open(aio, dir, SMALL);
      const firstLsn = wal.endLsn;
      const big = 3000;
      for (let i = 0; i < 60; i++) {
        wal.append(record(i, big));
        if (i % 5 === 4) await wal.flush();
      }
      await wal.flush();
      assert.ok(wal.stats.segmentsCreated >= 3, `${wal.stats.segmentsCreated} segments created`);
      const { records: all } = await readAll(aio, dir, { from: firstLsn });
      assert.equal(all.length, 60);
      all.forEach((item, i) => assert.ok(item.data.equals(record(i, big)), `record ${i}`));
      // Everything so far is checkpointed: the old segments become the next ones.
      const redo = wal.durableLsn;
      const createdBefore = wal.stats.segmentsCreated;
      assert.ok(wal.recycleBefore(redo) >= 1);
      const later: number[] = [];
      for (let i = 0; i < 60; i++) {
        later.push(wal.append(record(100 + i, big)));
        if (i % 5 === 4) await wal.flush();
      }
      await wal.flush();
      assert.ok(wal.stats.segmentsRecycled >= 1, 'a recycled segment was reused');
      // Closing waits for the segment being prepared ahead; then every file is a created one or a renamed one.
      await wal.close();
      assert.deepEqual(
        fs.readdirSync(dir).filter((name) => !name.endsWith('.wal')),
        [],
        'no temporary file is left',
      );
      assert.equal(fs.readdirSync(dir).length, wal.stats.segmentsCreated, 'recycling renames: it adds no file');
      assert.ok(wal.stats.segmentsCreated - createdBefore < wal.stats.segmentsRecycled, 'most new segments were recycled ones');
      const { records } = await readAll(aio, dir, { from: redo });
      assert.equal(records.length, 60, 'stale records in recycled segments end nothing early and add nothing');
      records.forEach((item, i) => assert.ok(item.data.equals(record(100 + i, big)), `record ${i}`));
    });

    it(`${kind}: more records than one append arena holds, in one group and in many, read back byte for byte`, async () => {
      const { aio } = context(kind);
      const dir = walDir();
      const wal = await WalWriter.open(aio, dir, { segmentSize: 4 * 1024 * 1024, blockSize: 4096 });
      const sizes = (i: number): number => 1000 + ((i * 7919) % 9000);
      // 300 records without a flush: one group of about 1.6 MB, larger than an arena, moved to a bigger one as it grows.
      for (let i = 0; i < 300; i++) wal.append(record(i, sizes(i)));
      await wal.flush();
      // Then commits of one record each until arenas have been replaced, and the spare one reused, several times.
      for (let i = 300; i < 900; i++) {
        const end = wal.append(record(i, sizes(i)));
        if (i % 3 === 0) await wal.flush(end);
      }
      await wal.flush();
      await wal.close();
      const { records } = await readAll(aio, dir, { segmentSize: 4 * 1024 * 1024 });
      assert.equal(records.length, 900);
      records.forEach((item, i) => assert.ok(item.data.equals(record(i, sizes(i))), `record ${i}`));
    });

    it(`${kind}: reading stops cleanly at a torn record, and a reopened log writes after the last good one`, async () => {
      const { aio } = context(kind);
      const dir = walDir();
      const wal = await WalWriter.open(aio, dir, SMALL);
      const ends: number[] = [];
      for (let i = 0; i < 5; i++) ends.push(wal.append(record(i, 100)));
      await wal.flush();
      await wal.close();
      // Tear the fourth record: one byte of its payload changes on disk.
      const fourth = ends[2];
      const segment = path.join(dir, fs.readdirSync(dir).sort()[0]);
      const bytes = fs.readFileSync(segment);
      bytes[fourth + 40] ^= 0xff;
      fs.writeFileSync(segment, bytes);
      const { records, end, reason } = await readAll(aio, dir);
      assert.equal(records.length, 3);
      assert.equal(end, ends[2]);
      assert.equal(reason, 'invalid-record');
      const reopened = await WalWriter.open(aio, dir, SMALL);
      await reopened.flush(reopened.append(record(9, 100)));
      await reopened.close();
      const after = await readAll(aio, dir);
      assert.deepEqual(
        after.records.map((item) => item.data[0]),
        [0, 1, 2, 9].map((i) => record(i, 100)[0]),
      );
    });

    it(`${kind}: short writes are written again until the group is complete`, async () => {
      const { aio } = context(kind);
      const dir = walDir();
      const wal = await WalWriter.open(aio, dir, SMALL);
      let shortened = 0;
      setInjection((info) => {
        if (info.op !== 'write' || info.raw <= 1000 || shortened >= 3) return undefined;
        shortened++;
        return 1000;
      });
      for (let i = 0; i < 30; i++) wal.append(record(i, 300));
      await wal.flush();
      setInjection(null);
      assert.equal(shortened, 3);
      assert.equal(wal.stats.retries, 3);
      await wal.close();
      const { records } = await readAll(aio, dir);
      assert.equal(records.length, 30);
      records.forEach((item, i) => assert.ok(item.data.equals(record(i, 300))));
    });

    for (const code of ['EIO', 'ENOSPC'] as const) {
      it(`${kind}: a flush whose write fails with ${code} is reported, nothing after it is acknowledged, and the log refuses appends`, async () => {
        const { aio } = context(kind);
        const dir = walDir();
        const wal = await WalWriter.open(aio, dir, SMALL);
        const good = wal.append(record(1));
        await wal.flush(good);
        const durable = wal.durableLsn;
        injectErrno(code, { op: 'write', times: 1 });
        const bad = wal.append(record(2));
        const error = await wal.flush(bad).then(
          () => null,
          (caught: unknown) => caught,
        );
        assert.ok(error instanceof AioIoError && error.code === code, String(error));
        assert.equal(wal.durableLsn, durable);
        assert.equal(wal.state, 'failed');
        await assert.rejects(wal.flush(bad), (e: unknown) => e === error);
        assert.throws(() => wal.append(record(3)), (e: unknown) => e === error);
        await wal.flush(good); // Before the failure: still acknowledged.
        await wal.close();
      });
    }
  });
}

/**
 * A WAL with `maxFlushes` flush slots on the scripted method, its restart
 * record already completed, and the next segment's preparation (its zero
 * writes, sync and directory sync, which go through the method too)
 * completed: so the IOs in flight afterwards are the test's flushes only.
 */
async function openScripted(maxFlushes: number): Promise<{ aio: Aio; method: ScriptedMethod; wal: WalWriter }> {
  const factory = scripted();
  const aio = new Aio({ method: factory, maxConcurrency: 8 });
  const method = factory.created!;
  let opened: WalWriter | null = null;
  const opening = WalWriter.open(aio, walDir(), { ...SMALL, durability: 'dsync', maxFlushes }).then((wal) => (opened = wal));
  // Complete everything the opening and the preparation ahead issue: a fresh log creates segments 0 and 1
  // (segment 1 ahead of need), and the preparation ends with one directory fsync after the last create.
  let syncedAfterCreates = false;
  while (opened === null || (opened as WalWriter).stats.segmentsCreated < 2 || !syncedAfterCreates || method.inFlight.length > 0) {
    await tick();
    while (method.inFlight.length > 0) {
      const io = method.inFlight[0];
      const op = io.opName;
      method.complete(io, method.host.executeSynchronously(io));
      if (opened !== null && (opened as WalWriter).stats.segmentsCreated >= 2 && op === 'fsync') syncedAfterCreates = true;
    }
  }
  return { aio, method, wal: await opening };
}

describe('scripted: wal', () => {
  it('scripted: flushes in flight complete out of order but are acknowledged in LSN order', async () => {
    const { aio, method, wal } = await openScripted(3);
    // Four commits, each flushed at once: three groups start, the fourth waits for a slot.
    const flushes: ReturnType<typeof settle>[] = [];
    for (let i = 0; i < 4; i++) flushes.push(settle(wal.flush(wal.append(record(i)))));
    // Appended while every slot is busy: goes into the fourth commit's group.
    const extra = settle(wal.flush(wal.append(record(10))));
    await tick();
    assert.equal(method.inFlight.length, 3, 'three flushes in flight, the fourth waits for a slot');
    const [first, second, third] = [...method.inFlight];
    assert.ok(third.offset > second.offset && second.offset > first.offset);
    for (const io of [first, second, third]) assert.equal(io.offset % SMALL.blockSize, 0, 'every group starts on a block');
    assert.ok(first.offset + first.length <= second.offset, 'groups never share a block');
    const durable = wal.durableLsn;
    method.complete(third, method.host.executeSynchronously(third));
    await tick();
    assert.equal(flushes[2].state, 'pending', 'a later group completed first is not acknowledged');
    assert.equal(wal.durableLsn, durable);
    method.complete(first, method.host.executeSynchronously(first));
    await tick();
    assert.equal(flushes[0].state, 'resolved');
    assert.equal(flushes[1].state, 'pending');
    // The freed slot took everything appended meanwhile: one group, one write.
    assert.equal(method.inFlight.length, 2);
    assert.equal(wal.stats.groups, 4);
    method.complete(second, method.host.executeSynchronously(second));
    await tick();
    assert.equal(flushes[1].state, 'resolved');
    assert.equal(flushes[2].state, 'resolved');
    while (method.inFlight.length > 0) method.complete(method.inFlight[0], method.host.executeSynchronously(method.inFlight[0]));
    await tick();
    assert.equal(flushes[3].state, 'resolved');
    assert.equal(extra.state, 'resolved');
    assert.equal(wal.stats.groups, 4, 'the fourth commit and the one after it shared a group');
    assert.equal(wal.stats.writes, 5, 'one write per group, and one for the restart record');
    const closing = wal.close();
    await closing;
    await aio.close();
  });

  it('scripted: a failed group fails the flushes after it even when a later group completed', async () => {
    const { aio, method, wal } = await openScripted(2);
    const a = settle(wal.flush(wal.append(record(1))));
    const b = settle(wal.flush(wal.append(record(2))));
    await tick();
    const [first, second] = [...method.inFlight];
    method.complete(second, method.host.executeSynchronously(second));
    method.complete(first, -5); // EIO
    await tick();
    assert.equal(a.state, 'rejected');
    assert.equal(b.state, 'rejected', 'the later group completed, but it is after the failure');
    assert.equal((b.error as AioIoError).code, 'EIO');
    await wal.close();
    await aio.close();
  });
});

describe('sync: wal opening', () => {
  it('sync: an open whose restart record cannot be written rejects with the IO error and leaves no segment file open', async () => {
    const { aio } = context('sync');
    const fdsBefore = fs.readdirSync('/proc/self/fd').length;
    injectErrno('EIO', { op: 'write', times: 1 });
    const error = await WalWriter.open(aio, walDir(), SMALL).then(
      () => null,
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof AioIoError && error.code === 'EIO', String(error));
    assert.equal(fs.readdirSync('/proc/self/fd').length, fdsBefore, 'no file descriptor left open');
  });
});

describe('sync: wal segment preparation', () => {
  it('sync: opening a log prepares the next segment ahead, in the background, and closing waits for it', async () => {
    const { aio } = context('sync');
    const dir = walDir();
    const wal = await WalWriter.open(aio, dir, SMALL);
    await wal.close();
    assert.deepEqual(fs.readdirSync(dir).sort(), ['0000000000000000.wal', '0000000000000001.wal']);
    for (const name of fs.readdirSync(dir)) assert.equal(fs.statSync(path.join(dir, name)).size, SMALL.segmentSize, name);
    assert.equal(wal.stats.segmentsCreated, 2);
  });

  it('sync: a segment that cannot be prepared fails the flush that needs it, and nothing after it is acknowledged', async () => {
    const { aio } = context('sync');
    const dir = walDir();
    // A directory where the next segment's temporary file goes: creating segment 1 fails with EISDIR.
    fs.mkdirSync(path.join(dir, '0000000000000001.wal.tmp'), { recursive: true });
    const wal = await WalWriter.open(aio, dir, SMALL);
    const inFirst = wal.append(record(1, 1000));
    await wal.flush(inFirst);
    let crossing = inFirst;
    while (crossing < SMALL.segmentSize) crossing = wal.append(record(2, 3000));
    const error = await wal.flush(crossing).then(
      () => null,
      (caught: unknown) => caught,
    );
    assert.equal((error as { code?: string } | null)?.code, 'EISDIR', String(error));
    assert.ok(wal.durableLsn < SMALL.segmentSize, 'nothing in the segment that does not exist is acknowledged');
    assert.equal(wal.state, 'failed');
    await wal.flush(inFirst);
    await wal.close();
  });
});

describe('wal: default durability', () => {
  it('deferred: the default is the fastest mode measured for the method, and its buffered one where direct I/O cannot be used', async () => {
    const { aio } = context('deferred');
    assert.equal(aio.methodName, 'threadpool');
    const direct = await WalWriter.open(aio, walDir(), SMALL);
    assert.equal(direct.durability, walDefaultDurability('threadpool'));
    assert.equal(direct.durability, 'direct-dsync');
    await direct.flush(direct.append(record(1)));
    await direct.close();
    // 512-byte blocks cannot be written with O_DIRECT's 4096-byte alignment: the buffered default instead.
    const buffered = await WalWriter.open(aio, walDir(), { segmentSize: 64 * 1024, blockSize: 512 });
    assert.equal(buffered.durability, 'fdatasync');
    await buffered.close();
  });

  it('sync: the sync method defaults to one fdatasync per group', async () => {
    const { aio } = context('sync');
    const wal = await WalWriter.open(aio, walDir(), SMALL);
    assert.equal(wal.durability, 'fdatasync');
    await wal.close();
  });
});

describe('sync: wal usage errors', () => {
  it('sync: bad input gets usage errors with stable codes', async () => {
    const { aio } = context('sync');
    const dir = walDir();
    const wal = await WalWriter.open(aio, dir, SMALL);
    const end = wal.append(record(1));
    await assert.rejects(wal.flush(end + 4096), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_OUT_OF_RANGE');
    await assert.rejects(wal.flush(-1), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_OUT_OF_RANGE');
    assert.throws(() => wal.append('text' as never), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_INVALID_TYPE');
    assert.throws(() => wal.append([Buffer.alloc(1), 42] as never), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_INVALID_TYPE');
    assert.throws(() => wal.append(Buffer.alloc(SMALL.segmentSize)), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_OUT_OF_RANGE');
    assert.equal(wal.endLsn, end, 'a refused append appends nothing, not even the good records before the bad one');
    await assert.rejects(WalWriter.open(aio, walDir(), { durability: 'fsync' as never }), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_INVALID_OPTION');
    await assert.rejects(WalWriter.open(aio, walDir(), { segmentSize: 10_000 }), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_INVALID_OPTION');
    await wal.close();
    await assert.rejects(wal.flush(end), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_CLOSED');
    assert.throws(() => wal.append(record(2)), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_CLOSED');
    const { records } = await readAll(aio, dir);
    assert.equal(records.length, 1, 'close flushed the appended record');
  });

  it('sync: each durability mode writes a log that reads back', async () => {
    const { aio } = context('sync');
    for (const durability of ['dsync', 'fdatasync', 'direct-dsync'] as const) {
      const dir = walDir();
      let wal: WalWriter;
      try {
        wal = await WalWriter.open(aio, dir, { ...SMALL, durability });
      } catch (error) {
        // Direct I/O is refused by some file systems (tmpfs): then only the buffered modes are checked here.
        if (durability === 'direct-dsync' && (error as { code?: string }).code === 'EINVAL') continue;
        throw error;
      }
      for (let i = 0; i < 10; i++) await wal.flush(wal.append(record(i)));
      assert.equal(wal.stats.syncs, durability === 'fdatasync' ? 10 : 0, durability);
      await wal.close();
      const { records } = await readAll(aio, dir);
      assert.equal(records.length, 10, durability);
    }
  });
});
