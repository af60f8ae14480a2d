import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { pattern, useScratch } from './helpers.js';

const scratch = useScratch();
const child = fileURLToPath(new URL('./fixtures/emulated-child.mjs', import.meta.url));

/** Runs a scenario in a fresh Node process; returns its standard output. A hang fails on the timeout. */
function run(scenario: string, ...flags: string[]): string {
  const file = scratch.file('data', pattern(64 * 512, 61));
  return execFileSync(process.execPath, [...flags, child, scenario, file], { encoding: 'utf8', timeout: 20_000 }).trim();
}

describe('kqueue (emulated): the event loop, worker threads and teardown', () => {
  it('kqueue (emulated): an idle context does not keep the process alive', () => {
    expect(run('idle')).toBe('read 100');
  });

  it('kqueue (emulated): IO in flight keeps the event loop alive until it completes', () => {
    expect(run('inflight')).toBe('read 100');
  });

  it('kqueue (emulated): await file.read() at top level works', () => {
    expect(run('toplevel')).toBe('read 256 true');
  });

  it('kqueue (emulated): a worker that exits with IO in flight waits for it and does not crash', () => {
    expect(run('worker-exit')).toBe('worker exited 3');
  });

  it('kqueue (emulated): terminating a worker with IO in flight does not crash', () => {
    expect(run('worker-terminate')).toBe('worker terminated 1');
  });

  it('kqueue (emulated): four worker threads use their own contexts at once', () => {
    expect(run('workers').split(' ').sort()).toEqual(['0:800', '1:800', '2:800', '3:800']);
  });

  it('kqueue (emulated): an unclosed idle context is collected and its descriptors closed', (ctx) => {
    if (process.platform !== 'linux') return ctx.skip('counts descriptors in /proc/self/fd (Linux only)');
    expect(run('gc', '--expose-gc')).toBe('fds +100 then +0');
  });
});
