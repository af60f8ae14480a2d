import { parseArgs } from 'node:util';
import { AIO_METHOD_NAMES, AUTO_METHOD, BASELINE_NAMES, isKnownMethodName } from './method-names.js';
import { WORKLOADS, WORKLOAD_NAMES, isWorkloadName } from './workloads/index.js';
import type { AioApi, CacheState, CaseConfig, WorkloadName } from './workloads/index.js';

/** A bad command line; the CLI prints the message and exits with status 2. */
export class OptionError extends Error {
  override name = 'OptionError';
}

/** `all`, or the method names in the order given. */
export type MethodSelection = 'all' | readonly string[];

export interface BenchOptions {
  /** `run` one workload, run the default `suite`, or print `help`. */
  command: 'run' | 'suite' | 'help';
  workload?: WorkloadName;
  /** Undefined means the command's default: `all` for a workload, `auto` plus the baselines for the suite. */
  methods?: MethodSelection;
  api: AioApi;
  bs?: number;
  qd?: number;
  direct: boolean;
  cache: CacheState;
  size?: number;
  seconds: number;
  warmup?: number;
  runs: number;
  file?: string;
  json: boolean;
  chart?: string;
  seed: number;
  fioJobs: number;
  /** IOs per submission when aio methods are driven through handles. */
  batch: number;
  /** Also run every case on a file on a zram block device the bench sets up (root only; see zram.ts). */
  zram: boolean;
}

/**
 * IOs per submission in the handle loop.  Refilling 32 slots as one
 * submission keeps the device idle while JavaScript prepares all 32; handing
 * them over 8 at a time lets the first ones start early (measured here:
 * io_uring +15-25% hot and O_DIRECT, threadpool +10%).
 */
export const DEFAULT_BATCH = 8;

export const DEFAULT_SIZE = 1024 ** 3;
export const DEFAULT_SECONDS = 5;
export const DEFAULT_SEED = 1;
/**
 * Interleaved rounds per method; the figures are their medians.  One run
 * on this shared virtual machine could land on a burst of someone else's
 * load (direct-I/O ratios moved between 0.6 and 1.2 from one round to the
 * next); the median of three does not.
 */
export const DEFAULT_RUNS = 3;
/** The suite runs five cases on about six methods each; one second per run keeps it near a minute. */
export const SUITE_SECONDS = 1;
const MAX_QD = 1024;
const MAX_BS = 64 * 1024 ** 2;
const MIN_SIZE = 1024 ** 2;
const DIRECT_ALIGNMENT = 4096;

const OPTION_SPEC = {
  method: { type: 'string' },
  api: { type: 'string' },
  bs: { type: 'string' },
  qd: { type: 'string' },
  direct: { type: 'boolean' },
  cache: { type: 'string' },
  size: { type: 'string' },
  seconds: { type: 'string' },
  warmup: { type: 'string' },
  runs: { type: 'string' },
  file: { type: 'string' },
  json: { type: 'boolean' },
  chart: { type: 'string' },
  seed: { type: 'string' },
  'fio-jobs': { type: 'string' },
  batch: { type: 'string' },
  zram: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Options that describe one workload, which the suite chooses itself. */
const CASE_OPTIONS = ['bs', 'qd', 'direct', 'cache', 'api'] as const;

/** Parses the command line (without `node` and the script); throws OptionError for anything it cannot accept. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values, positionals } = parseArgvStrictly(argv);
  if (values.help) return { ...defaultOptions(), command: 'help' };
  const command = parseCommand(positionals);
  const options: BenchOptions = {
    command: command === 'suite' ? 'suite' : 'run',
    workload: command === 'suite' ? undefined : command,
    methods: values.method === undefined ? undefined : parseMethods(values.method),
    api: parseChoice('api', values.api ?? 'handle', ['handle', 'promise', 'fs', 'wal'] as const),
    bs: values.bs === undefined ? undefined : parseByteSize('bs', values.bs),
    qd: values.qd === undefined ? undefined : parseInteger('qd', values.qd, 1, MAX_QD),
    direct: values.direct ?? false,
    cache: parseChoice('cache', values.cache ?? 'hot', ['hot', 'cold'] as const),
    size: values.size === undefined ? undefined : parseByteSize('size', values.size),
    seconds: values.seconds === undefined ? defaultSeconds(command) : parseSeconds('seconds', values.seconds, false),
    warmup: values.warmup === undefined ? undefined : parseSeconds('warmup', values.warmup, true),
    runs: values.runs === undefined ? DEFAULT_RUNS : parseInteger('runs', values.runs, 1, 100),
    file: values.file,
    json: values.json ?? false,
    chart: values.chart,
    seed: values.seed === undefined ? DEFAULT_SEED : parseInteger('seed', values.seed, 0, Number.MAX_SAFE_INTEGER),
    fioJobs: values['fio-jobs'] === undefined ? 1 : parseInteger('fio-jobs', values['fio-jobs'], 1, 64),
    batch: values.batch === undefined ? DEFAULT_BATCH : parseInteger('batch', values.batch, 1, 32),
    zram: values.zram ?? false,
  };
  if (options.zram && options.file !== undefined) {
    throw new OptionError('--zram puts the test file on the zram device it sets up; it cannot be combined with --file');
  }
  if (options.command === 'suite') rejectCaseOptions(values);
  validateSizes(options);
  return options;
}

function defaultSeconds(command: WorkloadName | 'suite'): number {
  return command === 'suite' ? SUITE_SECONDS : DEFAULT_SECONDS;
}

function defaultOptions(): BenchOptions {
  return {
    command: 'run',
    api: 'handle',
    direct: false,
    cache: 'hot',
    seconds: DEFAULT_SECONDS,
    runs: DEFAULT_RUNS,
    json: false,
    seed: DEFAULT_SEED,
    fioJobs: 1,
    batch: DEFAULT_BATCH,
    zram: false,
  };
}

function parseArgvStrictly(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTION_SPEC, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs explains the problem well ("Unknown option '--foo'"); keep its words, drop its error class.
    throw new OptionError((error as Error).message);
  }
}

function parseCommand(positionals: string[]): WorkloadName | 'suite' {
  if (positionals.length === 0) {
    throw new OptionError(`missing workload: expected one of ${WORKLOAD_NAMES.join(', ')} (or suite)`);
  }
  if (positionals.length > 1) {
    throw new OptionError(`expected one workload, got ${positionals.length}: ${positionals.join(' ')}`);
  }
  const [name] = positionals;
  if (name === 'suite' || isWorkloadName(name)) return name;
  throw new OptionError(`unknown workload '${name}': expected one of ${WORKLOAD_NAMES.join(', ')} (or suite)`);
}

/** Parses `--method`: `all`, or a comma list of method names (aio methods, `auto`, baselines). */
export function parseMethods(text: string): MethodSelection {
  const names = [...new Set(text.split(',').map((name) => name.trim()))];
  if (names.includes('')) throw new OptionError(`--method has an empty name in '${text}'`);
  if (names.includes('all')) {
    if (names.length > 1) throw new OptionError(`--method all cannot be combined with other names`);
    return 'all';
  }
  const unknown = names.filter((name) => !isKnownMethodName(name));
  if (unknown.length > 0) {
    const known = ['all', AUTO_METHOD, ...AIO_METHOD_NAMES, ...BASELINE_NAMES].join(', ');
    throw new OptionError(`unknown method ${unknown.map((name) => `'${name}'`).join(', ')}: expected ${known}`);
  }
  return names;
}

function parseChoice<T extends string>(option: string, text: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  const list = choices.length > 2 ? `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}` : choices.join(' or ');
  throw new OptionError(`--${option} must be ${list}, got '${text}'`);
}

/** Parses a decimal integer in [min, max]; rejects fractions, signs where not allowed, and trailing text. */
export function parseInteger(option: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new OptionError(`--${option} must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

function parseSeconds(option: string, text: string, allowZero: boolean): number {
  const match = /^(\d+(?:\.\d+)?|\.\d+)s?$/.exec(text.trim());
  const value = match ? Number(match[1]) : Number.NaN;
  if (!Number.isFinite(value) || value > 3600 || (allowZero ? value < 0 : value <= 0)) {
    const range = allowZero ? 'from 0 to 3600' : 'greater than 0 and at most 3600';
    throw new OptionError(`--${option} must be a number of seconds ${range}, got '${text}'`);
  }
  return value;
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Parses a byte count such as `4096`, `4k`, `8KiB`, `128K`, `1g` or `1GiB`.
 * Units are binary (k = 1024) whichever way they are spelled, as fio reads them.
 */
export function parseByteSize(option: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  const value = match ? Number(match[1]) * BYTE_UNITS[match[2].toLowerCase()] : Number.NaN;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new OptionError(`--${option} must be a whole number of bytes such as 4096, 4k, 128KiB or 1g, got '${text}'`);
  }
  return value;
}

function validateSizes(options: BenchOptions): void {
  const defaults = options.workload ? WORKLOADS[options.workload].defaults : undefined;
  const bs = options.bs ?? defaults?.bs;
  if (options.bs !== undefined && (options.bs % 512 !== 0 || options.bs > MAX_BS)) {
    throw new OptionError(`--bs must be a multiple of 512 bytes and at most 64 MiB, got ${options.bs}`);
  }
  if (options.direct && bs !== undefined && bs % DIRECT_ALIGNMENT !== 0) {
    throw new OptionError(`--direct needs --bs to be a multiple of ${DIRECT_ALIGNMENT} bytes, got ${bs}`);
  }
  if (options.size !== undefined) {
    if (options.size < MIN_SIZE || options.size % DIRECT_ALIGNMENT !== 0) {
      throw new OptionError(`--size must be at least 1 MiB and a multiple of 4096 bytes, got ${options.size}`);
    }
    if (bs !== undefined && options.size < bs) {
      throw new OptionError(`--size (${options.size}) must hold at least one block of --bs (${bs})`);
    }
  }
}

function rejectCaseOptions(values: Partial<Record<(typeof CASE_OPTIONS)[number], unknown>>): void {
  const given = CASE_OPTIONS.filter((option) => values[option] !== undefined);
  if (given.length > 0) {
    const list = given.map((option) => `--${option}`).join(', ');
    throw new OptionError(`the suite chooses its own ${list}; run one workload to set them`);
  }
}

/** The values of one case that a command line sets (the file and its size come later). */
export type CaseOverrides = Partial<Pick<CaseConfig, 'bs' | 'qd' | 'direct' | 'cache'>>;

/**
 * Resolves one workload's case: the workload's defaults, then the command
 * line, then `overrides` (what a suite entry sets).
 */
export function resolveCase(
  options: BenchOptions,
  workload: WorkloadName,
  file: { path: string; size: number },
  overrides: CaseOverrides = {},
): CaseConfig {
  const defaults = WORKLOADS[workload].defaults;
  const bs = overrides.bs ?? options.bs ?? defaults.bs;
  if (file.size < bs) throw new OptionError(`the file ${file.path} (${file.size} bytes) is smaller than --bs ${bs}`);
  return {
    workload,
    file: file.path,
    size: file.size - (file.size % bs),
    bs,
    qd: overrides.qd ?? options.qd ?? defaults.qd,
    direct: overrides.direct ?? options.direct,
    cache: overrides.cache ?? options.cache,
    seconds: options.seconds,
    // Untimed until the JIT, the file descriptors and the rings are warm (warmup.ts), unless --warmup says how long.
    warmupSeconds: options.warmup ?? null,
    runs: options.runs,
    seed: options.seed,
    fioJobs: options.fioJobs,
    batch: options.batch,
    api: options.api,
    storage: 'disk',
  };
}

export const USAGE = `Usage: aio-bench <workload> [options]
       aio-bench suite [--method ...] [--seconds S] [--json] [--chart out.svg]

Workloads:
${WORKLOAD_NAMES.map((name) => `  ${name.padEnd(10)} ${WORKLOADS[name].summary} (default --bs ${WORKLOADS[name].defaults.bs}, --qd ${WORKLOADS[name].defaults.qd})`).join('\n')}
  suite      a short default suite (~1 minute) on the auto-selected method and the baselines

Options:
  --method M[,M...]   aio methods (${AIO_METHOD_NAMES.join(', ')}, ${AUTO_METHOD}), baselines
                      (${BASELINE_NAMES.join(', ')}), or all (default)
  --api handle|promise|fs|wal  how aio methods are driven: handles in batch mode (default), the Promise
                      API, @aio/fs FileHandles ({ bytesRead, buffer }, as node:fs/promises), or (wal
                      only) @aio/core's WAL writer: --qd committers, one --bs record per commit,
                      group commit (durability mode: AIO_BENCH_WAL_DURABILITY, default per method)
  --bs SIZE           block size, e.g. 4k, 128KiB (multiple of 512; of 4096 with --direct)
  --qd N              IOs in flight (1-${MAX_QD}); node-fs-sync and fio-psync always run 1
  --direct            O_DIRECT with 4096-aligned buffers
  --cache hot|cold    page-cache state set before each run (default hot)
  --size SIZE         bytes of the test file to use (default 1g; at least 1m)
  --seconds S         timed seconds per run (default ${DEFAULT_SECONDS}; ${SUITE_SECONDS} in the suite)
  --warmup S          untimed seconds before the runs (default: 0.25 s slices until their
                      throughput agrees within 6%, at most 4 s per method and case)
  --runs N            interleaved runs per method; figures are the median (default ${DEFAULT_RUNS})
  --file PATH         test file (default: created once under the OS temp dir, on a real disk);
                      write workloads overwrite its contents
  --seed N            seed of the offsets sequence shared by every method (default ${DEFAULT_SEED})
  --fio-jobs N        jobs (threads) per fio baseline (default 1)
  --batch N           IOs per submission in the handle API, 1-32 (default ${DEFAULT_BATCH})
  --zram              ROOT ONLY, changes the machine while it runs: also run every case on a
                      3 GiB zram device (/dev/zram0, or one hot-added), formatted ext4 and
                      mounted on a temp dir, a stable CPU-bound block device for the software
                      path; the table shows disk and zram cases; all of it is torn down at the
                      end, on error and on Ctrl-C
  --json              one JSON object per result line on stdout
  --chart FILE.svg    also write an SVG bar chart of the results
  -h, --help          this text
`;
