import { RATIO_BASELINE } from '../method-names.js';
import type { BenchRow } from '../result.js';
import { ratio } from '../stats.js';

/** The rows of one case, in the order they ran, with each row's ops/s ratio to node-fs-promises. */
export interface CaseGroup {
  caseId: string;
  rows: BenchRow[];
  ratios: Array<number | null>;
}

/** Groups rows by case (first-seen order) and computes the ratios within each case. */
export function groupByCase(rows: readonly BenchRow[]): CaseGroup[] {
  const groups = new Map<string, BenchRow[]>();
  for (const row of rows) {
    const group = groups.get(row.caseId);
    if (group) group.push(row);
    else groups.set(row.caseId, [row]);
  }
  return [...groups].map(([caseId, caseRows]) => {
    const baseline = caseRows.find((row) => row.method === RATIO_BASELINE && row.status === 'measured');
    const baselineOps = baseline?.status === 'measured' ? baseline.opsPerSec : undefined;
    const ratios = caseRows.map((row) => (row.status === 'measured' ? ratio(row.opsPerSec, baselineOps) : null));
    return { caseId, rows: caseRows, ratios };
  });
}

/** A one-line description of a case, from any of its rows. */
export function describeCase(row: BenchRow): string {
  const runs = `${row.runs} run${row.runs === 1 ? '' : 's'}${row.runs > 1 ? ' (median)' : ''}`;
  return [
    row.workload,
    `bs ${formatBlockSize(row.bs)}`,
    `qd ${row.requestedQd}`,
    row.direct ? 'O_DIRECT' : 'buffered',
    `${row.cache} cache`,
    `${row.seconds} s × ${runs}`,
    ...(row.storage === 'zram' ? ['on zram (ext4, set up by --zram)'] : []),
  ].join(' · ');
}

function formatBlockSize(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}
