/**
 * `engine bench`: the same engine on the same data in the same run, once per aio method.  Workloads:
 * cold point reads (a pool of 256 frames, data at least 8x larger, 32 concurrent readers), range scans
 * (cold full scans visiting every entry through `scanEach`, against fio's direct sequential read of the
 * same file with the scan's own read size and depth, run right before each method's scans), a
 * write-heavy mix with checkpoints running, and commits per second with 1, 16 and 64 clients.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AioMethodName } from '@aio/core';
import { SCAN_POOL_SHARE, withEngine as withEngineOn, type Engine, type EngineOptions } from './engine.js';
import { prefetchShape } from './buffer-pool.js';
import { seededRandom } from './crash.js';
import { ENGINE_MAX_CONCURRENCY, methodAvailable } from './method.js';
import { PAGE_SIZE } from './page.js';
import type { TxOp } from './btree.js';

export const BENCH_METHODS: AioMethodName[] = ['io_uring', 'threadpool', 'posix_aio', 'libuv', 'sync'];
export const BENCH_POOL_PAGES = 256;

export interface BenchResult {
  workload: string;
  method: string;
  opsPerSec: number;
  unit: string;
  mbPerSec?: number;
  vsSync?: number;
  vsLibuv?: number;
  vsFio?: number;
  details?: Record<string, number | string | boolean>;
}

export interface BenchOptions {
  dir: string;
  methods: AioMethodName[];
  keys: number;
  seconds: number;
  onStatus?: (text: string) => void;
}

export function benchKey(i: number): Buffer {
  return Buffer.from(`k${String(i).padStart(10, '0')}`);
}

function benchValue(i: number, salt = 0): Buffer {
  return Buffer.alloc(100, (i + salt) % 251);
}

/** Loads keys 0..n-1 in order, batch per commit, reporting progress; the data set of every workload. */
export async function loadKeys(engine: Engine, n: number, batch: number, onProgress?: (done: number) => void): Promise<void> {
  for (let start = 0; start < n; start += batch) {
    const ops: TxOp[] = [];
    for (let i = start; i < Math.min(n, start + batch); i++) ops.push({ type: 'put', key: benchKey(i), value: benchValue(i) });
    await engine.commit(ops);
    onProgress?.(Math.min(n, start + batch));
  }
}

/** Every workload's engine: the bench pool size, plus the workload's own settings. */
function withEngine<T>(method: AioMethodName, dir: string, extra: EngineOptions, work: (engine: Engine) => Promise<T>): Promise<T> {
  return withEngineOn(method, dir, { poolPages: BENCH_POOL_PAGES, walSegmentSize: 16 * 1024 * 1024, ...extra }, work);
}

/** Runs `clients` loops of `step` for `seconds`; returns completed steps per second. */
async function timed(seconds: number, clients: number, step: (client: number, random: () => number) => Promise<unknown>): Promise<{ rate: number; count: number }> {
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  let count = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const random = seededRandom(1000 + c);
      while (performance.now() < deadline) {
        await step(c, random);
        count++;
      }
    }),
  );
  return { rate: count / ((performance.now() - started) / 1000), count };
}

/** The whole run: load once, then every workload on every available method. */
export async function runBench(options: BenchOptions): Promise<BenchResult[]> {
  const status = options.onStatus ?? (() => undefined);
  fs.rmSync(options.dir, { recursive: true, force: true });
  status(`loading ${options.keys} keys`);
  await withEngine(options.methods[0], options.dir, {}, (engine) => loadKeys(engine, options.keys, 500, (done) => status(`loading ${done}/${options.keys}`)));
  const dataBytes = fs.statSync(path.join(options.dir, 'data')).size;
  const results: BenchResult[] = [];
  // fio's usual 128 KiB at depth 16 on the same file, for reference; each method's scan is compared
  // with fio run right before it with the scan's own shape (see the range-scan workload).
  const fioReference = fioSequentialRead(path.join(options.dir, 'data'), 128 * 1024, 16, fioSeconds(options));
  for (const method of options.methods) {
    const reason = await methodAvailable(method);
    if (reason !== null) {
      status(`${method}: skipped (${reason})`);
      continue;
    }
    for (const workload of WORKLOADS) {
      status(`${method}: ${workload.name}`);
      results.push(await workload.run(method, options, dataBytes));
    }
  }
  addRatios(results);
  const shape = prefetchShape(BENCH_POOL_PAGES, SCAN_POOL_SHARE, ENGINE_MAX_CONCURRENCY);
  const adjacent = results.map((r) => r.details?.fioMBps).filter((v): v is number => typeof v === 'number');
  const fio = adjacent.length > 0 ? median(adjacent) : null;
  const fioRow = (rate: number, bs: number, depth: number, runs: number): BenchResult => ({
    workload: 'range-scan',
    method: 'fio',
    opsPerSec: round(rate, 1),
    unit: 'MB/s (fio seq read)',
    mbPerSec: round(rate, 1),
    details: { blockSize: bs, iodepth: depth, direct: true, ioengine: 'io_uring', seconds: fioSeconds(options), fileBytes: dataBytes, runs },
  });
  // The median of the fio runs next to each scan, and the reference run.
  if (fio !== null) results.push(fioRow(fio, shape.combineBlocks * PAGE_SIZE, shape.maxIos, adjacent.length));
  if (fioReference !== null) results.push(fioRow(fioReference, 128 * 1024, 16, 1));
  return results;
}

interface Workload {
  name: string;
  run(method: AioMethodName, options: BenchOptions, dataBytes: number): Promise<BenchResult>;
}

const READERS = 32;

const WORKLOADS: Workload[] = [
  {
    name: 'cold-point-reads',
    run: (method, options, dataBytes) =>
      withEngine(method, options.dir, { checkpointWalBytes: 0 }, async (engine) => {
        const { rate, count } = await timed(options.seconds, READERS, async (_c, random) => {
          const i = Math.floor(random() * options.keys);
          const value = await engine.get(benchKey(i));
          if (value === null) throw new Error(`bench: key ${i} is missing`);
        });
        const { misses, reads, readBatches } = engine.pool.stats;
        return {
          workload: 'cold-point-reads',
          method,
          opsPerSec: rate,
          unit: 'gets/s',
          details: { readers: READERS, gets: count, dataOverPool: round(dataBytes / (BENCH_POOL_PAGES * PAGE_SIZE), 1), misses, pageReads: reads, readsPerBatch: round(reads / Math.max(1, readBatches), 1), direct: engine.direct },
        };
      }),
  },
  {
    name: 'range-scan',
    run: (method, options) =>
      withEngine(method, options.dir, { checkpointWalBytes: 0 }, async (engine) => {
        // fio's direct sequential read of the same file with the scan's shape (read size, reads in
        // flight), right before the scan: the device's speed drifts on a shared machine.
        const shape = prefetchShape(BENCH_POOL_PAGES, SCAN_POOL_SHARE, ENGINE_MAX_CONCURRENCY);
        const fio = fioSequentialRead(path.join(options.dir, 'data'), shape.combineBlocks * PAGE_SIZE, shape.maxIos, fioSeconds(options));
        // What a user's scan does: visit every entry and look at it (here: sum key and value lengths),
        // without copying.  Full scans back to back for the workload's time; the data is 16x the pool and
        // a scan keeps only its ring of look-ahead frames, so each scan reads every leaf again.
        let entries = 0;
        let bytes = 0;
        let scans = 0;
        let ios = 0;
        const readsBefore = engine.pool.stats.reads;
        const started = performance.now();
        const deadline = started + options.seconds * 1000;
        do {
          const visited = await engine.scanEach(null, null, (entry) => {
            bytes += entry.keyLength + entry.valueLength;
          });
          if (visited !== options.keys) throw new Error(`bench: the scan found ${visited} of ${options.keys} keys`);
          entries += visited;
          scans++;
          ios += engine.lastScan?.reads ?? 0;
        } while (performance.now() < deadline);
        const seconds = (performance.now() - started) / 1000;
        const pagesRead = engine.pool.stats.reads - readsBefore;
        return {
          workload: 'range-scan',
          method,
          opsPerSec: entries / seconds,
          unit: 'entries/s',
          mbPerSec: (pagesRead * PAGE_SIZE) / seconds / 1e6,
          details: {
            scans,
            pagesReadPerScan: round(pagesRead / scans, 0),
            reads: ios,
            avgReadKiB: round((pagesRead * PAGE_SIZE) / Math.max(1, ios) / 1024, 1),
            maxIos: engine.lastScan?.maxIos ?? 0,
            combineKiB: ((engine.lastScan?.combineBlocks ?? 0) * PAGE_SIZE) / 1024,
            entryBytes: bytes,
            ...(fio === null ? {} : { fioMBps: round(fio, 1) }),
          },
        };
      }),
  },
  {
    name: 'write-mix',
    run: (method, options) =>
      withEngine(method, options.dir, { checkpointWalBytes: 4 * 1024 * 1024 }, async (engine) => {
        const { rate } = await timed(options.seconds, 16, async (_c, random) => {
          const i = Math.floor(random() * options.keys);
          if (random() < 0.8) await engine.put(benchKey(i), benchValue(i, 1));
          else await engine.get(benchKey(i));
        });
        return {
          workload: 'write-mix',
          method,
          opsPerSec: rate,
          unit: 'ops/s (80% put)',
          details: { clients: 16, checkpoints: engine.stats.checkpoints, pagesWritten: engine.pool.stats.writes, walDurability: engine.wal.durability },
        };
      }),
  },
  ...[1, 16, 64].map(
    (clients): Workload => ({
      name: `commits-${clients}`,
      run: (method, options) =>
        withEngine(method, options.dir, { checkpointWalBytes: 0 }, async (engine) => {
          const { rate } = await timed(options.seconds, clients, (c, random) => engine.put(benchKey(Math.floor(random() * options.keys)), benchValue(c, 2)));
          return { workload: `commits-${clients}`, method, opsPerSec: rate, unit: 'commits/s', details: { clients, walGroups: engine.wal.stats.groups, walDurability: engine.wal.durability } };
        }),
    }),
  ),
];

function addRatios(results: BenchResult[]): void {
  for (const result of results) {
    const same = (method: string) => results.find((r) => r.workload === result.workload && r.method === method);
    const sync = same('sync');
    const libuv = same('libuv');
    if (sync !== undefined) result.vsSync = round(result.opsPerSec / sync.opsPerSec, 2);
    if (libuv !== undefined) result.vsLibuv = round(result.opsPerSec / libuv.opsPerSec, 2);
    const fio = result.details?.fioMBps;
    if (result.mbPerSec !== undefined && typeof fio === 'number') result.vsFio = round(result.mbPerSec / fio, 2);
    result.opsPerSec = round(result.opsPerSec, 0);
    if (result.mbPerSec !== undefined) result.mbPerSec = round(result.mbPerSec, 1);
  }
}

/** fio's direct sequential read of the file (io_uring, blockSize, depth, looping for seconds), MB/s; null without fio. */
function fioSequentialRead(file: string, blockSize: number, depth: number, seconds: number): number | null {
  try {
    const args = [
      '--name=seq',
      `--filename=${file}`,
      '--rw=read',
      `--bs=${blockSize}`,
      `--iodepth=${depth}`,
      '--ioengine=io_uring',
      '--direct=1',
      '--readonly',
      '--time_based',
      `--runtime=${seconds}`,
      '--output-format=json',
    ];
    const out = execFileSync('fio', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const job = JSON.parse(out).jobs[0];
    return job.read.bw_bytes / 1e6;
  } catch {
    return null;
  }
}

function fioSeconds(options: BenchOptions): number {
  return Math.max(1, Math.min(options.seconds, 3));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function defaultBenchDir(): string {
  return path.join(os.tmpdir(), 'aio-engine-bench');
}
