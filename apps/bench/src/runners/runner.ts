import type { LatencyHistogram } from '../stats.js';
import type { Progress } from '../progress.js';
import type { AioApi, CaseConfig, WorkloadDefinition } from '../workloads/index.js';

/** `handle` or `promise` for aio methods, `baseline` for node:fs and fio. */
export type RowApi = AioApi | 'baseline';

/** One timed (or warm-up) phase of a method on a case. */
export interface Phase {
  seconds: number;
  /** Seed of this phase's offsets: the case's seed for timed runs, another one for the warm-up. */
  seed: number;
  /** Receives one latency per completed IO; the caller hands it over empty. */
  histogram: LatencyHistogram;
  progress: Progress;
}

/** What one phase measured. */
export interface RunMeasurement {
  ops: number;
  bytes: number;
  elapsedSeconds: number;
  p50Us: number;
  p99Us: number;
}

/**
 * One method (an aio method through one API, or a baseline) behind the same
 * interface, so the measuring code treats every method alike.
 */
export interface MethodRunner {
  readonly method: string;
  readonly api: RowApi;
  /** Whether an untimed warm-up helps: true for JavaScript (JIT, first-call costs); fio is C and needs none. */
  readonly warmsUp: boolean;
  /** The IOs this method really keeps in flight per thread on this case, which the results report. */
  effectiveQd(config: CaseConfig): number;
  /** Threads issuing IO (fio jobs); 1 for the node and aio methods. */
  jobs(config: CaseConfig): number;
  /** Returns why the method cannot run this case here, or null when it can. */
  unavailableReason(config: CaseConfig): Promise<string | null>;
  /** Opens the file and allocates what the phases reuse; the caller always closes what it opened. */
  open(config: CaseConfig, workload: WorkloadDefinition): Promise<OpenMethod>;
}

export interface OpenMethod {
  measure(phase: Phase): Promise<RunMeasurement>;
  close(): Promise<void>;
}

/** A method that cannot run, with the reason printed instead of its figures. */
export interface SkippedMethod {
  readonly method: string;
  readonly api: RowApi;
  readonly reason: string;
}

export type PlannedMethod = { runner: MethodRunner } | { skipped: SkippedMethod };
