import { describe, expect, it } from 'vitest';
import { escapeXml, renderChart } from '../src/report/chart.js';
import { groupByCase } from '../src/report/groups.js';
import { JSON_CONTRACT_KEYS, toJsonLine } from '../src/report/json.js';
import { formatMicroseconds, formatTable } from '../src/report/table.js';
import { measuredRow, skippedRow, xmlProblems } from './helpers.js';

const rows = [
  measuredRow({ method: 'io_uring', api: 'handle', opsPerSec: 400_000 }),
  measuredRow(),
  measuredRow({ method: 'node-fs-sync', qd: 1, opsPerSec: 50_000 }),
  skippedRow('fio-io_uring', 'fio is not installed (apt-get install fio)'),
];

describe('JSON lines', () => {
  it('start with exactly the contract keys, in order, then the extras', () => {
    const parsed = JSON.parse(toJsonLine(measuredRow())) as Record<string, unknown>;
    expect(Object.keys(parsed).slice(0, JSON_CONTRACT_KEYS.length)).toEqual([...JSON_CONTRACT_KEYS]);
    expect(Object.keys(parsed).slice(JSON_CONTRACT_KEYS.length)).toEqual(['jobs', 'elapsedSeconds', 'storage']);
  });

  it('carry typed, rounded figures', () => {
    const line = toJsonLine(measuredRow({ opsPerSec: 123456.789, method: 'io_uring', api: 'promise' }));
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      workload: 'randread',
      method: 'io_uring',
      api: 'promise',
      opsPerSec: 123456.8,
      mibPerSec: 390.63,
      p50Us: 250.12,
      p99Us: 1000.46,
      qd: 32,
      bs: 4096,
      direct: false,
      cache: 'hot',
      seconds: 3,
      runs: 1,
      jobs: 1,
      elapsedSeconds: 3,
      storage: 'disk',
    });
  });

  it('write a figure that could not be measured as null', () => {
    expect(JSON.parse(toJsonLine(measuredRow({ p50Us: Number.NaN }))).p50Us).toBeNull();
  });
});

describe('ratios', () => {
  it('are taken against node-fs-promises within each case only', () => {
    const other = measuredRow({ caseId: 'other', method: 'node-fs-sync', opsPerSec: 10 });
    const groups = groupByCase([...rows, other]);
    expect(groups.map((group) => group.caseId)).toEqual([rows[0].caseId, 'other']);
    expect(groups[0].ratios).toEqual([4, 1, 0.5, null]);
    expect(groups[1].ratios).toEqual([null]);
  });
});

describe('table', () => {
  const table = formatTable(rows);

  it('describes the case and lists each method with its figures and ratio', () => {
    const lines = table.split('\n');
    expect(lines[0]).toBe('randread · bs 4 KiB · qd 32 · buffered · hot cache · 3 s × 1 run');
    expect(lines[1]).toMatch(/^method\s+api\s+qd\s+ops\/s\s+MiB\/s\s+p50 µs\s+p99 µs\s+× node-fs-promises$/);
    expect(lines[2]).toMatch(/^io_uring\s+handle\s+32\s+400,000\s+390\.6\s+250\s+1,000\s+4\.00×$/);
    expect(lines[4]).toMatch(/^node-fs-sync\s+baseline\s+1\s+50,000 .* 0\.50×$/);
  });

  it('keeps skipped methods with their reason', () => {
    expect(table).toMatch(/fio-io_uring\s+baseline\s+32\s+skipped: fio is not installed \(apt-get install fio\)/);
  });

  it('formats latencies with three significant figures below a millisecond', () => {
    expect(formatMicroseconds(0.8234)).toBe('0.823');
    expect(formatMicroseconds(37.61)).toBe('37.6');
    expect(formatMicroseconds(254.4)).toBe('254');
    expect(formatMicroseconds(6472.2)).toBe('6,472');
    expect(formatMicroseconds(Number.NaN)).toBe('–');
  });
});

describe('SVG chart', () => {
  it('is well-formed XML with one bar per measured row', () => {
    const svg = renderChart(rows);
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(xmlProblems(svg)).toEqual([]);
    // One background rect plus one bar per measured row.
    expect(svg.match(/<rect /g)).toHaveLength(1 + 3);
    expect(svg).toContain('skipped: fio is not installed');
  });

  it('escapes text, so odd method names and reasons cannot break it', () => {
    const svg = renderChart([measuredRow({ method: 'a<b>&"c\'' }), skippedRow('x', 'needs <root> & "luck"')], 'T & <title>');
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg).toContain('a&lt;b&gt;&amp;&quot;c&apos;');
    expect(escapeXml('<&>')).toBe('&lt;&amp;&gt;');
  });

  it('the checker itself catches broken documents', () => {
    expect(xmlProblems('<svg><text a="1" a="2">x</text></svg>')).toEqual(['<text> repeats attribute a']);
    expect(xmlProblems('<svg><g></svg>')).not.toEqual([]);
    expect(xmlProblems('<svg><text>a & b</text></svg>')).not.toEqual([]);
    expect(xmlProblems('<svg width=3></svg>')).not.toEqual([]);
  });
});
