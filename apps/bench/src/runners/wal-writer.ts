import * as fs from 'node:fs';
import type { CaseConfig, WorkloadDefinition } from '../workloads/index.js';
import type { AioContextView } from './aio.js';
import { IoLoopState } from './loops.js';
import type { OpenMethod, Phase, RunMeasurement } from './runner.js';

/*
 * `--api wal`: the bench's driver for @aio/core's WAL writer, apart from the
 * handle and Promise loops in aio.ts because it measures commits, not IOs.
 */

/** The part of @aio/core's WalWriter class the bench uses. */
export interface WalWriterClassView {
  open(aio: AioContextView, dir: string, options: { durability?: string; maxFlushes: number }): Promise<WalWriterView>;
}

interface WalWriterView {
  readonly durability: string;
  readonly durableLsn: number;
  readonly segmentSize: number;
  readonly stats: { readonly segmentsRecycled: number };
  append(record: Buffer): number;
  flush(lsn: number): Promise<void>;
  recycleBefore(lsn: number): number;
  close(): Promise<void>;
}

/** The record size per commit: a commit's record, header included, fills --bs bytes of the log. */
const WAL_RECORD_HEADER = 24;

/**
 * `--api wal` (wal workload): @aio/core's WAL writer in a directory next to
 * the test file (one per method), with `--qd` flushes in flight at most.  Each of --qd
 * committers appends one record whose header and payload fill --bs bytes,
 * waits for its flush, and starts the next commit; commits that arrive while
 * the flush slots are busy share a group (group commit).  Each commit counts
 * as one op of --bs bytes, so the rows compare with the baselines' O_DSYNC
 * writes of --bs.  Like a checkpointer, the loop lets segments before the
 * durable LSN be recycled, so the log reuses its pre-allocated files instead
 * of creating new ones while timed, and before anything is timed the log is
 * brought to that steady state (see primeSegments).  The durability mode is
 * the method's default unless AIO_BENCH_WAL_DURABILITY names one.
 */
export async function openWithWalWriter(WalWriter: WalWriterClassView | undefined, aio: AioContextView, method: string, config: CaseConfig, workload: WorkloadDefinition): Promise<OpenMethod> {
  // One directory per method: every method is opened before the runs, which alternate between them.
  const dir = `${config.file}.wal-${method}`;
  let wal: WalWriterView;
  try {
    if (workload.name !== 'wal') throw new Error('--api wal runs the wal workload only');
    if (WalWriter === undefined) throw new Error('@aio/core has no WalWriter in this build');
    if (config.bs <= WAL_RECORD_HEADER) throw new Error(`--bs must be larger than the ${WAL_RECORD_HEADER}-byte record header`);
    fs.rmSync(dir, { recursive: true, force: true });
    const durability = process.env.AIO_BENCH_WAL_DURABILITY;
    const maxFlushes = Math.min(config.qd, Number(process.env.AIO_BENCH_WAL_MAX_FLUSHES ?? config.qd) || config.qd);
    const opened = await WalWriter.open(aio, dir, { maxFlushes, ...(durability ? { durability } : {}) });
    wal = opened;
    await primeSegments(opened).catch(async (error: unknown) => {
      // The log closes first: it waits for the segment it is preparing in the background.
      await opened.close().catch(() => undefined);
      throw error;
    });
  } catch (error) {
    await aio.close();
    throw error;
  }
  const record = Buffer.alloc(config.bs - WAL_RECORD_HEADER, 0x5a);
  return {
    measure: (phase) => measureWalCommits(wal, record, config, workload, phase),
    close: async () => {
      await wal.close();
      await aio.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes through the log with large records, recycling as it goes, until a
 * recycled segment is in use: from then on every segment the timed commits
 * cross into is an old one renamed, as the baselines write over an existing,
 * fully allocated file (a database's log is in this state after its first
 * checkpoints).  Without it, the first timed run would also zero-fill new
 * segments, and measure that.
 */
async function primeSegments(wal: WalWriterView): Promise<void> {
  const record = Buffer.alloc(Math.min(1024 * 1024, wal.segmentSize / 4) - WAL_RECORD_HEADER, 0);
  while (wal.stats.segmentsRecycled === 0) {
    await wal.flush(wal.append(record));
    wal.recycleBefore(wal.durableLsn);
  }
}

async function measureWalCommits(wal: WalWriterView, record: Buffer, config: CaseConfig, workload: WorkloadDefinition, phase: Phase): Promise<RunMeasurement> {
  const state = new IoLoopState(workload.createOffsets(config, phase.seed), phase);
  let recycledUpTo = 0;
  const committer = async (): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (state.nextOffset(now) < 0) return;
      await wal.flush(wal.append(record));
      state.complete(now, performance.now());
      if (wal.durableLsn - recycledUpTo >= wal.segmentSize) {
        recycledUpTo = wal.durableLsn;
        wal.recycleBefore(recycledUpTo);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: config.qd }, committer));
  } catch (error) {
    state.fail(error);
  }
  state.throwIfFailed();
  return state.finish(config.bs);
}
