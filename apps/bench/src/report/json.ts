import type { MeasuredRow } from '../result.js';

/**
 * Returns the --json line of a measured row.  The first thirteen keys and
 * their order are the benchmark contract; `jobs`, `elapsedSeconds` and
 * `storage` (`disk`, or `zram` for the cases of `--zram`) follow as extras.  Figures are rounded to what the measurement can tell; a figure
 * that could not be measured (no IO completed) is null.
 */
export function toJsonLine(row: MeasuredRow): string {
  return JSON.stringify({
    workload: row.workload,
    method: row.method,
    api: row.api,
    opsPerSec: round(row.opsPerSec, 1),
    mibPerSec: round(row.mibPerSec, 2),
    p50Us: round(row.p50Us, 2),
    p99Us: round(row.p99Us, 2),
    qd: row.qd,
    bs: row.bs,
    direct: row.direct,
    cache: row.cache,
    seconds: row.seconds,
    runs: row.runs,
    jobs: row.jobs,
    elapsedSeconds: round(row.elapsedSeconds, 3),
    storage: row.storage,
  });
}

export const JSON_CONTRACT_KEYS = [
  'workload',
  'method',
  'api',
  'opsPerSec',
  'mibPerSec',
  'p50Us',
  'p99Us',
  'qd',
  'bs',
  'direct',
  'cache',
  'seconds',
  'runs',
] as const;

function round(value: number, digits: number): number | null {
  if (!Number.isFinite(value)) return null;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
