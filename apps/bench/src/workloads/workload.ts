import type { OffsetSource } from '../offsets.js';

export type WorkloadName = 'randread' | 'seqread' | 'writeback' | 'wal';
export type CacheState = 'hot' | 'cold';

/**
 * Which aio API the aio methods are driven through: handles in batch mode,
 * the convenience Promises of @aio/core, or @aio/fs's node:fs-compatible
 * FileHandles (`{ bytesRead, buffer }` results), or (wal workload only)
 * @aio/core's WAL writer: --qd committers each appending one --bs record and
 * waiting for its flush, with group commit.
 */
export type AioApi = 'handle' | 'promise' | 'fs' | 'wal';

/** One benchmark case: a workload with every parameter resolved, shared by every method that runs it. */
export interface CaseConfig {
  workload: WorkloadName;
  /** Absolute path of the file every method reads or writes. */
  file: string;
  /** Bytes of the file the workload uses, from offset 0. */
  size: number;
  bs: number;
  /** IOs in flight that each method is asked for (node-fs-sync and fio-psync can only do 1). */
  qd: number;
  direct: boolean;
  cache: CacheState;
  seconds: number;
  /** Untimed seconds before the runs, or null: until the throughput settled (see warmup.ts). */
  warmupSeconds: number | null;
  runs: number;
  seed: number;
  /** Jobs (threads) each fio baseline runs; the node and aio methods always use one thread. */
  fioJobs: number;
  /** IOs per submission in the handle loop (the aio methods' handle API). */
  batch: number;
  api: AioApi;
  /** Where the file lives: the disk (the default file or --file), or the zram device `--zram` set up. */
  storage: 'disk' | 'zram';
}

/** What a workload asks of every method; the runners turn this into their own calls. */
export interface WorkloadDefinition {
  readonly name: WorkloadName;
  readonly summary: string;
  readonly defaults: { readonly bs: number; readonly qd: number };
  readonly op: 'read' | 'write';
  /** Open the file with O_DSYNC, so each write returns only once its data is durable. */
  readonly dsync: boolean;
  /** Issue one fsync after the last write completed, counted in the elapsed time. */
  readonly syncAtEnd: boolean;
  /** The offsets of one timed phase; every method gets a source built from the same seed. */
  createOffsets(config: CaseConfig, seed: number): OffsetSource;
  /** The fio options that describe this workload; the fio runner adds the engine, size, depth and output options. */
  fioArgs(config: CaseConfig): string[];
}

/** fio takes its run time in whole units; milliseconds keep fractional --seconds exact. */
export function fioRuntime(seconds: number): string {
  return `--runtime=${Math.max(1, Math.round(seconds * 1000))}ms`;
}
