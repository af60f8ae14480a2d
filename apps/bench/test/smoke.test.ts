import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASELINE_NAMES } from '../src/method-names.js';
import { JSON_CONTRACT_KEYS } from '../src/report/json.js';
import { chooseDefaultDirectory } from '../src/target-file.js';

/*
 * The one test that runs the real benchmark: the built CLI, one workload, one
 * second per method, every baseline, --json.  Everything else in this
 * package is tested without running IO loops.
 */

const packageDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const cli = path.join(packageDir, 'dist', 'cli.js');
let directory: string;

beforeAll(() => {
  // Build (incrementally) so the test runs the CLI as it is now, not a stale dist/.
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', packageDir], { stdio: 'inherit' });
  directory = fs.mkdtempSync(path.join(path.dirname(chooseDefaultDirectory()), 'aio-bench-smoke-'));
});

afterAll(() => {
  fs.rmSync(directory, { recursive: true, force: true });
});

/**
 * Runs the built CLI on one second of randread over a 64 MiB file with `args`
 * added, expects it to exit 0, and returns its JSON lines and its stderr.
 */
function runRandread(args: string[]): { lines: Record<string, unknown>[]; stderr: string } {
  const argv = [cli, 'randread', ...args, '--seconds', '1', '--warmup', '0.1', '--runs', '1', '--size', '64m', '--file', path.join(directory, 'smoke.dat'), '--json'];
  const result = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 55_000 });
  expect(result.status, result.stderr).toBe(0);
  const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  return { lines, stderr: result.stderr };
}

describe('aio-bench CLI', () => {
  it('runs randread for one second on every baseline and prints one JSON line per measured method', { timeout: 60_000 }, () => {
    const { lines, stderr } = runRandread(['--method', BASELINE_NAMES.join(',')]);
    const fioInstalled = spawnSync('fio', ['--version']).status === 0;
    const expected = fioInstalled ? [...BASELINE_NAMES] : BASELINE_NAMES.filter((name) => !name.startsWith('fio-'));
    expect(lines.map((line) => line.method)).toEqual(expected);
    if (!fioInstalled) expect(stderr).toContain('fio is not installed');

    for (const line of lines) {
      expect(Object.keys(line).slice(0, JSON_CONTRACT_KEYS.length)).toEqual([...JSON_CONTRACT_KEYS]);
      expect(line).toMatchObject({ workload: 'randread', api: 'baseline', bs: 4096, direct: false, cache: 'hot', seconds: 1, runs: 1 });
      expect(line.opsPerSec).toBeGreaterThan(0);
      expect(line.mibPerSec).toBeCloseTo(((line.opsPerSec as number) * 4096) / 1024 ** 2, 0);
      expect(line.p99Us).toBeGreaterThanOrEqual(line.p50Us as number);
    }
    const qd = Object.fromEntries(lines.map((line) => [line.method, line.qd]));
    expect(qd).toMatchObject({ 'node-fs-promises': 32, 'node-fs-sync': 1 });
  });

  it('runs randread with --api fs: the auto-selected method through @aio/fs FileHandles next to node-fs-promises', { timeout: 60_000 }, () => {
    const { lines } = runRandread(['--api', 'fs', '--method', 'auto,node-fs-promises']);
    expect(lines.map((line) => line.api)).toEqual(['fs', 'baseline']);
    expect(lines[1].method).toBe('node-fs-promises');
    for (const line of lines) expect(line.opsPerSec).toBeGreaterThan(0);
  });

  it('runs wal with --api wal: the auto-selected method\'s WAL writer commits next to node-fs-promises, and its log directory is removed', { timeout: 60_000 }, () => {
    const file = path.join(directory, 'wal.dat');
    const argv = [cli, 'wal', '--api', 'wal', '--method', 'auto,node-fs-promises', '--seconds', '1', '--warmup', '0.1', '--runs', '1', '--size', '64m', '--file', file, '--json'];
    const result = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 55_000 });
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line.api)).toEqual(['wal', 'baseline']);
    for (const line of lines) expect(line.opsPerSec).toBeGreaterThan(0);
    expect(fs.readdirSync(directory).filter((name) => name.includes('.wal-'))).toEqual([]);
  });
});
