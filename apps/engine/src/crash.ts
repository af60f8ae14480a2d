/**
 * Crash testing.  `kills`: the workload runs in a child process that is SIGKILLed at a random moment;
 * the parent recovers the database and verifies it, and again, N times on the same database.
 * `power-loss`: the workload runs in this process on core's power-loss simulator, which cuts the power
 * after a seeded number of acknowledged commits (unsynced writes kept, lost, reordered or torn, as the
 * seed says); the crash state is applied to the files and recovered on the plain method.  Each run is
 * replayable from its seed (exactly so on the `sync` method, whose IO order is deterministic).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AioCrashState } from '@aio/core/testing';
import { Engine, withEngine, type EngineOptions } from './engine.js';
import { openAio, openSimulatedAio, type MethodChoiceName } from './method.js';
import { runWorkload, verifyWorkload, type Ack } from './workload.js';

/** Small pool, small segments and frequent checkpoints: eviction, recycling and checkpoints all happen. */
export const CRASH_ENGINE_OPTIONS: EngineOptions = { poolPages: 48, walSegmentSize: 256 * 1024, checkpointWalBytes: 96 * 1024 };

export interface CrashSummary {
  mode: 'kills' | 'power-loss';
  method: string;
  runs: number;
  acknowledged: number;
  lost: number;
  failedRuns: number;
  problems: string[];
  seconds: number;
}

export interface CrashOptions {
  method: MethodChoiceName;
  runs: number;
  clients: number;
  seed: number;
  onProgress?: (done: number, total: number, summary: CrashSummary) => void;
}

/** A small seeded generator (mulberry32): the same seed gives the same kill times and crash points. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function emptySummary(mode: CrashSummary['mode'], method: string): CrashSummary {
  return { mode, method, runs: 0, acknowledged: 0, lost: 0, failedRuns: 0, problems: [], seconds: 0 };
}

/** Recovers the database in dir, verifies it against acks and checks pages and tree; adds to summary. */
async function recoverAndVerify(method: MethodChoiceName, dir: string, acks: readonly Ack[], summary: CrashSummary, label: string): Promise<void> {
  try {
    await withEngine(method, dir, CRASH_ENGINE_OPTIONS, async (engine) => {
      const verdict = await verifyWorkload(engine, acks);
      const check = await engine.check();
      summary.lost += verdict.lost;
      const problems = [...verdict.problems, ...check.problems];
      if (problems.length > 0) {
        summary.failedRuns++;
        for (const text of problems.slice(0, 5)) if (summary.problems.length < 30) summary.problems.push(`${label}: ${text}`);
      }
    });
  } catch (error) {
    summary.failedRuns++;
    summary.problems.push(`${label}: recovery failed: ${(error as Error).stack ?? String(error)}`);
  }
}

/** The child side of `crash --kills`: recover, say ready, commit until killed, report each ack at once. */
export async function runCrashChild(method: MethodChoiceName, dir: string, run: number, clients: number): Promise<void> {
  const aio = await openAio(method);
  const engine = await Engine.open(aio, dir, CRASH_ENGINE_OPTIONS);
  fs.writeSync(1, 'ready\n');
  // writeSync: an ack must reach the pipe before the next commit can be killed, never sit in a buffer.
  await runWorkload(engine, { run, clients, onAck: (ack) => void fs.writeSync(1, `ack ${ack.run} ${ack.client} ${ack.seq}\n`) });
  await engine.close();
  await aio.close();
}

/** Runs `body` once per run in a scratch directory, counting runs, timing and reporting progress. */
async function runSeries(mode: CrashSummary['mode'], options: CrashOptions, body: (run: number, dir: string, summary: CrashSummary) => Promise<void>): Promise<CrashSummary> {
  const started = Date.now();
  const summary = emptySummary(mode, options.method);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `aio-engine-${mode}-`));
  try {
    for (let run = 0; run < options.runs; run++) {
      await body(run, dir, summary);
      summary.runs++;
      options.onProgress?.(run + 1, options.runs, summary);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    summary.seconds = (Date.now() - started) / 1000;
  }
  return summary;
}

export function runKills(options: CrashOptions & { cli: string; maxDelayMs?: number }): Promise<CrashSummary> {
  const random = seededRandom(options.seed);
  const acks: Ack[] = [];
  // Every kill hits the same database: it accumulates the history of all runs before it.
  return runSeries('kills', options, async (run, dir, summary) => {
    const delay = 20 + random() * (options.maxDelayMs ?? 400);
    const childAcks = await killChild(options, dir, run, delay, summary);
    acks.push(...childAcks);
    summary.acknowledged += childAcks.length;
    await recoverAndVerify(options.method, dir, acks, summary, `kill ${run}`);
  });
}

function killChild(options: CrashOptions & { cli: string }, dir: string, run: number, delayMs: number, summary: CrashSummary): Promise<Ack[]> {
  const args = [options.cli, 'crash-child', '--dir', dir, '--run', String(run), '--method', options.method, '--clients', String(options.clients)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks: Ack[] = [];
  let pending = '';
  let stderr = '';
  let killed = false;
  return new Promise((resolve) => {
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [word, r, c, s] = line.split(' ');
        if (word === 'ready') {
          setTimeout(() => {
            killed = true;
            child.kill('SIGKILL');
          }, delayMs);
        } else if (word === 'ack') acks.push({ run: Number(r), client: Number(c), seq: Number(s) });
      }
    });
    child.on('exit', () => {
      if (!killed) {
        summary.failedRuns++;
        summary.problems.push(`kill ${run}: the child exited before it was killed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      }
      resolve(acks);
    });
  });
}

export function runPowerLoss(options: CrashOptions & { maxCommits?: number }): Promise<CrashSummary> {
  return runSeries('power-loss', options, async (run, dir, summary) => {
    const seed = (options.seed + run) >>> 0;
    const runDir = path.join(dir, String(seed));
    const { acks, state } = await powerLossRun(options, runDir, seed, options.maxCommits ?? 160);
    summary.acknowledged += acks.length;
    const failedBefore = summary.failedRuns;
    await recoverAndVerify(options.method, runDir, acks, summary, `seed ${seed}`);
    if (summary.failedRuns > failedBefore && summary.problems.length < 30) summary.problems.push(`seed ${seed}: ${state.describe().split('\n').slice(0, 4).join(' | ')}`);
    fs.rmSync(runDir, { recursive: true, force: true });
  });
}

/** One run: the workload on the simulator until the seeded crash point, then the cut, applied to the files. */
async function powerLossRun(options: CrashOptions, dir: string, seed: number, maxCommits: number): Promise<{ acks: Ack[]; state: AioCrashState }> {
  const { aio, sim } = await openSimulatedAio(options.method, seed);
  const crashAfter = 1 + Math.floor(seededRandom(seed)() * maxCommits);
  const acks: Ack[] = [];
  let state: AioCrashState | null = null;
  const engine = await Engine.open(aio, dir, CRASH_ENGINE_OPTIONS);
  await runWorkload(engine, {
    run: 0,
    clients: options.clients,
    stopped: () => state !== null,
    onAck: (ack) => {
      // A commit whose flush settles after the cut was never seen by anyone: the machine was off.
      if (state !== null) return false;
      acks.push(ack);
      // The cut comes while the other clients' commits, evictions and checkpoints are in flight.
      if (acks.length >= crashAfter && state === null) state = sim.crash();
    },
  });
  state ??= sim.crash();
  await engine.abandon();
  await aio.close().catch(() => undefined);
  (state as AioCrashState).apply();
  return { acks, state: state as AioCrashState };
}
