#!/usr/bin/env node
/**
 * aio-native-build: builds a backend's Node-API addon for the host, offline.
 *
 * Run from a backend package; it reads `native/build.json`:
 *   {
 *     "target": "aio_threadpool",                  // build/Release/<target>.node
 *     "sources": ["native/addon.cc", "native/threadpool.cc"],
 *     "kit": ["io.c", "completions.c"],           // shared sources from tooling/native/src
 *     "platforms": ["linux", "darwin", "freebsd"],// anything else: skipped with a reason
 *     "requires": [{ "header": "liburing.h", "hint": "apt-get install liburing-dev" }],
 *     "libs": ["-l:liburing.a"],                  // linker inputs, or { "linux": [...], "darwin": [...] }
 *     "uv": true                                   // needs libuv's uv.h (Node's own headers)
 *   }
 *
 * Why our own driver instead of node-gyp or cmake-js: the include paths come
 * from npm packages (node-api-headers, node-addon-api), so nothing is ever
 * downloaded; the same description drives the host build, the sanitizer
 * build (`--variant asan`) and the Windows cross-build
 * (`build-windows.mjs`); and a backend that cannot be built here (wrong
 * platform, missing system header) is skipped with a recorded reason instead
 * of failing the install, so the package still installs and its probe can
 * say why.
 *
 * Flags: --variant release|asan (default release), --verbose.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const kitRoot = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Include directories of the Node-API C headers and node-addon-api, from npm packages. */
export function nodeApiIncludes() {
  const headers = dirname(require.resolve('node-api-headers/package.json'));
  const addonApi = dirname(require.resolve('node-addon-api/package.json'));
  return { nodeApi: join(headers, 'include'), addonApi, def: join(headers, 'def', 'node_api.def') };
}

/**
 * Where libuv's uv.h is: Node's own headers (a nodedir), or, for a Node
 * built against the system's libuv (FreeBSD's port, some distributions),
 * the system include directories; undefined if none has it.
 */
export function findUvInclude() {
  const sharedLibuv = process.config?.variables?.node_shared_libuv === true || process.config?.variables?.node_shared_libuv === 'true';
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
    ...(sharedLibuv ? ['/usr/local/include', '/usr/include'] : []),
  ].filter(Boolean);
  return candidates.find((dir) => existsSync(join(dir, 'uv.h')));
}

/**
 * Compiler flags that make a build independent of where the repository is
 * checked out: every path under the repository root is recorded relative to
 * it.  The release step (tooling/release/pack.mjs) strips the symbols from
 * the copy it packs, so published binaries carry no build paths at all.
 */
export function reproducibleFlags() {
  const repoRoot = resolve(kitRoot, '..', '..');
  // The header packages by name too: where a package manager stores them (.pnpm/<name>@<version>/..., a
  // hoisted node_modules, a copy) must not change the debug info, whose hash is the binary's build id.
  // gcc applies the last matching map, so these more specific ones come after the repository's.
  const headers = ['node-api-headers', 'node-addon-api'].map((name) => `-ffile-prefix-map=${realpathSync(dirname(require.resolve(`${name}/package.json`)))}=${name}`);
  return [`-ffile-prefix-map=${repoRoot}/=`, ...headers];
}

function parseArgs(argv) {
  const args = { variant: 'release', verbose: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--variant') args.variant = argv[++i];
    else if (argv[i] === '--verbose') args.verbose = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!['release', 'asan'].includes(args.variant)) throw new Error(`--variant must be release or asan`);
  return args;
}

/** Linker inputs for this platform: a list, or a list per platform. */
function platformLibs(libs) {
  if (libs === undefined) return [];
  return Array.isArray(libs) ? libs : (libs[process.platform] ?? []);
}

/** Whether the C compiler finds `header`. */
function headerAvailable(cc, header, includes) {
  try {
    execFileSync(cc, ['-E', '-x', 'c', '-', ...includes.map((dir) => `-I${dir}`)], {
      input: `#include <${header}>\n`,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    return true;
  } catch {
    return false;
  }
}

function run(command, args, verbose) {
  if (verbose) console.log([command, ...args].join(' '));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${command} exited with ${code}`))));
  });
}

/** Runs `jobs` (functions returning promises) with at most `limit` at once. */
async function parallel(jobs, limit) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, jobs.length) }, async () => {
    while (next < jobs.length) await jobs[next++]();
  });
  await Promise.all(workers);
}

function newerThan(output, inputs) {
  if (!existsSync(output)) return false;
  const built = statSync(output).mtimeMs;
  return inputs.every((input) => statSync(input).mtimeMs <= built);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const pkgRoot = process.cwd();
  const spec = JSON.parse(readFileSync(join(pkgRoot, 'native', 'build.json'), 'utf8'));
  const outDir = join(pkgRoot, 'build', args.variant === 'asan' ? 'asan' : 'Release');
  const output = join(outDir, `${spec.target}.node`);
  const skipRecord = join(outDir, `${spec.target}.skipped`);
  mkdirSync(outDir, { recursive: true });

  const skip = (reason) => {
    rmSync(output, { force: true });
    writeFileSync(skipRecord, `${reason}\n`);
    console.log(`${spec.target}: skipped: ${reason}`);
  };

  if (spec.platforms && !spec.platforms.includes(process.platform)) {
    return skip(`wrong platform: ${process.platform} (builds on ${spec.platforms.join(', ')})`);
  }
  const cc = process.env.CC ?? 'cc';
  const cxx = process.env.CXX ?? 'c++';
  const { nodeApi, addonApi } = nodeApiIncludes();
  const includes = [join(kitRoot, 'include'), nodeApi, addonApi, join(pkgRoot, 'native')];
  if (spec.uv) {
    const uv = findUvInclude();
    if (uv === undefined) return skip(`libuv's uv.h not found (install Node's headers, or set npm_config_nodedir)`);
    includes.push(uv);
  }
  for (const { header, hint } of spec.requires ?? []) {
    if (!headerAvailable(cc, header, includes)) return skip(`${header} not found${hint ? ` (${hint})` : ''}`);
  }
  rmSync(skipRecord, { force: true });

  const sources = [...spec.sources.map((s) => join(pkgRoot, s)), ...(spec.kit ?? []).map((s) => join(kitRoot, 'src', s))];
  const kitHeaders = [
    ...readdirSync(join(kitRoot, 'include', 'aio')).map((name) => join(kitRoot, 'include', 'aio', name)),
    ...readdirSync(join(kitRoot, 'src')).filter((name) => name.endsWith('.hh')).map((name) => join(kitRoot, 'src', name)),
  ];
  const ownHeaders = readdirSync(join(pkgRoot, 'native'))
    .filter((name) => name.endsWith('.h'))
    .map((name) => join(pkgRoot, 'native', name));
  const headers = [...kitHeaders, ...ownHeaders];
  // The driver itself is an input: a change of its flags rebuilds every addon.
  if (newerThan(output, [...sources, ...headers, join(pkgRoot, 'native', 'build.json'), fileURLToPath(import.meta.url)])) {
    console.log(`${spec.target}: up to date (${relative(pkgRoot, output)})`);
    return;
  }

  // The repository's location must not end up in the binary (debug info, __FILE__ in asserts): two
  // checkouts in different folders build the same bytes once `release:pack` strips the debug info.
  const common = ['-O2', '-g', '-fPIC', '-fvisibility=hidden', ...reproducibleFlags(), '-Wall', '-Wextra', '-Wno-unused-parameter', '-DNAPI_VERSION=8', '-D_GNU_SOURCE'];
  if (args.variant === 'asan') common.push('-fsanitize=address', '-fno-omit-frame-pointer', '-O1');
  const includeFlags = includes.map((dir) => `-I${dir}`);
  const objDir = join(pkgRoot, 'build', `obj-${args.variant}`);
  mkdirSync(objDir, { recursive: true });
  const objects = [];
  const jobs = sources.map((source) => {
    const object = join(objDir, `${relative(pkgRoot, source).replace(/[/\\.]+/g, '_')}.o`);
    objects.push(object);
    const isC = source.endsWith('.c');
    const compiler = isC ? cc : cxx;
    const langFlags = isC ? ['-std=c11'] : ['-std=c++17', '-DNAPI_DISABLE_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED', '-DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS'];
    return () => run(compiler, [...langFlags, ...common, ...(spec.cflags ?? []), ...includeFlags, '-c', source, '-o', object], args.verbose);
  });
  await parallel(jobs, availableParallelism());

  const linkFlags = ['-shared', '-pthread', ...(args.variant === 'asan' ? ['-fsanitize=address'] : [])];
  if (process.platform === 'darwin') linkFlags.push('-undefined', 'dynamic_lookup');
  // An addon written in C only is linked by the C compiler, so it needs no C++ runtime.
  const linker = sources.every((source) => source.endsWith('.c')) ? cc : cxx;
  await run(linker, [...linkFlags, '-o', output, ...objects, ...platformLibs(spec.libs)], args.verbose);
  console.log(`${spec.target}: built ${relative(pkgRoot, output)}`);
}

// Through the package bin, argv[1] is a symlink (node_modules/@aio/native-build/build.mjs): compare real paths.
const invokedDirectly = process.argv[1] !== undefined && realpathSync(resolve(process.argv[1])) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main().catch((error) => {
    console.error(`aio-native-build: ${error.message}`);
    process.exit(1);
  });
}
