#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { probeDirectAlignment } from './aligned.js';
import { collectMachineFacts, formatMachineFacts } from './machine.js';
import { measureCase } from './measure.js';
import { AUTO_METHOD, BASELINE_NAMES } from './method-names.js';
import { DEFAULT_SIZE, OptionError, USAGE, parseOptions, resolveCase, type BenchOptions, type MethodSelection } from './options.js';
import { createProgress } from './progress.js';
import { renderChart } from './report/chart.js';
import { toJsonLine } from './report/json.js';
import { formatTable } from './report/table.js';
import { unmeasuredRow, type BenchRow } from './result.js';
import { discoverAio } from './runners/aio.js';
import { planMethods } from './runners/registry.js';
import { suiteCases } from './suite.js';
import { defaultFilePath, prepareBenchFile, type BenchFile } from './target-file.js';
import type { CaseConfig } from './workloads/index.js';
import { setUpZram, zramRefusal, type ZramMount } from './zram.js';

/** Exit statuses: 0 all measured or skipped, 1 some method failed, 2 bad command line or setup. */
const EXIT_FAILED_METHOD = 1;
const EXIT_USAGE = 2;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/**
 * Paths on the command line are relative to where the user typed the
 * command; under `pnpm bench` the script runs in apps/bench, and pnpm keeps
 * the original directory in INIT_CWD.
 */
function resolveUserPath(userPath: string | undefined): string | undefined {
  if (userPath === undefined) return undefined;
  return path.resolve(process.env.INIT_CWD ?? process.cwd(), userPath);
}

/** The methods of a command: as given, else `all` for one workload and `auto` plus the baselines for the suite. */
function selectedMethods(options: BenchOptions): MethodSelection {
  if (options.methods !== undefined) return options.methods;
  return options.command === 'suite' ? [AUTO_METHOD, ...BASELINE_NAMES] : 'all';
}

interface Plan {
  options: BenchOptions;
  file: BenchFile;
  cases: CaseConfig[];
  /** The zram device of `--zram`, torn down when the command ends. */
  zram: ZramMount | null;
}

/** Parses the command line and prepares the file; returns null after printing help. Throws OptionError. */
function prepare(argv: readonly string[]): Plan | null {
  const options = parseOptions(argv);
  if (options.command === 'help') {
    process.stdout.write(USAGE);
    return null;
  }
  const file = prepareBenchFile({ file: resolveUserPath(options.file), size: options.size, defaultSize: DEFAULT_SIZE }, log);
  const cases =
    options.command === 'suite' ? suiteCases(options, file) : [resolveCase(options, options.workload ?? 'randread', file)];
  if (!options.zram) return { options, file, cases, zram: null };
  const refusal = zramRefusal(process.getuid?.(), file.size);
  if (refusal !== null) throw new OptionError(refusal);
  const zram = setUpZram(log);
  tearDownOnSignal(zram);
  try {
    const zramFile = prepareBenchFile({ file: defaultFilePath(file.size, zram.directory), size: file.size, defaultSize: DEFAULT_SIZE }, log);
    // Each case on the disk, then the same case on zram, so the two read side by side.
    const both = cases.flatMap((config) => [config, { ...config, file: zramFile.path, size: config.size, storage: 'zram' as const }]);
    return { options, file, cases: both, zram };
  } catch (error) {
    zram.tearDown();
    throw error;
  }
}

/** Ctrl-C or a kill while zram is mounted: take it down before leaving. */
function tearDownOnSignal(zram: ZramMount): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      zram.tearDown();
      // Later listeners (the progress bar's) still run in this emit; exit after them.
      setImmediate(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let plan: Plan | null;
  try {
    plan = prepare(argv);
  } catch (error) {
    if (!(error instanceof OptionError)) throw error;
    log(`aio-bench: ${error.message}\nRun aio-bench --help for the options.`);
    return EXIT_USAGE;
  }
  if (plan === null) return 0;
  try {
    return await run(plan);
  } finally {
    plan.zram?.tearDown();
  }
}

async function run(plan: Plan): Promise<number> {
  const { options, file, cases, zram } = plan;

  const facts = collectMachineFacts(file.path, file.size, probeDirectAlignment(file.path)?.requiredAlignment ?? null);
  if (!options.json) process.stdout.write(`${formatMachineFacts(facts)}\n\n`);
  if (!options.json && zram !== null) {
    process.stdout.write(`zram: ${zram.device} (${zram.hotAdded ? 'hot-added' : 'unused zram0'}), ext4 on ${zram.directory}, set up by --zram and removed at exit\n\n`);
  }

  const discovery = await discoverAio();
  const planned = planMethods(selectedMethods(options), options.api, discovery);
  const progress = createProgress(process.stderr, !options.json);
  // Ctrl-C in the middle of a run: erase the progress bar before the shell prompt comes back.
  process.once('SIGINT', () => {
    progress.end();
    process.exit(130);
  });
  const rows: BenchRow[] = [];
  for (const config of cases) {
    const runners = planned.flatMap((entry) => ('runner' in entry ? [entry.runner] : []));
    const measured = await measureCase(runners, config, progress, log);
    // Rows keep the planned order: measured methods and skipped ones as they were asked for.
    for (const entry of planned) {
      const row = 'runner' in entry ? (measured.shift() as BenchRow) : unmeasuredRow(entry.skipped, config, 'skipped', entry.skipped.reason);
      rows.push(row);
      if (options.json) {
        if (row.status === 'measured') process.stdout.write(`${toJsonLine(row)}\n`);
        else log(`${row.workload} ${row.method}: ${row.status}: ${row.reason}`);
      }
    }
  }

  if (!options.json) process.stdout.write(`${formatTable(rows)}\n`);
  const chartPath = resolveUserPath(options.chart);
  if (chartPath) {
    fs.writeFileSync(chartPath, renderChart(rows));
    log(`chart written to ${chartPath}`);
  }
  return rows.some((row) => row.status === 'failed') ? EXIT_FAILED_METHOD : 0;
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    log(`aio-bench: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = EXIT_USAGE;
  },
);
