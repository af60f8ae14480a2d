/**
 * The power-loss simulator (`powerLoss` in @aio/core/testing): synced data
 * survives every crash state, unsynced data is over many seeds kept, lost,
 * torn at sector granularity and reordered, a seed replays exactly, and it
 * works wrapping every method that can run here.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'vitest';
import { Aio, AioUsageError, libuvMethod, syncMethod, type AioMethodFactory } from '../src/index.js';
import { powerLoss, type AioCrashState } from '../src/testing.js';
import { tempWorld } from './temp-world.js';

const SEEDS = 200;

/** Loads a native method from its workspace package's build; a skip reason when it cannot run here. */
async function nativeMethod(folder: string): Promise<AioMethodFactory | string> {
  const entry = new URL(`../../${folder}/dist/index.js`, import.meta.url);
  if (!fs.existsSync(entry)) return `packages/${folder} is not built`;
  try {
    const module = (await import(entry.href)) as { method?: () => AioMethodFactory };
    if (typeof module.method !== 'function') return `packages/${folder} has no method() export`;
    const factory = module.method();
    const probe = factory.probe();
    return probe.available ? factory : probe.reason;
  } catch (error) {
    return `packages/${folder} failed to load: ${String(error).split('\n')[0]}`;
  }
}

const METHODS: ReadonlyArray<readonly [string, AioMethodFactory | string]> = [
  ['sync', syncMethod()],
  ['libuv', libuvMethod()],
  ['threadpool', await nativeMethod('threadpool')],
  ['io_uring', await nativeMethod('io-uring')],
];

const world = tempWorld('aio-power-loss-', { allowClosed: true, checkFds: true });

function context(method: AioMethodFactory): Aio {
  return world.track(new Aio({ method }));
}

function patterned(size: number, seed: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return buffer;
}

/** A file of `size` zero bytes, created and made durable before the simulator sees it. */
function zeroFile(size: number): string {
  return world.file(Buffer.alloc(size));
}

/** Every sector of `image` at [offset, offset + data.length) is wholly `data` or wholly `old`. */
function sectorsWhole(image: Buffer, offset: number, data: Buffer, old: Buffer, sectorSize: number): 'new' | 'old' | 'mixed' {
  let fresh = 0;
  let stale = 0;
  for (let at = 0; at < data.length; at += sectorSize) {
    const got = image.subarray(offset + at, offset + at + sectorSize);
    if (got.equals(data.subarray(at, at + sectorSize))) fresh++;
    else if (got.equals(old.subarray(offset + at, offset + at + sectorSize))) stale++;
    else throw new Error(`the sector at ${offset + at} is neither the write's data nor the old content`);
  }
  return stale === 0 ? 'new' : fresh === 0 ? 'old' : 'mixed';
}

/**
 * The workload most tests share: two 4 KiB writes made durable by
 * fdatasync, then eight unsynced 2 KiB writes after them.
 */
async function syncedThenUnsynced(method: AioMethodFactory, seed: number): Promise<{ file: string; synced: Buffer; unsynced: Buffer[]; sim: ReturnType<typeof powerLoss> }> {
  const file = zeroFile(64 * 1024);
  const sim = powerLoss(method, { seed });
  const aio = context(sim);
  const handle = aio.open(file, { read: true, write: true });
  const synced = patterned(8192, 1);
  await handle.writeFully(synced.subarray(0, 4096), 0);
  await handle.writeFully(synced.subarray(4096), 4096);
  await handle.datasync();
  const unsynced: Buffer[] = [];
  for (let i = 0; i < 8; i++) {
    unsynced.push(patterned(2048, 10 + i));
    await handle.writeFully(unsynced[i], 8192 + i * 2048);
  }
  await handle.close();
  return { file, synced, unsynced, sim };
}

for (const [name, method] of METHODS) {
  describe(name, () => {
    const skip = typeof method === 'string' ? method : undefined;
    const factory = method as AioMethodFactory;

    it.skipIf(skip !== undefined)(`${name}: data made durable by fdatasync survives every crash state`, async () => {
      const { file, synced, sim } = await syncedThenUnsynced(factory, 1);
      for (let seed = 0; seed < SEEDS; seed++) {
        const image = sim.crash({ seed }).files.get(file) as Buffer;
        assert.ok(image.subarray(0, 8192).equals(synced), `seed ${seed}: the synced 8 KiB survived`);
      }
    });

    it.skipIf(skip !== undefined)(`${name}: over many seeds unsynced writes are kept, lost, torn and reordered`, async () => {
      const { file, unsynced, sim } = await syncedThenUnsynced(factory, 2);
      const seen = { kept: 0, lost: 0, torn: 0, reordered: 0, allKept: 0, allLost: 0 };
      const zeroes = Buffer.alloc(64 * 1024);
      for (let seed = 0; seed < SEEDS; seed++) {
        const state = sim.crash({ seed });
        const image = state.files.get(file) as Buffer;
        assert.equal(state.writes.length, 8, 'the eight unsynced writes are at risk, the synced ones are not');
        for (const [i, write] of state.writes.entries()) {
          seen[write.fate]++;
          // The image agrees with the reported fate, sector by sector.
          const expected = { kept: 'new', lost: 'old', torn: 'mixed' }[write.fate];
          assert.equal(sectorsWhole(image, 8192 + i * 2048, unsynced[i], zeroes, 512), expected, `seed ${seed}: write ${i}`);
        }
        if (state.reordered) seen.reordered++;
        if (state.writes.every((write) => write.fate === 'kept')) seen.allKept++;
        if (state.writes.every((write) => write.fate === 'lost')) seen.allLost++;
      }
      for (const [outcome, count] of Object.entries(seen)) assert.ok(count > 0, `${outcome} happened in ${SEEDS} seeds`);
    });

    it.skipIf(skip !== undefined)(`${name}: the same seed gives the same crash state, in a new run too`, async () => {
      const first = await syncedThenUnsynced(factory, 77);
      const second = await syncedThenUnsynced(factory, 77);
      const a = first.sim.crash();
      const b = second.sim.crash();
      assert.equal(a.seed, 77);
      assert.ok((a.files.get(first.file) as Buffer).equals(b.files.get(second.file) as Buffer), 'same images');
      assert.deepEqual(
        a.writes.map(({ path: _path, ...rest }) => rest),
        b.writes.map(({ path: _path, ...rest }) => rest),
      );
      assert.equal(a.describe().replaceAll(first.file, 'F'), b.describe().replaceAll(second.file, 'F'));
      assert.match(a.describe(), /seed 77/);
      const again = first.sim.crash({ seed: 77 });
      assert.deepEqual(again.writes, a.writes, 'asking again for the same seed gives the same state');
      const images = new Set<string>();
      for (let seed = 0; seed < 20; seed++) images.add((first.sim.crash({ seed }).files.get(first.file) as Buffer).toString('base64'));
      assert.ok(images.size > 1, 'different seeds give different states');
    });

    it.skipIf(skip !== undefined)(`${name}: writes to a dsync file are durable when they complete`, async () => {
      const file = zeroFile(16 * 1024);
      const sim = powerLoss(factory, { seed: 3 });
      const aio = context(sim);
      const handle = aio.open(file, { read: true, write: true, dsync: true });
      const data = patterned(8192, 5);
      await handle.writeFully(data, 4096);
      await handle.close();
      for (let seed = 0; seed < SEEDS; seed++) {
        const state = sim.crash({ seed });
        assert.equal(state.writes.length, 0, 'nothing is at risk');
        assert.ok((state.files.get(file) as Buffer).subarray(4096, 12288).equals(data));
      }
    });

    it.skipIf(skip !== undefined)(`${name}: after the cut every IO fails with EIO and changes no file; apply() writes the crash state`, async () => {
      const { file, sim } = await syncedThenUnsynced(factory, 4);
      const state = sim.crash();
      assert.equal(sim.poweredOff, true);
      const aio = world.contexts[0];
      const handle = aio.open(file, { read: true, write: true });
      const before = fs.readFileSync(file);
      await assert.rejects(handle.write(patterned(512, 9), 0), { code: 'EIO' });
      await assert.rejects(handle.datasync(), { code: 'EIO' });
      await handle.close();
      await aio.close();
      assert.ok(fs.readFileSync(file).equals(before), 'nothing reached the file after the cut');
      state.apply();
      assert.ok(fs.readFileSync(file).equals(state.files.get(file) as Buffer), 'apply() wrote the crash state');
    });

    it.skipIf(skip !== undefined)(`${name}: a tiny log writer recovers every acknowledged record in every crash state`, async () => {
      const file = path.join(world.dir, 'log');
      const sim = powerLoss(factory, { seed: 5 });
      const aio = context(sim);
      const log = aio.open(file, { read: true, write: true, create: true, truncate: true });
      let end = 0;
      const acknowledged: string[] = [];
      for (let i = 0; i < 12; i++) {
        const record = encodeRecord(`record ${i} `.padEnd(600 + i * 97, '.'));
        await log.writeFully(record, end);
        end += record.length;
        if (i % 3 === 2) {
          await log.datasync();
          for (let j = i - 2; j <= i; j++) acknowledged.push(`record ${j} `);
        }
      }
      await log.close();
      for (let seed = 0; seed < SEEDS; seed++) {
        const state: AioCrashState = sim.crash({ seed });
        const recovered = decodeLog(state.files.get(path.resolve(file)) as Buffer);
        for (const [k, text] of acknowledged.entries()) {
          assert.ok(recovered[k]?.startsWith(text), `seed ${seed}: acknowledged "${text}" recovered\n${state.describe()}`);
        }
      }
    });
  });
}

describe('power-loss', () => {
  it('libuv: a write still in flight when a sync was submitted is not covered by it', async () => {
    const file = zeroFile(8192);
    const sim = powerLoss(libuvMethod(), { seed: 6 });
    const aio = context(sim);
    const handle = aio.open(file, { read: true, write: true });
    // libuv delivers completions on a later event-loop turn, so the write is
    // still in flight when the sync is submitted right after it.
    const data = patterned(4096, 8);
    const written = handle.write(data, 0);
    const synced = handle.datasync();
    await Promise.all([written, synced]);
    await handle.close();
    const fates = new Set<string>();
    for (let seed = 0; seed < 50; seed++) fates.add(sim.crash({ seed }).writes.map((write) => write.fate).join());
    assert.ok(fates.has('lost'), 'some crash state loses it');
  });

  it('libuv: writes still in flight at the cut are at risk, and their late completions change nothing', async () => {
    const file = zeroFile(8192);
    const sim = powerLoss(libuvMethod(), { seed: 7 });
    const aio = context(sim);
    const handle = aio.open(file, { read: true, write: true });
    const written = handle.write(patterned(4096, 2), 0);
    const state = sim.crash();
    assert.equal(await written, 4096, 'the write was already with the OS and completes');
    await handle.close();
    assert.deepEqual(
      state.writes.map((write) => [write.offset, write.length, write.state]),
      [[0, 4096, 'in-flight']],
    );
    assert.deepEqual(sim.crash({ seed: 7 }).writes, state.writes, 'the completion after the cut did not change the journal');
  });

  it('sync: a failed fdatasync leaves the writes it covered at risk even after a later one succeeds', async () => {
    const file = zeroFile(8192);
    let failures = 1;
    // The sync method, except that the first fdatasync fails with EIO as a dying disk's would.
    const failingOnce: AioMethodFactory = {
      name: 'sync',
      probe: () => syncMethod().probe(),
      create(host, options) {
        const method = syncMethod().create(host, options);
        method.executeSynchronously = (io) => (io.opName === 'fdatasync' && failures-- > 0 ? -5 : host.executeSynchronously(io));
        return method;
      },
    };
    const sim = powerLoss(failingOnce, { seed: 8 });
    const aio = context(sim);
    const handle = aio.open(file, { read: true, write: true });
    const first = patterned(4096, 3);
    const second = patterned(4096, 4);
    await handle.writeFully(first, 0);
    await assert.rejects(handle.datasync(), { code: 'EIO' });
    await handle.writeFully(second, 4096);
    await handle.datasync();
    await handle.close();
    let firstLost = 0;
    for (let seed = 0; seed < SEEDS; seed++) {
      const state = sim.crash({ seed });
      const image = state.files.get(file) as Buffer;
      assert.ok(image.subarray(4096).equals(second), `seed ${seed}: the write synced by the successful fdatasync survived`);
      if (!image.subarray(0, 4096).equals(first)) firstLost++;
    }
    assert.ok(firstLost > 0, 'some crash state loses the write whose sync failed');
  });

  it('sync: an unsynced overwrite of synced data leaves, sector by sector, the old or the new bytes', async () => {
    const file = zeroFile(8192);
    const sim = powerLoss(syncMethod(), { seed: 9, sectorSize: 512 });
    const aio = context(sim);
    const handle = aio.open(file, { read: true, write: true });
    const synced = patterned(4096, 11);
    const overwrite = patterned(1536, 12);
    await handle.writeFully(synced, 0);
    await handle.datasync();
    await handle.writeFully(overwrite, 512);
    await handle.close();
    const seen = new Set<string>();
    for (let seed = 0; seed < SEEDS; seed++) {
      const image = sim.crash({ seed }).files.get(file) as Buffer;
      assert.ok(image.subarray(0, 512).equals(synced.subarray(0, 512)) && image.subarray(2048, 4096).equals(synced.subarray(2048)), `seed ${seed}`);
      seen.add(sectorsWhole(image, 512, overwrite, synced, 512));
    }
    assert.deepEqual([...seen].sort(), ['mixed', 'new', 'old']);
  });

  it('power-loss: bad options are usage errors', () => {
    assert.throws(() => powerLoss(null as unknown as AioMethodFactory), AioUsageError);
    assert.throws(() => powerLoss(syncMethod(), { sectorSize: 1000 }), { code: 'AIO_ERR_INVALID_OPTION' });
    assert.throws(() => powerLoss(syncMethod(), { seed: -1 }), AioUsageError);
    assert.throws(() => powerLoss(syncMethod(), { unknown: 1 } as never), { code: 'AIO_ERR_INVALID_OPTION' });
    const sim = powerLoss(syncMethod());
    assert.ok(Number.isInteger(sim.seed), 'a random seed is chosen and shown');
    context(sim);
    assert.throws(() => new Aio({ method: sim }), { code: 'AIO_ERR_INVALID_OPTION' });
    assert.throws(() => sim.crash({ seed: 1.5 }), AioUsageError);
  });
});

/** A record: 4-byte length, 4-byte checksum, UTF-8 text. */
function encodeRecord(text: string): Buffer {
  const body = Buffer.from(text);
  const record = Buffer.alloc(8 + body.length);
  record.writeUInt32LE(body.length, 0);
  record.writeUInt32LE(checksum(body), 4);
  body.copy(record, 8);
  return record;
}

/** Reads records until one is short, unwritten or fails its checksum: the torn tail ends the log. */
function decodeLog(image: Buffer): string[] {
  const records: string[] = [];
  let at = 0;
  while (at + 8 <= image.length) {
    const length = image.readUInt32LE(at);
    if (length === 0 || at + 8 + length > image.length) break;
    const body = image.subarray(at + 8, at + 8 + length);
    if (checksum(body) !== image.readUInt32LE(at + 4)) break;
    records.push(body.toString());
    at += 8 + length;
  }
  return records;
}

function checksum(bytes: Buffer): number {
  let sum = 0x811c9dc5;
  for (const byte of bytes) sum = Math.imul(sum ^ byte, 0x01000193) >>> 0;
  return sum;
}
