#!/usr/bin/env node
/**
 * `pnpm release:pack`: builds what this machine can build and packs every
 * published package into one folder (default tooling/release/out/), as npm
 * tarballs, with a manifest.json saying what was packed and what was not.
 *
 *   node tooling/release/pack.mjs [--out <dir>] [--no-build]
 *
 * For each native backend it generates one platform package per binary that
 * exists (see platforms.mjs for where binaries are looked for), strips a copy
 * of the binary into it, and lists exactly those packages, at the same
 * version, as the backend's optionalDependencies.  A platform whose binary is
 * absent is reported ("not packed: ...") and left out.
 *
 * The published package.json is written here, not by pnpm: `workspace:`
 * ranges become real ones (`workspace:*` the exact version, `workspace:^`
 * a caret range) and a peer range on another @aio package becomes
 * `^<its version>`, since the @aio packages are released together (see
 * README.md, "Versions and peer ranges").  Scripts and devDependencies are
 * dropped: they only make sense in the repository.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKENDS, PACKAGES, PLATFORMS, hostPlatformId, platformPackageName } from './platforms.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');

function parseArgs(argv) {
  const args = { out: join(here, 'out'), build: true };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') args.out = resolve(argv[++i]);
    else if (argv[i] === '--no-build') args.build = false;
    else throw new Error(`unknown argument ${argv[i]} (use --out <dir>, --no-build)`);
  }
  return args;
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function pnpm(args) {
  console.log(`$ pnpm ${args.join(' ')}`);
  execFileSync('pnpm', args, { cwd: repoRoot, stdio: 'inherit' });
}

/**
 * Builds the JavaScript of every package and the addons this machine can
 * build: its own platform, Windows x64 through mingw-w64 and FreeBSD x64
 * through the clang compile-and-link check, when those toolchains are here.
 * Cross builds for other Linux platforms (arm64, musl) are made by the CI
 * tooling into build/<platform-id>/ and only picked up here.
 */
function buildAll() {
  pnpm(['--filter', './packages/*', 'build']);
  if (onPath('x86_64-w64-mingw32-g++-posix')) pnpm(['--filter', '@aio/threadpool', '--filter', '@aio/iocp', 'build:windows']);
  else console.log('win32-x64: not built here (no x86_64-w64-mingw32-g++-posix; see tooling/windows/README.md)');
  if (onPath('clang') && onPath('ld.lld')) pnpm(['--filter', '@aio/kqueue', 'check:freebsd']);
  else console.log('freebsd-x64: not built here (needs clang and lld)');
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** The version of every workspace package by name, for resolving `workspace:` ranges. */
function workspaceVersions() {
  return new Map(PACKAGES.map(({ name, dir }) => [name, readJson(join(repoRoot, 'packages', dir, 'package.json')).version]));
}

/** A `workspace:` range as it is published; anything else unchanged. */
function publishedRange(field, name, range, versions) {
  if (!range.startsWith('workspace:')) return range;
  const version = versions.get(name);
  if (version === undefined) throw new Error(`${name}: a workspace range on a package that is not published`);
  const rest = range.slice('workspace:'.length);
  if (field === 'peerDependencies' || rest === '^') return `^${version}`;
  if (rest === '*') return version;
  if (rest === '~') return `~${version}`;
  return rest;
}

function publishedManifest(pkg, versions, optional) {
  const out = { ...pkg };
  delete out.scripts;
  delete out.devDependencies;
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    if (out[field] === undefined) continue;
    out[field] = Object.fromEntries(Object.entries(out[field]).map(([name, range]) => [name, publishedRange(field, name, range, versions)]));
  }
  if (optional !== undefined && Object.keys(optional).length > 0) out.optionalDependencies = { ...out.optionalDependencies, ...optional };
  return out;
}

/**
 * The strip tool for a platform's binaries: binutils for the targets Debian
 * has them for (llvm-strip 14 rejects mingw's PE symbol tables), llvm-strip
 * for the others (FreeBSD ELF, Mach-O).
 */
function stripTool(id) {
  const candidates = {
    'linux-x64-gnu': ['strip'],
    'linux-x64-musl': ['strip'],
    'linux-arm64-gnu': ['aarch64-linux-gnu-strip', 'llvm-strip'],
    'linux-arm64-musl': ['aarch64-linux-gnu-strip', 'llvm-strip'],
    'win32-x64': ['x86_64-w64-mingw32-strip'],
  }[id] ?? ['llvm-strip'];
  return candidates.find(onPath);
}

/** The highest GLIBC_2.N symbol version the binary needs: its glibc floor. */
function glibcFloor(bytes) {
  let floor;
  for (const match of bytes.toString('latin1').matchAll(/GLIBC_2\.(\d+)(?:\.(\d+))?/g)) {
    const version = [2, Number(match[1]), Number(match[2] ?? 0)];
    if (floor === undefined || version[1] > floor[1] || (version[1] === floor[1] && version[2] > floor[2])) floor = version;
  }
  return floor === undefined ? undefined : floor[2] === 0 ? `2.${floor[1]}` : floor.join('.');
}

/**
 * Packs every staged folder with one npm process (npm's start-up dominates
 * the time of a pack); returns what npm packed, by package name.
 */
function npmPack(stages, out) {
  const result = execFileSync('npm', ['pack', ...stages, '--pack-destination', out, '--ignore-scripts', '--json', '--loglevel=error'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return new Map(JSON.parse(result).map((info) => [info.name, { file: info.filename, integrity: info.integrity, files: info.files.map((file) => file.path) }]));
}

/** Where the binary of `backend` for platform `id` is, if it exists. */
function binaryFor(backend, id, hostId) {
  const buildDir = join(repoRoot, 'packages', backend.dir, 'build');
  const candidates = [join(buildDir, id, `${backend.addon}.node`)];
  if (id === hostId) candidates.push(join(buildDir, 'Release', `${backend.addon}.node`));
  return candidates.find((path) => existsSync(path));
}

function readTemplate(values) {
  const text = readFileSync(join(here, 'template', 'README.md'), 'utf8');
  return text.replace(/\{\{(\w+)\}\}/g, (_, key) => {
    if (!(key in values)) throw new Error(`template/README.md: no value for {{${key}}}`);
    return values[key];
  });
}

/** Stages one platform package of `backend`; returns its folder and manifest entry. */
function stagePlatform(backend, id, binary, version, stageRoot) {
  const platform = PLATFORMS[id];
  const name = platformPackageName(backend.name, id);
  const stage = join(stageRoot, name.replace('/', '+'));
  mkdirSync(stage, { recursive: true });
  const file = `${backend.addon}.node`;
  copyFileSync(binary, join(stage, file));
  const strip = stripTool(id);
  if (strip !== undefined) execFileSync(strip, ['--strip-unneeded', join(stage, file)], { stdio: ['ignore', 'inherit', 'inherit'] });
  const bytes = readFileSync(join(stage, file));
  const buildPaths = bytes.includes(Buffer.from(repoRoot));
  const glibc = platform.libc === 'glibc' ? glibcFloor(bytes) : undefined;
  const backendPkg = readJson(join(repoRoot, 'packages', backend.dir, 'package.json'));
  const manifest = {
    name,
    version,
    description: `The ${id} binary of ${backend.name} (${platform.words}). ${backend.name} lists it as an optional dependency and loads it; do not depend on it directly.`,
    keywords: backendPkg.keywords,
    homepage: backendPkg.homepage,
    bugs: backendPkg.bugs,
    repository: backendPkg.repository,
    license: 'MIT',
    os: [platform.os],
    cpu: [platform.cpu],
    ...(platform.libc === null ? {} : { libc: [platform.libc] }),
    main: file,
    files: [file, 'README.md', 'LICENSE'],
    engines: backendPkg.engines,
    ...(glibc === undefined ? {} : { config: { glibc: `>=${glibc}` } }),
    preferUnplugged: true,
    publishConfig: { access: 'public' },
  };
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(join(repoRoot, 'packages', backend.dir, 'LICENSE'), join(stage, 'LICENSE'));
  const libcLine = platform.libc === null ? '' : ` --libc=${platform.libc}`;
  writeFileSync(
    join(stage, 'README.md'),
    readTemplate({
      name,
      backend: backend.name,
      id,
      words: platform.words,
      file,
      floor: glibc === undefined ? (platform.libc === 'musl' ? 'musl 1.2 (Alpine 3.17 and later)' : 'none beyond the OS') : `glibc ${glibc} or later`,
      install: `npm install --os=${platform.os} --cpu=${platform.cpu}${libcLine} ${backend.name}`,
    }),
  );
  return { stage, entry: { name, version, platform: id, ...platform, source: relative(repoRoot, binary), stripped: strip ?? null, buildPaths, glibc: glibc ?? null } };
}

/** Stages one workspace package with its published package.json. */
function stageWorkspace(entry, versions, optional, stageRoot) {
  const dir = join(repoRoot, 'packages', entry.dir);
  const pkg = readJson(join(dir, 'package.json'));
  const stage = join(stageRoot, entry.name.replace('/', '+'));
  mkdirSync(stage, { recursive: true });
  for (const item of pkg.files) {
    if (!existsSync(join(dir, item))) throw new Error(`${entry.name}: "${item}" of its files is missing (build it first)`);
    cpSync(join(dir, item), join(stage, item), { recursive: true });
  }
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(publishedManifest(pkg, versions, optional), null, 2)}\n`);
  return { stage, entry: { name: entry.name, version: pkg.version, optionalDependencies: Object.keys(optional ?? {}) } };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.build) buildAll();
  rmSync(args.out, { recursive: true, force: true });
  const stageRoot = join(args.out, '.stage');
  mkdirSync(stageRoot, { recursive: true });
  const versions = workspaceVersions();
  const hostId = hostPlatformId();
  const platforms = [];
  const missing = [];
  const optionalOf = new Map();
  for (const backend of BACKENDS) {
    const version = versions.get(backend.name);
    const optional = {};
    for (const id of backend.platforms) {
      const binary = binaryFor(backend, id, hostId);
      const name = platformPackageName(backend.name, id);
      if (binary === undefined) {
        missing.push({ name, platform: id, reason: `no binary at packages/${backend.dir}/build/${id}/${backend.addon}.node${id === hostId ? ' or build/Release' : ''}` });
        continue;
      }
      platforms.push(stagePlatform(backend, id, binary, version, stageRoot));
      optional[name] = version;
    }
    optionalOf.set(backend.name, optional);
  }
  const workspace = PACKAGES.map((entry) => stageWorkspace(entry, versions, optionalOf.get(entry.name), stageRoot));
  const packedByName = npmPack([...workspace, ...platforms].map(({ stage }) => stage), args.out);
  rmSync(stageRoot, { recursive: true, force: true });
  const withTarball = ({ entry }) => {
    const packed = packedByName.get(entry.name);
    const unexpected = packed.files.filter((path) => /^(native|build|src)\//.test(path));
    if (unexpected.length > 0) throw new Error(`${entry.name}: the tarball holds ${unexpected.join(', ')}`);
    return { ...entry, file: packed.file, integrity: packed.integrity };
  };
  const packages = workspace.map(withTarball);
  const packedPlatforms = platforms.map(withTarball);
  const manifest = { host: hostId, packages, platforms: packedPlatforms, missing };
  writeFileSync(join(args.out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  console.log(`\nrelease:pack: ${packages.length + platforms.length} tarballs in ${relative(process.cwd(), args.out) || '.'}`);
  for (const entry of packages) console.log(`  packed      ${entry.file}`);
  for (const entry of packedPlatforms) {
    const notes = [entry.stripped === null ? 'NOT stripped (no strip tool)' : 'stripped', entry.buildPaths ? 'HAS build paths' : 'no build paths'];
    if (entry.glibc !== null) notes.push(`glibc >= ${entry.glibc}`);
    console.log(`  packed      ${entry.file} (from ${entry.source}; ${notes.join(', ')})`);
  }
  for (const entry of missing) console.log(`  not packed  ${entry.name}: ${entry.reason}`);
  if (packedPlatforms.some((entry) => entry.buildPaths)) {
    console.error('release:pack: a binary still holds build paths (see above): it would not be reproducible');
    process.exitCode = 1;
  }
}

main();
