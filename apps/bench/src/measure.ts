import { residentBytes, setCacheState } from './cache.js';
import type { Progress } from './progress.js';
import { summarizeRuns, unmeasuredRow, type BenchRow } from './result.js';
import type { MethodRunner, OpenMethod, RunMeasurement } from './runners/runner.js';
import { LatencyHistogram } from './stats.js';
import { WARMUP_MAX_SECONDS, WARMUP_SLICE_SECONDS, roundOrder, warmupSettled } from './warmup.js';
import { WORKLOADS, type CaseConfig } from './workloads/index.js';

/*
 * How the methods are measured on one case, the same way for every method:
 * each is opened once and warmed up (untimed, with another seed so the
 * timed offsets stay unseen, until its throughput settled; see warmup.ts);
 * then the timed runs are interleaved, run 1 of every method, then run 2 of
 * every method, and so on, each round starting one method later, with the
 * cache state set before each run.  Interleaving matters on a shared machine: a burst of
 * load from elsewhere then hurts every method's run of that round alike
 * instead of all the runs of one method, and the medians stay comparable.
 * The figures are the medians over the runs.
 */

/** The warm-up's offsets come from a different seed than the timed runs'. */
const WARMUP_SEED_OFFSET = 0x5eed;
/** A cold run that starts with more than this share of the file cached gets a warning. */
const COLD_RESIDENT_LIMIT = 0.01;

const histogram = new LatencyHistogram();

/** One method while its case is measured. */
interface Contender {
  runner: MethodRunner;
  open: OpenMethod | null;
  runs: RunMeasurement[];
  /** Set when the method was skipped or failed; it then takes no further runs. */
  row: BenchRow | null;
}

export async function measureCase(
  runners: readonly MethodRunner[],
  config: CaseConfig,
  progress: Progress,
  log: (message: string) => void,
): Promise<BenchRow[]> {
  const contenders: Contender[] = runners.map((runner) => ({ runner, open: null, runs: [], row: null }));
  try {
    for (const contender of contenders) await openAndWarmUp(contender, config, progress);
    for (let run = 1; run <= config.runs; run++) {
      for (const index of roundOrder(contenders.length, run)) await timedRun(contenders[index], config, run, progress, log);
    }
  } finally {
    for (const contender of contenders) await closeQuietly(contender.open, contender.runner.method, log);
  }
  return contenders.map((c) => c.row ?? summarizeRuns(c.runner, config, c.runs));
}

function labelOf(runner: MethodRunner, config: CaseConfig): string {
  return `${config.workload} ${runner.method}${runner.api === 'baseline' ? '' : ` (${runner.api})`}`;
}

function fail(contender: Contender, config: CaseConfig, error: unknown, progress: Progress): void {
  progress.end();
  const { runner } = contender;
  contender.row = unmeasuredRow(runner, config, 'failed', (error as Error).message ?? String(error), runner.effectiveQd(config));
}

async function openAndWarmUp(contender: Contender, config: CaseConfig, progress: Progress): Promise<void> {
  const { runner } = contender;
  const reason = await runner.unavailableReason(config);
  if (reason !== null) {
    contender.row = unmeasuredRow(runner, config, 'skipped', reason, runner.effectiveQd(config));
    return;
  }
  try {
    contender.open = await runner.open(config, WORKLOADS[config.workload]);
    if (runner.warmsUp) await warmUp(contender.open, config, progress, `${labelOf(runner, config)} warm-up`);
  } catch (error) {
    fail(contender, config, error, progress);
  }
}

/**
 * The untimed phase: `--warmup S` seconds if given, else slices of
 * WARMUP_SLICE_SECONDS until their throughput settled (at most
 * WARMUP_MAX_SECONDS).
 */
async function warmUp(open: OpenMethod, config: CaseConfig, progress: Progress, label: string): Promise<void> {
  const seed = config.seed + WARMUP_SEED_OFFSET;
  if (config.warmupSeconds !== null) {
    if (config.warmupSeconds > 0) await runPhase(open, config.warmupSeconds, seed, progress, label);
    return;
  }
  const rates: number[] = [];
  for (let spent = 0; spent < WARMUP_MAX_SECONDS && !warmupSettled(rates); spent += WARMUP_SLICE_SECONDS) {
    const slice = await runPhase(open, WARMUP_SLICE_SECONDS, seed + rates.length, progress, label);
    rates.push(slice.ops / slice.elapsedSeconds);
  }
}

async function timedRun(contender: Contender, config: CaseConfig, run: number, progress: Progress, log: (message: string) => void): Promise<void> {
  if (contender.row !== null || contender.open === null) return;
  try {
    setCacheState(config.file, config.cache);
    if (config.cache === 'cold') warnIfNotCold(config.file, config.size, log);
    const label = `${labelOf(contender.runner, config)} run ${run}/${config.runs}`;
    contender.runs.push(await runPhase(contender.open, config.seconds, config.seed, progress, label));
  } catch (error) {
    fail(contender, config, error, progress);
  }
}

/** A failing close is reported, not thrown: the figures were already taken and the next method must still run. */
async function closeQuietly(open: OpenMethod | null, method: string, log: (message: string) => void): Promise<void> {
  try {
    await open?.close();
  } catch (error) {
    log(`warning: closing ${method} failed: ${(error as Error).message}`);
  }
}

async function runPhase(open: OpenMethod, seconds: number, seed: number, progress: Progress, label: string) {
  histogram.reset();
  progress.begin(label, seconds);
  try {
    return await open.measure({ seconds, seed, histogram, progress });
  } finally {
    progress.end();
  }
}

function warnIfNotCold(file: string, size: number, log: (message: string) => void): void {
  const resident = residentBytes(file);
  if (resident !== null && resident > size * COLD_RESIDENT_LIMIT) {
    log(`warning: ${resident} bytes of ${file} are still cached after dropping its pages; the run is not fully cold`);
  }
}
