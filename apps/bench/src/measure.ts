import { residentBytes, setCacheState } from './cache.js';
import type { Progress } from './progress.js';
import { summarizeRuns, unmeasuredRow, type BenchRow } from './result.js';
import type { MethodRunner, OpenMethod, RunMeasurement } from './runners/runner.js';
import { LatencyHistogram } from './stats.js';
import { WORKLOADS, type CaseConfig } from './workloads/index.js';

/*
 * How one method is measured on one case, the same way for every method:
 * open once, warm up (untimed, with another seed so the timed offsets stay
 * unseen), then for each run set the cache state and run the timed phase.
 * The figures are the medians over the runs.
 */

/** The warm-up's offsets come from a different seed than the timed runs'. */
const WARMUP_SEED_OFFSET = 0x5eed;
/** A cold run that starts with more than this share of the file cached gets a warning. */
const COLD_RESIDENT_LIMIT = 0.01;

const histogram = new LatencyHistogram();

export async function measureMethod(
  runner: MethodRunner,
  config: CaseConfig,
  progress: Progress,
  log: (message: string) => void,
): Promise<BenchRow> {
  const reason = await runner.unavailableReason(config);
  if (reason !== null) return unmeasuredRow(runner, config, 'skipped', reason, runner.effectiveQd(config));
  const workload = WORKLOADS[config.workload];
  let open: OpenMethod | null = null;
  const runs: RunMeasurement[] = [];
  try {
    open = await runner.open(config, workload);
    const label = `${config.workload} ${runner.method}${runner.api === 'baseline' ? '' : ` (${runner.api})`}`;
    if (runner.warmsUp && config.warmupSeconds > 0) {
      await runPhase(open, config.warmupSeconds, config.seed + WARMUP_SEED_OFFSET, progress, `${label} warm-up`);
    }
    for (let run = 1; run <= config.runs; run++) {
      setCacheState(config.file, config.cache);
      if (config.cache === 'cold') warnIfNotCold(config.file, config.size, log);
      runs.push(await runPhase(open, config.seconds, config.seed, progress, `${label} run ${run}/${config.runs}`));
    }
  } catch (error) {
    progress.end();
    return unmeasuredRow(runner, config, 'failed', (error as Error).message ?? String(error), runner.effectiveQd(config));
  } finally {
    await closeQuietly(open, runner.method, log);
  }
  return summarizeRuns(runner, config, runs);
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
