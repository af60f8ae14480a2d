import type { MethodRunner, RowApi, RunMeasurement } from './runners/runner.js';
import { median } from './stats.js';
import type { CacheState, CaseConfig, WorkloadName } from './workloads/index.js';

/** The fields every result line has, measured or not. */
interface RowBase {
  workload: WorkloadName;
  method: string;
  api: RowApi;
  /** The IOs in flight this method really kept (node-fs-sync and fio-psync: 1). */
  qd: number;
  /** The IOs in flight the case asked for. */
  requestedQd: number;
  bs: number;
  direct: boolean;
  cache: CacheState;
  seconds: number;
  runs: number;
  jobs: number;
  /** Rows with the same case id ran the same case; ratios are taken within a case. */
  caseId: string;
  /** Where the file lived: the disk, or the zram device of `--zram`. */
  storage: 'disk' | 'zram';
}

/** The figures of one method on one case: medians over its runs. */
export interface MeasuredRow extends RowBase {
  status: 'measured';
  opsPerSec: number;
  mibPerSec: number;
  p50Us: number;
  p99Us: number;
  /** The median measured duration of a run, which seqread may end before --seconds. */
  elapsedSeconds: number;
}

/** A method that was skipped (cannot run here) or failed (an IO or the tool failed), with the reason. */
export interface UnmeasuredRow extends RowBase {
  status: 'skipped' | 'failed';
  reason: string;
}

export type BenchRow = MeasuredRow | UnmeasuredRow;

/** Identifies a case: what the user asked for, before any method lowers the depth it can do. */
export function caseIdOf(config: CaseConfig): string {
  const io = config.direct ? 'direct' : 'buffered';
  const storage = config.storage === 'zram' ? ' zram' : '';
  return `${config.workload} bs=${config.bs} qd=${config.qd} ${io} ${config.cache} ${config.seconds}s×${config.runs}${storage}`;
}

function rowBase(runner: Pick<MethodRunner, 'method' | 'api'>, config: CaseConfig, qd: number, jobs: number): RowBase {
  return {
    workload: config.workload,
    method: runner.method,
    api: runner.api,
    qd,
    requestedQd: config.qd,
    bs: config.bs,
    direct: config.direct,
    cache: config.cache,
    seconds: config.seconds,
    runs: config.runs,
    jobs,
    caseId: caseIdOf(config),
    storage: config.storage,
  };
}

/**
 * Summarizes the runs of one method: each figure is the median of that
 * figure over the runs (so with --runs 3 one slow run does not move it).
 */
export function summarizeRuns(runner: MethodRunner, config: CaseConfig, runs: readonly RunMeasurement[]): MeasuredRow {
  const perRun = (figure: (run: RunMeasurement) => number) => median(runs.map(figure));
  return {
    ...rowBase(runner, config, runner.effectiveQd(config), runner.jobs(config)),
    status: 'measured',
    opsPerSec: perRun((run) => run.ops / run.elapsedSeconds),
    mibPerSec: perRun((run) => run.bytes / run.elapsedSeconds / 1024 ** 2),
    p50Us: perRun((run) => run.p50Us),
    p99Us: perRun((run) => run.p99Us),
    elapsedSeconds: perRun((run) => run.elapsedSeconds),
  };
}

export function unmeasuredRow(
  method: Pick<MethodRunner, 'method' | 'api'>,
  config: CaseConfig,
  status: 'skipped' | 'failed',
  reason: string,
  qd = config.qd,
): UnmeasuredRow {
  return { ...rowBase(method, config, qd, 1), status, reason };
}
