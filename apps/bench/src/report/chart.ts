import { RATIO_BASELINE } from '../method-names.js';
import type { BenchRow } from '../result.js';
import { describeCase, groupByCase } from './groups.js';
import { formatInteger } from './table.js';

/*
 * The --chart output: a hand-written SVG with one panel per case and one
 * horizontal bar per method, its length the ops/s on a scale shared within
 * the panel, labelled with the ops/s and the ratio to node-fs-promises.  Aio
 * methods, node:fs baselines and fio baselines have their own colours.
 */

const WIDTH = 1040;
const LABEL_WIDTH = 260;
const BAR_AREA = 520;
const ROW_HEIGHT = 24;
const BAR_HEIGHT = 16;
const PANEL_TITLE_HEIGHT = 30;
const PANEL_GAP = 18;
const MARGIN = 16;
/** The font attributes of a text element; size in pixels. */
function font(size = 12): string {
  return `font-family="system-ui, sans-serif" font-size="${size}"`;
}

const COLOURS = { aio: '#2563eb', node: '#6b7280', fio: '#d97706' } as const;

export function renderChart(rows: readonly BenchRow[], title = 'aio-bench: ops/s per method'): string {
  const parts: string[] = [];
  let y = MARGIN + 20;
  parts.push(`<text x="${MARGIN}" y="${y}" ${font(16)} font-weight="bold">${escapeXml(title)}</text>`);
  y += PANEL_GAP;
  for (const group of groupByCase(rows)) {
    parts.push(...renderPanel(group.rows, group.ratios, y));
    y += PANEL_TITLE_HEIGHT + group.rows.length * ROW_HEIGHT + PANEL_GAP;
  }
  const height = y + MARGIN;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function renderPanel(rows: readonly BenchRow[], ratios: ReadonlyArray<number | null>, top: number): string[] {
  const parts = [
    `<text x="${MARGIN}" y="${top + 18}" ${font(13)} font-weight="bold">${escapeXml(describeCase(rows[0]))}</text>`,
  ];
  const largest = Math.max(0, ...rows.map((row) => (row.status === 'measured' && Number.isFinite(row.opsPerSec) ? row.opsPerSec : 0)));
  rows.forEach((row, index) => {
    const rowTop = top + PANEL_TITLE_HEIGHT + index * ROW_HEIGHT;
    const textY = rowTop + BAR_HEIGHT - 3;
    const label = row.api === 'baseline' ? row.method : `${row.method} (${row.api})`;
    parts.push(`<text x="${MARGIN}" y="${textY}" ${font()}>${escapeXml(label)}</text>`);
    if (row.status !== 'measured') {
      const note = `${row.status}: ${row.reason}`;
      parts.push(`<text x="${LABEL_WIDTH}" y="${textY}" ${font()} fill="#9ca3af" font-style="italic">${escapeXml(note)}</text>`);
      return;
    }
    const length = largest > 0 && Number.isFinite(row.opsPerSec) ? Math.max(1, (row.opsPerSec / largest) * BAR_AREA) : 0;
    const ratio = ratios[index];
    const value = `${formatInteger(row.opsPerSec)} ops/s${ratio === null ? '' : ` · ${ratio.toFixed(2)}× ${RATIO_BASELINE}`}`;
    parts.push(
      `<rect x="${LABEL_WIDTH}" y="${rowTop}" width="${length.toFixed(1)}" height="${BAR_HEIGHT}" fill="${colourOf(row)}"/>`,
      `<text x="${(LABEL_WIDTH + length + 6).toFixed(1)}" y="${textY}" ${font()}>${escapeXml(value)}</text>`,
    );
  });
  return parts;
}

function colourOf(row: BenchRow): string {
  if (row.api !== 'baseline') return COLOURS.aio;
  return row.method.startsWith('fio-') ? COLOURS.fio : COLOURS.node;
}

/** Escapes the five characters XML gives meaning to, so any method name or reason is safe inside the SVG. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => XML_ENTITIES[character]);
}

const XML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
