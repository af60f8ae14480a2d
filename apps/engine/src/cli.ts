#!/usr/bin/env node
/**
 * `pnpm engine <command>`: load, get, put, scan, check, crash, bench.  `--json` prints machine-readable
 * output (one JSON object per line), `--method` picks the aio method (default: @aio/auto's choice),
 * `--dir` the database directory.  Exit status: 0 ok, 1 a failed check or a lost commit, 2 bad usage.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AioMethodName } from '@aio/core';
import { withEngine, type Engine } from './engine.js';
import { BENCH_METHODS, defaultBenchDir, loadKeys, runBench, type BenchResult } from './bench.js';
import { runCrashChild, runKills, runPowerLoss, type CrashSummary } from './crash.js';
import { UsageError, parseMethod, type MethodChoiceName } from './method.js';
import { progressLine } from './progress.js';

const USAGE = `usage: pnpm engine <command> [options]
  load  --keys N [--batch 500]        load keys k0000000000.. with 100-byte values
  get   KEY                           print a value
  put   KEY VALUE                     commit one put (acknowledged when durable)
  scan  [--start K] [--end K] [--limit N]
  check                               checksums of every page and the tree's invariants
  crash --kills N [--clients 8]       SIGKILL a committing child N times; recover and verify each time
  crash --power-loss --runs N [--seed S] [--clients 4]
                                      power cuts through core's simulator; each run replays from its seed
  bench [--keys N] [--seconds S] [--methods a,b]
common: --dir D (default ${path.join(os.tmpdir(), 'aio-engine')}), --method M (auto), --json`;

const OPTIONS = {
  dir: { type: 'string' },
  method: { type: 'string' },
  json: { type: 'boolean', default: false },
  keys: { type: 'string' },
  batch: { type: 'string' },
  start: { type: 'string' },
  end: { type: 'string' },
  limit: { type: 'string' },
  kills: { type: 'string' },
  'power-loss': { type: 'boolean', default: false },
  runs: { type: 'string' },
  seed: { type: 'string' },
  clients: { type: 'string' },
  seconds: { type: 'string' },
  methods: { type: 'string' },
  run: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

function int(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

function print(json: boolean, object: object, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(object)}\n` : `${text}\n`);
}

function withDatabase<T>(values: Values, work: (engine: Engine) => Promise<T>): Promise<T> {
  return withEngine(parseMethod(values.method), values.dir ?? path.join(os.tmpdir(), 'aio-engine'), {}, work);
}

async function commandLoad(values: Values): Promise<number> {
  const keys = int(values.keys, 'keys', 100_000);
  const progress = progressLine('load', !values.json);
  const started = performance.now();
  await withDatabase(values, async (engine) => {
    await loadKeys(engine, keys, int(values.batch, 'batch', 500), (done) => progress.update(done, keys, 'keys'));
    progress.done();
    const seconds = (performance.now() - started) / 1000;
    const meta = await engine.meta();
    const result = { command: 'load', method: engine.aio.methodName, keys, seconds, keysPerSec: Math.round(keys / seconds), pages: meta.pageCount, height: meta.height };
    print(values.json === true, result, `loaded ${keys} keys in ${seconds.toFixed(1)} s (${result.keysPerSec} keys/s) on ${result.method}: ${meta.pageCount} pages, height ${meta.height}`);
  });
  return 0;
}

async function commandGet(values: Values, positionals: string[]): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('get needs one KEY');
  return withDatabase(values, async (engine) => {
    const value = await engine.get(Buffer.from(positionals[0]));
    print(values.json === true, { key: positionals[0], value: value?.toString() ?? null }, value === null ? '(not found)' : value.toString());
    return value === null ? 1 : 0;
  });
}

async function commandPut(values: Values, positionals: string[]): Promise<number> {
  if (positionals.length !== 2) throw new UsageError('put needs KEY VALUE');
  return withDatabase(values, async (engine) => {
    const lsn = await engine.put(Buffer.from(positionals[0]), Buffer.from(positionals[1]));
    print(values.json === true, { key: positionals[0], lsn, durable: true }, `committed at LSN ${lsn} (durable)`);
    return 0;
  });
}

async function commandScan(values: Values): Promise<number> {
  const key = (text: string | undefined) => (text === undefined ? null : Buffer.from(text));
  return withDatabase(values, async (engine) => {
    await engine.scanEach(key(values.start), key(values.end), (entry) => {
      const k = entry.keyView().toString();
      const v = entry.valueView().toString();
      print(values.json === true, { key: k, value: v }, `${k}\t${v}`);
    }, int(values.limit, 'limit', 100));
    return 0;
  });
}

async function commandCheck(values: Values): Promise<number> {
  return withDatabase(values, async (engine) => {
    const report = await engine.check();
    const text = `${report.ok ? 'ok' : 'FAILED'}: ${report.pages} pages, ${report.leaves} leaves, ${report.inners} inner, ${report.entries} entries, height ${report.height}${report.problems.map((p) => `\n  ${p}`).join('')}`;
    print(values.json === true, report, text);
    return report.ok ? 0 : 1;
  });
}

async function commandCrash(values: Values): Promise<number> {
  const method: MethodChoiceName = parseMethod(values.method ?? (values['power-loss'] ? 'sync' : undefined));
  const seed = int(values.seed, 'seed', Date.now() % 1_000_000);
  const powerLoss = values['power-loss'] === true;
  const runs = powerLoss ? int(values.runs, 'runs', 200) : int(values.kills, 'kills', 50);
  const progress = progressLine(powerLoss ? 'power-loss runs' : 'kills', !values.json);
  const onProgress = (done: number, total: number, summary: CrashSummary) => progress.update(done, total, `lost ${summary.lost}, failed runs ${summary.failedRuns}`);
  const common = { method, runs, seed, onProgress };
  const summary = powerLoss
    ? await runPowerLoss({ ...common, clients: int(values.clients, 'clients', 4) })
    : await runKills({ ...common, clients: int(values.clients, 'clients', 8), cli: fileURLToPath(import.meta.url) });
  progress.done();
  const ok = summary.lost === 0 && summary.failedRuns === 0;
  const text = [
    `${summary.mode} on ${summary.method}: ${summary.runs} runs (seed ${seed}), ${summary.acknowledged} acknowledged commits, ${summary.failedRuns} failed runs, ${summary.seconds.toFixed(1)} s`,
    ...summary.problems.map((p) => `  ${p}`),
    `lost ${summary.lost}`,
  ].join('\n');
  print(values.json === true, { ...summary, seed, ok }, text);
  return ok ? 0 : 1;
}

async function commandBench(values: Values): Promise<number> {
  const methods = (values.methods?.split(',') ?? BENCH_METHODS).map((name) => parseMethod(name)).filter((m): m is AioMethodName => m !== 'auto');
  const progress = progressLine('bench', !values.json);
  const results = await runBench({
    dir: values.dir ?? defaultBenchDir(),
    methods,
    keys: int(values.keys, 'keys', 150_000),
    seconds: Number(values.seconds ?? 3),
    onStatus: (text) => progress.update(0, 1, text),
  });
  progress.done();
  if (values.json) for (const result of results) print(true, result, '');
  else process.stdout.write(formatBench(results));
  return 0;
}

function formatBench(results: BenchResult[]): string {
  const lines = ['workload            method       rate                   vs sync  vs libuv  other'];
  for (const r of results) {
    const other = r.vsFio !== undefined ? `${r.mbPerSec} MB/s, ${r.vsFio}x fio` : r.mbPerSec !== undefined ? `${r.mbPerSec} MB/s` : '';
    lines.push(
      `${r.workload.padEnd(20)}${r.method.padEnd(13)}${`${r.opsPerSec} ${r.unit}`.padEnd(23)}${String(r.vsSync ?? '-').padEnd(9)}${String(r.vsLibuv ?? '-').padEnd(10)}${other}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  switch (command) {
    case 'load':
      return commandLoad(values);
    case 'get':
      return commandGet(values, rest);
    case 'put':
      return commandPut(values, rest);
    case 'scan':
      return commandScan(values);
    case 'check':
      return commandCheck(values);
    case 'crash':
      return commandCrash(values);
    case 'bench':
      return commandBench(values);
    case 'crash-child':
      await runCrashChild(parseMethod(values.method), values.dir as string, int(values.run, 'run', 0), int(values.clients, 'clients', 8));
      return 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}


main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`engine: ${(error as Error).message}\n${usage ? `${USAGE}\n` : ''}`);
    process.exitCode = usage ? 2 : 1;
  },
);
