#!/usr/bin/env node
// Cross-builds a win32-x64 Node-API addon (.node) on Linux with mingw-w64.
//
// A backend package describes its Windows build in its native/build.json,
// next to the host build (see build.mjs), in a "windows" section:
//
//   node tooling/native/build-windows.mjs --package packages/iocp
//
//   "windows": {
//     "sources": ["native/addon.cc", ...],  // default: the top-level "sources"
//     "kit": ["io.c", "completions.c"],     // default: the top-level "kit" (from tooling/native/src)
//     "libs": ["-lkernel32"],               // Windows system libraries
//     "defines": ["K=V"], "cflags": ["-Wall"], "includes": ["native/win"]  // optional; includes relative to the package
//   }
//
// It writes <package>/build/win32-x64/<target>.node (what loadNativeBinding
// loads on Windows), with the kit's include/ and the package's native/ on
// the include path, and does nothing when the addon is newer than every
// input (sources, the package's native/ headers, the kit, build.json, this
// script).  A package without a "windows" section is refused (exit 2).
//
// Or, for anything else, everything on the command line:
//
//   node tooling/native/build-windows.mjs --out build/win32-x64/addon.node \
//     --include native --define AIO_BACKEND=iocp -lkernel32 native/addon.cc native/iocp.c
//
// Options (each may repeat):
//   --out <file.node>      output file (required); its folder is created
//   --include <dir>, -I<dir>
//   --define K[=V], -DK[=V]
//   -l<lib>                a Windows system library, e.g. -lkernel32 -lws2_32
//   --cflag <flag>         passed as is to both compilers (e.g. --cflag -Wall)
// Sources: .cc/.cpp/.cxx go to g++ -std=c++17, .c to gcc; each becomes an
// object (compiled in parallel, one job per CPU), and g++ links them into
// one DLL.  The addon needs no mingw runtime DLL (-static) and resolves
// napi_* lazily from the host executable (see src/win_delay_load_hook.cc).
// node-addon-api needs one of NAPI_CPP_EXCEPTIONS or
// NAPI_DISABLE_CPP_EXCEPTIONS; the latter is defined unless the caller
// defines the former.
//
// Needs the apt packages that tooling/windows/setup.sh installs.  Prints every
// command it runs; the exit code is 0, 1 (a build step failed) or 2 (usage).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reproducibleFlags } from './build.mjs';

const CXX = 'x86_64-w64-mingw32-g++-posix';
const CC = 'x86_64-w64-mingw32-gcc-posix';
const DLLTOOL = 'x86_64-w64-mingw32-dlltool';
const CXX_SOURCE = /\.(cc|cpp|cxx)$/;
const C_SOURCE = /\.c$/;

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const require = createRequire(import.meta.url);

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { out: null, includes: [], defines: [], libs: [], cflags: [], sources: [], inputs: [] };
  const takeValue = (i, flag) => {
    if (i + 1 >= argv.length) throw new UsageError(`${flag} needs a value`);
    return argv[i + 1];
  };
  if (argv[0] === '--package') {
    if (argv.length !== 2) throw new UsageError('--package <dir> takes exactly one folder and nothing else');
    return packageOptions(argv[1]);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--out') opts.out = takeValue(i++, arg);
    else if (arg === '--include') opts.includes.push(takeValue(i++, arg));
    else if (arg === '--define') opts.defines.push(takeValue(i++, arg));
    else if (arg === '--cflag') opts.cflags.push(takeValue(i++, arg));
    else if (arg.startsWith('-I') && arg.length > 2) opts.includes.push(arg.slice(2));
    else if (arg.startsWith('-D') && arg.length > 2) opts.defines.push(arg.slice(2));
    else if (arg.startsWith('-l') && arg.length > 2) opts.libs.push(arg);
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else if (CXX_SOURCE.test(arg) || C_SOURCE.test(arg)) opts.sources.push(arg);
    else throw new UsageError(`not a C or C++ source: ${arg}`);
  }
  if (!opts.out) throw new UsageError('--out <file.node> is required');
  if (opts.sources.length === 0) throw new UsageError('no sources given');
  return opts;
}

/** A list of strings from build.json, or the fallback when absent. */
function stringList(value, fallback, what) {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new UsageError(`${what} must be an array of strings`);
  return value;
}

/** Every file directly in `dir` whose name matches `pattern` (for the up-to-date check). */
function filesIn(dir, pattern) {
  return existsSync(dir) ? readdirSync(dir).filter((name) => pattern.test(name)).map((name) => path.join(dir, name)) : [];
}

/**
 * The options for `--package <dir>`: the "windows" section of the
 * package's native/build.json, with the host build's sources and kit as
 * defaults, and the list of inputs the up-to-date check compares with.
 */
function packageOptions(dir) {
  const pkgRoot = path.resolve(dir);
  const specPath = path.join(pkgRoot, 'native', 'build.json');
  if (!existsSync(specPath)) throw new UsageError(`${specPath} not found`);
  const spec = JSON.parse(readFileSync(specPath, 'utf8'));
  const win = spec.windows;
  if (typeof win !== 'object' || win === null) throw new UsageError(`${specPath} has no "windows" section`);
  if (typeof spec.target !== 'string' || !/^\w+$/.test(spec.target)) throw new UsageError(`${specPath}: "target" must be a plain name`);
  const fromPackage = (file) => path.join(pkgRoot, file);
  const kit = stringList(win.kit, stringList(spec.kit, [], 'kit'), 'windows.kit').map((file) => path.join(here, 'src', file));
  const sources = [...stringList(win.sources, stringList(spec.sources, [], 'sources'), 'windows.sources').map(fromPackage), ...kit];
  for (const source of sources) if (!CXX_SOURCE.test(source) && !C_SOURCE.test(source)) throw new UsageError(`not a C or C++ source: ${source}`);
  const includes = [path.join(here, 'include'), path.join(pkgRoot, 'native'), ...stringList(win.includes, [], 'windows.includes').map(fromPackage)];
  const libs = stringList(win.libs, [], 'windows.libs');
  for (const lib of libs) if (!lib.startsWith('-l')) throw new UsageError(`windows.libs: ${lib} is not -l<lib>`);
  return {
    out: path.join(pkgRoot, 'build', 'win32-x64', `${spec.target}.node`),
    includes,
    defines: stringList(win.defines, [], 'windows.defines'),
    libs,
    cflags: stringList(win.cflags, [], 'windows.cflags'),
    sources,
    inputs: [
      specPath,
      fileURLToPath(import.meta.url),
      path.join(here, 'src', 'win_delay_load_hook.cc'),
      ...sources,
      ...filesIn(path.join(pkgRoot, 'native'), /\.(h|hh|hpp)$/),
      ...filesIn(path.join(here, 'include', 'aio'), /\.(h|hh)$/),
      ...filesIn(path.join(here, 'src'), /\.hh$/),
    ],
  };
}

/** Quotes an argument only when a shell would need it, so the echo is pasteable. */
function shellQuote(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** Runs a command with inherited stdio; throws with its exit status on failure. */
function run(cmd, args) {
  console.log(`+ ${[cmd, ...args].map(shellQuote).join(' ')}`);
  const res = spawnSync(cmd, args, { stdio: 'inherit' });
  if (res.error) throw new Error(`${cmd}: ${res.error.message} (run tooling/windows/setup.sh)`);
  if (res.status !== 0) throw new Error(`${cmd} exited with ${res.status ?? res.signal}`);
}

/** Like run(), without blocking, so several compilers can work at once. */
function runAsync(cmd, args) {
  console.log(`+ ${[cmd, ...args].map(shellQuote).join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit' });
    child.on('error', (error) => reject(new Error(`${cmd}: ${error.message} (run tooling/windows/setup.sh)`)));
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code ?? signal}`))));
  });
}

/** Runs the job functions, at most `limit` at once; rejects with the first failure after all started ones end. */
async function parallel(jobs, limit) {
  let next = 0;
  let failure;
  const worker = async () => {
    while (next < jobs.length && failure === undefined) {
      try {
        await jobs[next++]();
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  if (failure !== undefined) throw failure;
}

function headerPaths() {
  const headers = require('node-api-headers');
  return {
    nodeApiInclude: headers.include_dir,
    nodeApiDef: headers.def_paths.node_api_def,
    addonApiInclude: path.dirname(require.resolve('node-addon-api')),
  };
}

function isOlder(file, than) {
  try {
    return statSync(file).mtimeMs < statSync(than).mtimeMs;
  } catch {
    return true; // missing counts as out of date
  }
}

/**
 * Returns the delay-load import library for node.exe's Node-API exports,
 * generating it once per cache (again only if node_api.def is newer).  It is
 * written under a temporary name and renamed, so parallel builds of several
 * backends never link a half-written archive.
 */
function delayImportLib(nodeApiDef) {
  const cache = process.env.AIO_WIN_CACHE ?? path.join(repoRoot, '.cache', 'windows');
  const lib = path.join(cache, 'libnode_api_delay.a');
  if (!isOlder(lib, nodeApiDef)) return lib;
  mkdirSync(cache, { recursive: true });
  const partial = `${lib}.${process.pid}.tmp`;
  run(DLLTOOL, ['-d', nodeApiDef, '-y', partial]);
  renameSync(partial, lib);
  return lib;
}

/** Whether `out` exists and is newer than every one of `inputs`. */
function upToDate(out, inputs) {
  if (inputs.length === 0 || !existsSync(out)) return false;
  const built = statSync(out).mtimeMs;
  return inputs.every((input) => statSync(input).mtimeMs <= built);
}

async function build(opts) {
  if (upToDate(opts.out, opts.inputs)) {
    console.log(`build-windows: up to date: ${path.relative(process.cwd(), opts.out)}`);
    return;
  }
  const { nodeApiInclude, nodeApiDef, addonApiInclude } = headerPaths();
  const defines = ['NAPI_VERSION=8', ...opts.defines];
  if (!defines.some((d) => d.split('=')[0] === 'NAPI_CPP_EXCEPTIONS')) defines.push('NAPI_DISABLE_CPP_EXCEPTIONS', 'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS');
  const common = [
    '-O2',
    // No build paths in the DLL (see reproducibleFlags in build.mjs).
    ...reproducibleFlags(),
    ...defines.map((d) => `-D${d}`),
    ...[...opts.includes, nodeApiInclude, addonApiInclude].map((d) => `-I${d}`),
    ...opts.cflags,
  ];
  const lib = delayImportLib(nodeApiDef);
  const objDir = mkdtempSync(path.join(tmpdir(), 'aio-build-windows-'));
  try {
    // C sources need the C compiler (C rules, no name mangling).  Every
    // source becomes an object; the single g++ link below takes them all.
    const sources = [...opts.sources, path.join(here, 'src', 'win_delay_load_hook.cc')];
    const objects = sources.map((src, i) => path.join(objDir, `${i}-${path.basename(src)}.o`));
    const jobs = sources.map((src, i) => () =>
      C_SOURCE.test(src) ? runAsync(CC, [...common, '-c', src, '-o', objects[i]]) : runAsync(CXX, ['-std=c++17', ...common, '-c', src, '-o', objects[i]]),
    );
    await parallel(jobs, availableParallelism());
    mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
    // Linked under a temporary name and renamed: a concurrent loader never sees half a DLL.
    const partial = `${opts.out}.${process.pid}.tmp`;
    // --no-insert-timestamp: a PE header otherwise records the link time, so no two builds would be byte-identical.
    run(CXX, ['-shared', '-static', '-Wl,--no-undefined', '-Wl,--no-insert-timestamp', '-O2', '-o', partial, ...objects, lib, ...opts.libs]);
    renameSync(partial, opts.out);
    console.log(`build-windows: built ${path.relative(process.cwd(), opts.out)}`);
  } finally {
    rmSync(objDir, { recursive: true, force: true });
  }
}

try {
  await build(parseArgs(process.argv.slice(2)));
} catch (err) {
  console.error(`build-windows: ${err.message}`);
  if (err instanceof UsageError) {
    console.error('usage: build-windows.mjs --package <dir>');
    console.error('       build-windows.mjs --out <file.node> [--include <dir>]... [--define K=V]... [-l<lib>]... [--cflag <flag>]... <sources...>');
  }
  process.exitCode = err instanceof UsageError ? 2 : 1;
}
