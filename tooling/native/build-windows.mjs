#!/usr/bin/env node
// Cross-builds a win32-x64 Node-API addon (.node) on Linux with mingw-w64.
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
// Sources: .cc/.cpp/.cxx go to g++ -std=c++17, .c to gcc; everything is linked
// by g++ into one DLL.  The addon needs no mingw runtime DLL (-static) and
// resolves napi_* lazily from the host executable (see
// src/win_delay_load_hook.cc).  node-addon-api needs one of
// NAPI_CPP_EXCEPTIONS or NAPI_DISABLE_CPP_EXCEPTIONS; the latter is defined
// unless the caller defines the former.
//
// Needs the apt packages that tooling/windows/setup.sh installs.  Prints every
// command it runs; the exit code is non-zero if any step fails.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
  const opts = { out: null, includes: [], defines: [], libs: [], cflags: [], sources: [] };
  const takeValue = (i, flag) => {
    if (i + 1 >= argv.length) throw new UsageError(`${flag} needs a value`);
    return argv[i + 1];
  };
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

function build(opts) {
  const { nodeApiInclude, nodeApiDef, addonApiInclude } = headerPaths();
  const defines = ['NAPI_VERSION=8', ...opts.defines];
  if (!defines.some((d) => d.split('=')[0] === 'NAPI_CPP_EXCEPTIONS')) defines.push('NAPI_DISABLE_CPP_EXCEPTIONS');
  const common = [
    '-O2',
    ...defines.map((d) => `-D${d}`),
    ...[...opts.includes, nodeApiInclude, addonApiInclude].map((d) => `-I${d}`),
    ...opts.cflags,
  ];
  const lib = delayImportLib(nodeApiDef);
  const objDir = mkdtempSync(path.join(tmpdir(), 'aio-build-windows-'));
  try {
    // C sources need the C compiler (C rules, no name mangling); they become
    // objects that the single g++ link below picks up.
    const objects = opts.sources.filter((s) => C_SOURCE.test(s)).map((src, i) => {
      const obj = path.join(objDir, `${i}-${path.basename(src)}.o`);
      run(CC, [...common, '-c', src, '-o', obj]);
      return obj;
    });
    const cxxSources = opts.sources.filter((s) => CXX_SOURCE.test(s));
    mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
    run(CXX, [
      '-std=c++17', '-shared', '-static', '-Wl,--no-undefined', ...common,
      '-o', opts.out,
      ...cxxSources, ...objects, path.join(here, 'src', 'win_delay_load_hook.cc'),
      lib, ...opts.libs,
    ]);
  } finally {
    rmSync(objDir, { recursive: true, force: true });
  }
}

try {
  build(parseArgs(process.argv.slice(2)));
} catch (err) {
  console.error(`build-windows: ${err.message}`);
  if (err instanceof UsageError) console.error('usage: build-windows.mjs --out <file.node> [--include <dir>]... [--define K=V]... [-l<lib>]... [--cflag <flag>]... <sources...>');
  process.exitCode = err instanceof UsageError ? 2 : 1;
}
