import { resolveCase, type BenchOptions, type CaseOverrides } from './options.js';
import type { CaseConfig, WorkloadName } from './workloads/index.js';

/**
 * The default suite (`pnpm start`): one short run of each workload, with
 * random reads both through the page cache and with O_DIRECT.  The other
 * parameters are each workload's defaults.
 */
export const SUITE: ReadonlyArray<{ workload: WorkloadName; overrides: CaseOverrides }> = [
  { workload: 'randread', overrides: { bs: 4096, qd: 32, direct: false, cache: 'hot' } },
  { workload: 'randread', overrides: { bs: 4096, qd: 32, direct: true, cache: 'hot' } },
  { workload: 'seqread', overrides: {} },
  { workload: 'writeback', overrides: {} },
  { workload: 'wal', overrides: {} },
];

export function suiteCases(options: BenchOptions, file: { path: string; size: number }): CaseConfig[] {
  return SUITE.map(({ workload, overrides }) => resolveCase(options, workload, file, overrides));
}
