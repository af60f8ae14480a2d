import { RATIO_BASELINE } from '../method-names.js';
import type { BenchRow } from '../result.js';
import { describeCase, groupByCase } from './groups.js';

/*
 * The plain-text table printed at the end: one block per case, one line per
 * method, with its ratio to node-fs-promises.  Skipped and failed methods
 * keep their line, with the reason in place of the figures.
 */

const COLUMNS = ['method', 'api', 'qd', 'ops/s', 'MiB/s', 'p50 µs', 'p99 µs', `× ${RATIO_BASELINE}`] as const;
const RIGHT_ALIGNED = new Set<string>(['qd', 'ops/s', 'MiB/s', 'p50 µs', 'p99 µs', `× ${RATIO_BASELINE}`]);

export function formatTable(rows: readonly BenchRow[]): string {
  return groupByCase(rows)
    .map((group) => {
      const cells = group.rows.map((row, index) => rowCells(row, group.ratios[index]));
      return [describeCase(group.rows[0]), ...alignColumns([[...COLUMNS], ...cells])].join('\n');
    })
    .join('\n\n');
}

function rowCells(row: BenchRow, ratioToBaseline: number | null): string[] {
  const method = row.jobs > 1 ? `${row.method} ×${row.jobs} jobs` : row.method;
  if (row.status !== 'measured') return [method, row.api, String(row.qd), `${row.status}: ${row.reason}`];
  return [
    method,
    row.api,
    String(row.qd),
    formatInteger(row.opsPerSec),
    formatFixed(row.mibPerSec),
    formatMicroseconds(row.p50Us),
    formatMicroseconds(row.p99Us),
    ratioToBaseline === null ? '–' : `${ratioToBaseline.toFixed(2)}×`,
  ];
}

/** Pads each column to its widest cell; a short row's last cell (a reason) runs on freely. */
function alignColumns(table: string[][]): string[] {
  const widths = COLUMNS.map((_, column) =>
    Math.max(...table.filter((cells) => cells.length === COLUMNS.length).map((cells) => cells[column].length)),
  );
  return table.map((cells) =>
    cells
      .map((cell, column) => {
        const isLast = column === cells.length - 1 && cells.length < COLUMNS.length;
        if (isLast) return cell;
        return RIGHT_ALIGNED.has(COLUMNS[column]) ? cell.padStart(widths[column]) : cell.padEnd(widths[column]);
      })
      .join('  ')
      .trimEnd(),
  );
}

export function formatInteger(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–';
}

function formatFixed(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : '–';
}

/** Three significant figures below 1000 µs, whole microseconds above. */
export function formatMicroseconds(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value >= 1000) return formatInteger(value);
  return value.toPrecision(3);
}
