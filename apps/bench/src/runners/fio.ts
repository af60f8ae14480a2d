import { spawn } from 'node:child_process';
import { fioVersion } from '../machine.js';
import type { CaseConfig, WorkloadDefinition } from '../workloads/index.js';
import type { MethodRunner, OpenMethod, Phase, RunMeasurement } from './runner.js';

/*
 * The fio baselines: what the kernel gives a C program, with fio's io_uring
 * and psync engines, at the same block size, depth, direct flag and cache
 * state as every other method.
 *
 * psync (pread/pwrite) has no queue depth: one job keeps exactly one IO in
 * flight.  The bench runs it as one job, like node-fs-sync, and reports qd 1,
 * instead of turning --qd into --qd threads: "qd N from one thread" is what
 * every other row means, and N threads would be a different machine setup.
 * For comparisons with several threads (the "4 jobs" runs), --fio-jobs N runs
 * N jobs for both fio engines, and the rows report it in "jobs".
 *
 * Each case's cache state is set by the bench before fio starts, exactly as
 * for the other methods; --invalidate=0 keeps fio from dropping a hot cache
 * (its default drops the file's pages), and cold runs keep fio's own drop.
 */

export type FioEngine = 'io_uring' | 'psync';

export const FIO_MISSING_REASON = 'fio is not installed (apt-get install fio)';

export class FioRunner implements MethodRunner {
  readonly method: string;
  readonly api = 'baseline' as const;
  readonly warmsUp = false;

  constructor(readonly engine: FioEngine) {
    this.method = `fio-${engine}`;
  }

  effectiveQd(config: CaseConfig): number {
    return this.engine === 'psync' ? 1 : config.qd;
  }

  jobs(config: CaseConfig): number {
    return config.fioJobs;
  }

  async unavailableReason(): Promise<string | null> {
    return fioVersion() === null ? FIO_MISSING_REASON : null;
  }

  async open(config: CaseConfig, workload: WorkloadDefinition): Promise<OpenMethod> {
    const args = buildFioArgs(config, workload, this.engine);
    return {
      measure: (phase) => runFio(args, workload.op, phase),
      close: async () => {},
    };
  }
}

/** Returns fio's command line (without `fio`) for one case on one engine. */
export function buildFioArgs(config: CaseConfig, workload: WorkloadDefinition, engine: FioEngine): string[] {
  return [
    `--name=aio-bench-${workload.name}`,
    `--filename=${escapeFioFilename(config.file)}`,
    `--size=${config.size}`,
    `--bs=${config.bs}`,
    `--ioengine=${engine}`,
    `--iodepth=${engine === 'psync' ? 1 : config.qd}`,
    `--direct=${config.direct ? 1 : 0}`,
    `--invalidate=${config.cache === 'hot' ? 0 : 1}`,
    `--numjobs=${config.fioJobs}`,
    '--group_reporting=1',
    // Total latency (submission to completion) percentiles, which is what the bench times for its own methods.
    '--lat_percentiles=1',
    '--percentile_list=50:99',
    '--output-format=json',
    ...workload.fioArgs(config),
  ];
}

/** fio splits --filename on colons; a path that contains one must escape it. */
function escapeFioFilename(file: string): string {
  return file.replace(/:/g, '\\:');
}

function runFio(args: string[], op: 'read' | 'write', phase: Phase): Promise<RunMeasurement> {
  return new Promise((resolve, reject) => {
    const child = spawn('fio', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const startedAt = performance.now();
    const timer = setInterval(() => phase.progress.set((performance.now() - startedAt) / (phase.seconds * 1000)), 100);
    child.on('error', (error) => {
      clearInterval(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearInterval(timer);
      const errorText = Buffer.concat(stderr).toString('utf8').trim();
      if (code !== 0) {
        reject(new Error(`fio exited with status ${code}: ${errorText.split('\n').slice(-3).join(' ') || 'no message'}`));
        return;
      }
      try {
        resolve(parseFioJson(Buffer.concat(stdout).toString('utf8'), op));
      } catch (error) {
        reject(error);
      }
    });
  });
}

interface FioDirectionStats {
  io_bytes: number;
  total_ios: number;
  runtime: number;
  lat_ns?: { percentile?: Record<string, number> };
}

/**
 * Reads fio's --output-format=json report (fio may print warnings before the
 * JSON) and returns the one group's figures for `op`.  The run time is fio's
 * own, in milliseconds, which for writeback includes the end fsync.
 */
export function parseFioJson(text: string, op: 'read' | 'write'): RunMeasurement {
  const start = text.indexOf('{');
  if (start < 0) throw new Error(`fio printed no JSON report: ${text.slice(0, 200)}`);
  const report = JSON.parse(text.slice(start)) as { jobs?: Array<Record<string, unknown>> };
  const job = report.jobs?.[0];
  if (!job) throw new Error('fio reported no job');
  if (typeof job.error === 'number' && job.error !== 0) throw new Error(`fio reported error ${job.error}`);
  const stats = job[op] as FioDirectionStats | undefined;
  if (!stats || !(stats.runtime > 0)) throw new Error(`fio reported no ${op} time`);
  const percentiles = stats.lat_ns?.percentile ?? {};
  return {
    ops: stats.total_ios,
    bytes: stats.io_bytes,
    elapsedSeconds: stats.runtime / 1000,
    p50Us: (percentiles['50.000000'] ?? Number.NaN) / 1000,
    p99Us: (percentiles['99.000000'] ?? Number.NaN) / 1000,
  };
}
