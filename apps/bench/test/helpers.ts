import type { BenchRow, MeasuredRow } from '../src/result.js';

/** A measured row with plausible figures; tests override what they look at. */
export function measuredRow(overrides: Partial<MeasuredRow> = {}): MeasuredRow {
  return {
    status: 'measured',
    workload: 'randread',
    method: 'node-fs-promises',
    api: 'baseline',
    qd: 32,
    requestedQd: 32,
    bs: 4096,
    direct: false,
    cache: 'hot',
    seconds: 3,
    runs: 1,
    jobs: 1,
    caseId: 'randread bs=4096 qd=32 buffered hot 3s×1',
    storage: 'disk',
    opsPerSec: 100_000,
    mibPerSec: 390.625,
    p50Us: 250.123,
    p99Us: 1000.456,
    elapsedSeconds: 3.0004,
    ...overrides,
  };
}

export function skippedRow(method: string, reason: string): BenchRow {
  const { opsPerSec: _o, mibPerSec: _m, p50Us: _p50, p99Us: _p99, elapsedSeconds: _e, ...base } = measuredRow({ method });
  return { ...base, status: 'skipped', reason };
}

/**
 * A small XML well-formedness check, enough for the SVG the bench writes:
 * one root element, every tag closed in order, attributes quoted and not
 * repeated, and no raw `<` or unescaped `&` in text or attribute values.
 * Returns the problems found (none for a well-formed document).
 */
export function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const token = /<(\/?)([A-Za-z][\w:-]*)([^>]*?)(\/?)>|([^<]+)|(<)/g;
  for (let match = token.exec(body); match; match = token.exec(body)) {
    const [, closing, name, attributes, selfClosing, text, strayLessThan] = match;
    if (strayLessThan) problems.push(`stray '<' at ${match.index}`);
    if (text !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text)) problems.push(`unescaped '&' in text: ${text}`);
      if (stack.length === 0 && text.trim()) problems.push(`text outside the root: ${text.trim()}`);
      continue;
    }
    if (!name) continue;
    if (closing) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open ?? 'nothing'}>`);
      continue;
    }
    problems.push(...attributeProblems(name, attributes));
    if (stack.length === 0) roots++;
    if (!selfClosing) stack.push(name);
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(', ')}`);
  if (roots !== 1) problems.push(`expected one root element, found ${roots}`);
  return problems;
}

function attributeProblems(element: string, attributes: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const rest = attributes.replace(/\s*([\w:-]+)="([^"]*)"/g, (_, name: string, value: string) => {
    if (seen.has(name)) problems.push(`<${element}> repeats attribute ${name}`);
    seen.add(name);
    if (/[<]|&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(value)) problems.push(`<${element} ${name}> has an unescaped value`);
    return '';
  });
  if (rest.trim()) problems.push(`<${element}> has a malformed attribute part: ${rest.trim()}`);
  return problems;
}
