import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runKills, runPowerLoss } from '../src/crash.js';
import { asyncMethod } from './helpers.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe('crash testing (short forms of `pnpm engine crash`)', () => {
  it('SIGKILLed children at random moments: every acknowledged commit survives, nothing is half-applied, every page checks out', async (ctx) => {
    if (!fs.existsSync(cli)) return ctx.skip('apps/engine is not built (dist/cli.js runs the child)');
    const summary = await runKills({ method: 'auto', runs: 4, clients: 8, seed: 11, cli, maxDelayMs: 250 });
    expect(summary.problems).toEqual([]);
    expect(summary.runs).toBe(4);
    expect(summary.acknowledged).toBeGreaterThan(0);
    expect(summary.lost).toBe(0);
  });

  it('power cuts through the simulator on sync (16 seeds): unsynced writes lost, reordered or torn lose no acknowledged commit', async () => {
    const summary = await runPowerLoss({ method: 'sync', runs: 16, clients: 4, seed: 1000, maxCommits: 80 });
    expect(summary.problems).toEqual([]);
    expect(summary.lost).toBe(0);
    expect(summary.acknowledged).toBeGreaterThan(24);
  });

  it('power cuts through the simulator on an asynchronous method (8 seeds), with IO in flight at the cut', async (ctx) => {
    const method = await asyncMethod();
    if (method === null) return ctx.skip('no asynchronous method works here');
    const summary = await runPowerLoss({ method, runs: 8, clients: 8, seed: 2000, maxCommits: 80 });
    expect(summary.problems).toEqual([]);
    expect(summary.lost).toBe(0);
  });
});
