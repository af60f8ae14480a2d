/**
 * `aio doctor`: every method with its state, the chosen one, and the
 * platform facts behind them, as a table or as JSON.
 *
 * The JSON form is a contract: `{"chosen": name|null, "methods": [{"name",
 * "installed", "available", "reason", ...}], "platform": {...}}`.  Keys may be
 * added inside a method object and inside `platform`, never removed.
 */
import { AIO_METHOD_NAMES, AioUsageError, type AioMethodCapabilities, type AioMethodName, type AioOpName } from '@aio/core';
import { platformFacts, type PlatformFacts } from './platform.js';
import { threadSelector, type MethodListing, type Selector } from './selector.js';

/** One method as the doctor reports it: a listing without its factory. */
export interface DoctorMethod {
  readonly name: AioMethodName;
  readonly installed: boolean;
  readonly available: boolean;
  readonly reason: string;
  readonly package: string;
  readonly version?: string;
  readonly code?: string;
  readonly advice?: string;
  readonly capabilities?: AioMethodCapabilities;
  readonly details?: Readonly<Record<string, unknown>>;
  /** Whether this is the method `createAio()` uses. */
  readonly chosen: boolean;
  /** Present and true on the method AIO_METHOD forces. */
  readonly forced?: boolean;
}

export interface DoctorReport {
  /** The method `createAio()` would use here; null when a forced method cannot work. */
  readonly chosen: AioMethodName | null;
  readonly methods: readonly DoctorMethod[];
  readonly platform: PlatformFacts;
  /** Why nothing was chosen (the error `createAio()` would throw); not part of the JSON. */
  readonly error?: string;
}

/**
 * Builds the report with `selector` (by default this thread's, the one
 * `createAio()` uses), honouring AIO_METHOD in `env` exactly as
 * `createAio()` does.
 */
export async function doctorReport(selector: Selector = threadSelector, env: NodeJS.ProcessEnv = process.env): Promise<DoctorReport> {
  const listings = await selector.list({ capabilities: true });
  try {
    const choice = await selector.choose({}, env);
    const methods = listings.map((listing) => toDoctorMethod(listing, choice.name, choice.forced ? choice.name : null));
    return { chosen: choice.name, methods, platform: platformFacts() };
  } catch (failure) {
    if (!(failure instanceof AioUsageError)) throw failure;
    // A forced method that cannot work (or a name that is no method): nothing is chosen.
    const forcedName = failure.code === 'AIO_ERR_METHOD_UNAVAILABLE' ? (env.AIO_METHOD?.trim() as AioMethodName) : null;
    const methods = listings.map((listing) => toDoctorMethod(listing, null, forcedName));
    return { chosen: null, methods, platform: platformFacts(), error: failure.message };
  }
}

function toDoctorMethod(listing: MethodListing, chosen: AioMethodName | null, forcedName: AioMethodName | null): DoctorMethod {
  // The four keys of the JSON contract first, then the rest, without the factory.
  const { name, installed, available, reason, factory: _factory, ...rest } = listing;
  return { name, installed, available, reason, ...rest, chosen: name === chosen, ...(name === forcedName ? { forced: true } : {}) };
}

/** The JSON the CLI prints for `--json`. */
export function doctorJson(report: DoctorReport): string {
  const { chosen, methods, platform } = report;
  return JSON.stringify({ chosen, methods, platform }, null, 2);
}

const ALL_OPS: readonly AioOpName[] = ['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync'];

/** A short capability summary: "all ops, direct, vectored, depth 4096, completes on another thread". */
export function describeCapabilities(capabilities: AioMethodCapabilities): string {
  const ops = ALL_OPS.every((op) => capabilities.ops.includes(op)) ? 'all ops' : `ops ${capabilities.ops.join(',') || 'none'}`;
  const parts = [ops];
  if (capabilities.direct) parts.push('direct');
  if (capabilities.vectored) parts.push('vectored');
  parts.push(`depth ${capabilities.maxDepth}`);
  if (capabilities.completesOnOtherThread) parts.push('completes on another thread');
  return parts.join(', ');
}

/** The human-readable report. */
export function formatDoctor(report: DoctorReport): string {
  const lines: string[] = [];
  const rows = report.methods.map((method) => [
    `${method.chosen ? '> ' : '  '}${method.name}`,
    installedText(method),
    method.available ? 'yes' : 'no',
    method.reason,
  ]);
  const header = ['  method', 'installed', 'available', 'reason'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const pad = (cells: string[]): string => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ');
  const indent = ' '.repeat(widths[0] + widths[1] + widths[2] + 6);
  lines.push(pad(header));
  report.methods.forEach((method, index) => {
    lines.push(pad(rows[index]));
    if (method.capabilities !== undefined) lines.push(`${indent}capabilities: ${describeCapabilities(method.capabilities)}`);
  });
  lines.push('');
  lines.push(...chosenLines(report));
  lines.push('', 'platform', ...platformLines(report.platform));
  return lines.join('\n');
}

/**
 * The "installed" column: a package can be installed with its binary for
 * another platform, or with no binary at all, and that is not the same
 * problem as a package that is not installed.
 */
function installedText(method: DoctorMethod): string {
  if (!method.installed) return 'no';
  const version = method.version === undefined ? '' : ` ${method.version}`;
  if (method.code === 'binary-wrong-platform') return `yes${version}, binary for another platform`;
  if (method.code === 'binary-not-installed') return `yes${version}, no binary`;
  if (method.code === 'no-prebuilt') return `yes${version}, no binary for this platform`;
  return `yes${version}`;
}

function chosenLines(report: DoctorReport): string[] {
  const order = AIO_METHOD_NAMES.join(' > ');
  if (report.chosen === null) return [`chosen: none: ${report.error ?? 'no method is available'}`];
  const forced = report.methods.find((method) => method.forced === true);
  if (forced !== undefined) return [`chosen: ${report.chosen} (forced with AIO_METHOD)`];
  const lines = [`chosen: ${report.chosen} (the first available in the order ${order})`];
  const better = report.methods.slice(0, report.methods.findIndex((method) => method.chosen));
  const actionable = better.filter((method) => method.advice !== undefined && method.code !== 'wrong-platform' && method.code !== 'no-prebuilt');
  if (actionable.length > 0) {
    lines.push('', 'to use a better method:');
    for (const method of actionable) lines.push(`  ${method.name}: ${method.advice}`);
  }
  return lines;
}

function platformLines(facts: PlatformFacts): string[] {
  const rows: Array<[string, string]> = [
    ['os', `${facts.os} ${facts.arch}, kernel ${facts.kernel} (${facts.kernelVersion})`],
  ];
  if (facts.os === 'linux') {
    rows.push(['io_uring_disabled', ioUringDisabledText(facts)]);
    rows.push(['seccomp', facts.seccomp ?? 'unknown']);
    rows.push(['memlock', facts.memlock === null ? 'unknown' : facts.memlock === 'unlimited' ? 'unlimited' : formatBytes(facts.memlock)]);
    rows.push(['libc', facts.libc === null ? 'unknown' : `${facts.libc.family} ${facts.libc.version ?? '(version unknown)'}`]);
    if (facts.container !== null) rows.push(['container', facts.container]);
  }
  rows.push(['node', `${facts.node} (Node-API ${facts.napi}, libuv ${facts.uv})`]);
  if (facts.coreCopies.length > 1) {
    const copies = facts.coreCopies.map((copy) => `${copy.version} at ${copy.path}`).join('; ');
    rows.push(['@aio/core', `${facts.coreCopies.length} copies loaded (${copies}): run npm dedupe`]);
  }
  rows.push(['binaries', `${facts.platformId} (a backend @aio/<name> loads @aio/<name>-${facts.platformId})`]);
  if (facts.uid !== null) rows.push(['uid', String(facts.uid)]);
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`);
}

function ioUringDisabledText(facts: PlatformFacts): string {
  switch (facts.ioUringDisabled) {
    case null:
      return 'absent (kernel before 6.6, or not readable)';
    case 0:
      return '0 (io_uring allowed for every process)';
    case 1:
      return `1 (io_uring only for group ${facts.ioUringGroup ?? 'unknown'} and privileged processes)`;
    case 2:
      return '2 (io_uring disabled for every process)';
    default:
      return String(facts.ioUringDisabled);
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
