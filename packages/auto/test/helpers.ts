/**
 * Helpers for the tests that run the selector the way users do: in a child
 * `node` process, inside a project whose node_modules holds only some of
 * the method packages.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const AUTO_DIR = fileURLToPath(new URL('..', import.meta.url));
export const PACKAGES_DIR = join(AUTO_DIR, '..');
export const AUTO_DIST = join(AUTO_DIR, 'dist', 'index.js');
export const AUTO_CLI = join(AUTO_DIR, 'dist', 'cli.js');

/** The tests drive the built package, as users get it; fail clearly if it was not built. */
export function requireBuilt(): void {
  if (!existsSync(AUTO_DIST) || !existsSync(join(PACKAGES_DIR, 'core', 'dist', 'index.js'))) {
    throw new Error('build @aio/auto and @aio/core first: pnpm --filter @aio/auto... build');
  }
}

/** Why a workspace backend cannot be linked into a fixture, or null when its dist/ is built. */
export function unbuiltReason(folder: string): string | null {
  const entry = join(PACKAGES_DIR, folder, 'dist', 'index.js');
  return existsSync(entry) ? null : `@aio/${folder} is not built here (${entry} is missing)`;
}

/** What to put under node_modules/@aio/<folder> in a fixture project. */
export type FixturePackage =
  /** A symlink to the workspace package of that folder. */
  | { readonly link: string }
  /** A small package written on the spot: its index.js source (ESM). */
  | { readonly source: string }
  /** A package directory with a package.json but no dist/, as an unbuilt install looks. */
  | { readonly unbuilt: true };

export interface Fixture {
  readonly dir: string;
  /** Writes a script into the project and returns its path. */
  script(name: string, source: string): string;
  /** The project's own copy of the `aio` CLI. */
  readonly cli: string;
  remove(): void;
}

/**
 * Creates a project in a temporary directory with @aio/auto copied (not
 * linked) into node_modules, so that its `import('@aio/...')` resolves in the
 * fixture's node_modules and not in the workspace's, plus the given packages.
 */
export function makeFixture(packages: Readonly<Record<string, FixturePackage>>): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'aio-auto-fixture-'));
  const scope = join(dir, 'node_modules', '@aio');
  mkdirSync(scope, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fixture', private: true, type: 'module' }));
  const auto = join(scope, 'auto');
  mkdirSync(auto);
  cpSync(join(AUTO_DIR, 'package.json'), join(auto, 'package.json'));
  cpSync(join(AUTO_DIR, 'dist'), join(auto, 'dist'), { recursive: true });
  for (const [folder, spec] of Object.entries(packages)) {
    const target = join(scope, folder);
    if ('link' in spec) {
      symlinkSync(join(PACKAGES_DIR, spec.link), target, 'dir');
      continue;
    }
    mkdirSync(target);
    const manifest = { name: `@aio/${folder}`, version: '0.0.0-fixture', type: 'module', exports: { '.': './dist/index.js' } };
    writeFileSync(join(target, 'package.json'), JSON.stringify(manifest));
    if ('source' in spec) {
      mkdirSync(join(target, 'dist'));
      writeFileSync(join(target, 'dist', 'index.js'), spec.source);
    }
  }
  return {
    dir,
    cli: join(auto, 'dist', 'cli.js'),
    script(name, source) {
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, source);
      return path;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node <args>` in `cwd` with extra environment variables; AIO_METHOD is unset unless given. */
export function runNode(args: readonly string[], options: { cwd: string; env?: Readonly<Record<string, string>> }): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  if (options.env?.AIO_METHOD === undefined) delete env.AIO_METHOD;
  delete env.AIO_DEBUG;
  delete env.NODE_OPTIONS;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Parses a child's stdout as JSON, with the child's output in the error when it is not. */
export function parseJson<T>(result: RunResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`child exited with ${result.status}; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/**
 * The script the fixture tests run: creates a context with createAio(),
 * reads its own first bytes through it to show the method works, and prints
 * the chosen method and every listing (without factories) as JSON.  A
 * rejection is printed as {"error": {code, message}}.
 */
export function selectScript(autoSpecifier: string): string {
  return `
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const { createAio, listMethods, chooseMethod } = await import(${JSON.stringify(autoSpecifier)});
try {
  const aio = await createAio();
  const file = await aio.open(fileURLToPath(import.meta.url), { read: true });
  const buffer = Buffer.alloc(16);
  const bytes = await file.read(buffer, 0);
  await file.close();
  await aio.close();
  const readOk = buffer.subarray(0, bytes).equals(readFileSync(fileURLToPath(import.meta.url)).subarray(0, bytes));
  const choice = await chooseMethod();
  const methods = (await listMethods()).map(({ factory, ...rest }) => rest);
  console.log(JSON.stringify({ chosen: aio.methodName, readOk, skipped: choice.skipped, methods }));
} catch (error) {
  console.log(JSON.stringify({ error: { code: error.code, name: error.name, message: error.message } }));
  process.exitCode = 3;
}
`;
}

export interface SelectOutput {
  chosen?: string;
  readOk?: boolean;
  skipped?: Array<{ name: string; reason: string }>;
  methods?: Array<{ name: string; installed: boolean; available: boolean; reason: string; code?: string; advice?: string }>;
  error?: { code: string; name: string; message: string };
}

export interface DoctorOutput {
  chosen: string | null;
  methods: Array<{ name: string; installed: boolean; available: boolean; reason: string; forced?: boolean; chosen: boolean }>;
  platform: Record<string, unknown>;
}
