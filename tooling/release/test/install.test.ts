/**
 * What `pnpm release:pack` produces, installed as a user installs it: npm
 * into a fresh project, offline (an empty npm cache and --offline: nothing
 * can come from a registry), with no compiler on PATH (PATH holds `node`
 * only), then an ESM import, a read/write round trip and `aio doctor`.
 *
 * The tarballs come from AIO_RELEASE_DIR when set (a release job's folder),
 * else from `pack.mjs --no-build` run here on the current builds.  npm gets
 * the tarballs of the packages a user names plus the platform package a
 * registry would add for this machine; the test checks that the backend
 * lists that package as an optional dependency, so the registry would.  One
 * test serves the folder as a registry on 127.0.0.1 to show exactly that.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const HERE = dirname(fileURLToPath(import.meta.url));
const RELEASE = join(HERE, '..');

interface PackedEntry {
  name: string;
  version: string;
  file: string;
  /** Platform packages only: the platform id and the package's os, cpu and libc fields. */
  platform?: string;
  os?: string;
  cpu?: string;
  libc?: string | null;
}
interface Manifest {
  host: string;
  packages: PackedEntry[];
  platforms: PackedEntry[];
  missing: Array<{ name: string; reason: string }>;
}
interface DoctorJson {
  chosen: string | null;
  methods: Array<{ name: string; installed: boolean; available: boolean; reason: string; code?: string; version?: string }>;
  platform: { platformId: string };
}

let work: string;
let packDir: string;
let manifest: Manifest;
/** A folder with `node` in it and nothing else: the PATH of every install and run. */
let nodeOnlyBin: string;
let npmCli: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'aio-release-'));
  packDir = process.env.AIO_RELEASE_DIR ?? join(work, 'packs');
  if (process.env.AIO_RELEASE_DIR === undefined) {
    execFileSync(process.execPath, [join(RELEASE, 'pack.mjs'), '--no-build', '--out', packDir], { stdio: 'pipe', timeout: 150_000 });
  }
  manifest = JSON.parse(readFileSync(join(packDir, 'manifest.json'), 'utf8')) as Manifest;
  nodeOnlyBin = join(work, 'bin');
  mkdirSync(nodeOnlyBin);
  symlinkSync(process.execPath, join(nodeOnlyBin, 'node'));
  npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = { PATH: nodeOnlyBin, HOME: work, npm_config_cache: join(work, 'npm-cache'), npm_config_update_notifier: 'false' };
  for (const name of ['TMPDIR', 'LANG']) if (process.env[name] !== undefined) clean[name] = process.env[name];
  return clean;
}

function tarball(name: string): string {
  const entry = [...manifest.packages, ...manifest.platforms].find((packed) => packed.name === name);
  if (entry === undefined) throw new Error(`${name} was not packed (manifest.json: ${JSON.stringify(manifest.missing)})`);
  return join(packDir, entry.file);
}

/** A fresh project with `names` installed from the tarballs, offline. */
async function install(label: string, names: readonly string[]): Promise<string> {
  const dir = join(work, label);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `aio-release-${label}`, private: true, type: 'module' }));
  await npm(dir, ['--offline', ...names.map(tarball)]);
  return dir;
}

/**
 * `npm install <args>` in `dir` with the test's PATH and cache; without
 * blocking this process, which may be serving the registry npm talks to.
 */
function npm(dir: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [npmCli, 'install', '--no-audit', '--no-fund', '--loglevel=error', ...args], { cwd: dir, env: env() });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const timer = setTimeout(() => child.kill(), 120_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      if (status === 0) resolve();
      else reject(new Error(`npm install ${args.join(' ')} in ${dir} failed (${status}):\n${output}`));
    });
  });
}

/**
 * A registry on 127.0.0.1 serving the packed folder and nothing else (any
 * other name is a 404), so that npm resolves the optional dependencies the
 * way it does against npmjs.com: from the packuments, filtered on os, cpu
 * and libc.
 */
async function startRegistry(): Promise<{ url: string; server: Server }> {
  interface Packument {
    name: string;
    versions: Record<string, unknown>;
    'dist-tags': Record<string, string>;
  }
  const packuments = new Map<string, Packument>();
  const server = createServer((request, response) => {
    const path = decodeURIComponent(request.url ?? '/');
    if (path.startsWith('/tarballs/')) {
      response.end(readFileSync(join(packDir, path.slice('/tarballs/'.length))));
      return;
    }
    const packument = packuments.get(path.slice(1));
    response.statusCode = packument === undefined ? 404 : 200;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(packument ?? { error: 'not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  for (const file of readdirSync(packDir).filter((name) => name.endsWith('.tgz'))) {
    const bytes = readFileSync(join(packDir, file));
    const pkg = JSON.parse(execFileSync('tar', ['xzf', join(packDir, file), '-O', 'package/package.json'], { encoding: 'utf8' })) as { name: string; version: string };
    const packument: Packument = packuments.get(pkg.name) ?? { name: pkg.name, versions: {}, 'dist-tags': {} };
    const integrity = `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
    packument.versions[pkg.version] = { ...pkg, dist: { tarball: `${url}tarballs/${file}`, integrity, shasum: createHash('sha1').update(bytes).digest('hex') } };
    packument['dist-tags'].latest = pkg.version;
    packuments.set(pkg.name, packument);
  }
  return { url, server };
}

function run(dir: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, args, { cwd: dir, env: env(), encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function doctor(dir: string): DoctorJson {
  const result = run(dir, [join(dir, 'node_modules', '.bin', 'aio'), 'doctor', '--json']);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as DoctorJson;
}

function smoke(dir: string): { method: string; wrote: number; read: number; same: boolean } {
  const script = join(dir, 'smoke.mjs');
  cpSync(join(HERE, 'smoke.mjs'), script);
  const result = run(dir, [script]);
  if (result.status !== 0) throw new Error(`smoke.mjs failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(result.stdout) as ReturnType<typeof smoke>;
}

function installedManifest(dir: string, name: string): { version: string; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8'));
}

describe('release: the packed packages', () => {
  it('release: every published package has a LICENSE, full metadata and no native sources or builds', () => {
    for (const entry of [...manifest.packages, ...manifest.platforms]) {
      const listing = execFileSync('tar', ['tzf', join(packDir, entry.file)], { encoding: 'utf8' }).split('\n');
      expect(listing, entry.name).toContain('package/LICENSE');
      expect(listing.filter((path) => /^package\/(native|src|build)\//.test(path)), entry.name).toEqual([]);
      const pkg = JSON.parse(execFileSync('tar', ['xzf', join(packDir, entry.file), '-O', 'package/package.json'], { encoding: 'utf8' }));
      expect(pkg, entry.name).toMatchObject({ license: 'MIT', publishConfig: { access: 'public' }, engines: { node: '>=20.19.0' } });
      expect(pkg.repository?.url, entry.name).toMatch(/^git\+https:/);
      expect(JSON.stringify(pkg), entry.name).not.toContain('workspace:');
    }
  });

  it('release: a backend lists exactly its packed platform packages, at its own version, and takes @aio/core as a peer', () => {
    for (const entry of manifest.packages.filter((packed) => manifest.platforms.some((platform) => platform.name.startsWith(`${packed.name}-`)))) {
      const pkg = JSON.parse(execFileSync('tar', ['xzf', join(packDir, entry.file), '-O', 'package/package.json'], { encoding: 'utf8' }));
      const platforms = manifest.platforms.filter((platform) => platform.name.startsWith(`${entry.name}-`));
      expect(pkg.optionalDependencies).toEqual(Object.fromEntries(platforms.map((platform) => [platform.name, entry.version])));
      expect(pkg.dependencies?.['@aio/core']).toBeUndefined();
      expect(pkg.peerDependencies['@aio/core']).toBe(`^${entry.version}`);
    }
  });
});

describe('release: installed with npm, offline, without a compiler', () => {
  it('release: core + threadpool + auto installs, imports as ESM and CommonJS, round-trips a write and a read, and the doctor picks threadpool', async (context) => {
    const platform = `@aio/threadpool-${manifest.host}`;
    if (!manifest.platforms.some((entry) => entry.name === platform)) context.skip(`${platform} was not packed here (no threadpool build for ${manifest.host})`);
    const compilers = spawnSync('/bin/sh', ['-c', 'for tool in cc gcc c++ g++ clang make node-gyp; do command -v $tool; done'], { env: env(), encoding: 'utf8' });
    expect(compilers.stdout).toBe('');
    const dir = await install('threadpool', ['@aio/core', '@aio/threadpool', '@aio/auto', platform]);
    expect(Object.keys(installedManifest(dir, '@aio/threadpool').optionalDependencies ?? {})).toContain(platform);
    expect(existsSync(join(dir, 'node_modules', '@aio', 'threadpool', 'build'))).toBe(false);

    expect(smoke(dir)).toEqual({ method: 'threadpool', wrote: expect.any(Number), read: expect.any(Number), same: true });
    const report = doctor(dir);
    expect(report.chosen).toBe('threadpool');
    expect(report.platform.platformId).toBe(manifest.host);
    expect(report.methods.find((method) => method.name === 'threadpool')).toMatchObject({ installed: true, available: true });
    expect(report.methods.find((method) => method.name === 'io_uring')).toMatchObject({ installed: false, code: 'not-installed' });

    // require(esm), which the engines floor (Node 20.19) guarantees.
    const cjs = run(dir, ['-e', "const auto = require('@aio/auto'); const core = require('@aio/core'); console.log(typeof auto.createAio, typeof core.Aio)"]);
    expect(cjs.stdout.trim()).toBe('function function');
  });

  it('release: core + io-uring + auto installs and loads the io_uring binary from its platform package', async (context) => {
    const platform = `@aio/io-uring-${manifest.host}`;
    if (!manifest.platforms.some((entry) => entry.name === platform)) context.skip(`${platform} was not packed here (no io_uring build for ${manifest.host})`);
    const dir = await install('io-uring', ['@aio/core', '@aio/io-uring', '@aio/auto', platform]);
    const report = doctor(dir);
    const uring = report.methods.find((method) => method.name === 'io_uring');
    expect(uring).toMatchObject({ installed: true });
    // The binary loaded; whether the kernel lets this process use io_uring is another question (EPERM, ENOSYS...).
    expect(uring?.reason).not.toMatch(/^(addon|binary|no binary|no prebuilt)/);
    const result = smoke(dir);
    expect(result.same).toBe(true);
    expect(result.method).toBe(uring?.available ? 'io_uring' : report.chosen);
  });

  it('release: a backend whose platform package is missing is installed-without-binary, and the doctor prints the npm line that fixes it', async (context) => {
    const platform = `@aio/threadpool-${manifest.host}`;
    if (!manifest.platforms.some((entry) => entry.name === platform)) context.skip(`${platform} was not packed here`);
    const dir = await install('omitted', ['@aio/core', '@aio/threadpool', '@aio/auto']);
    rmSync(join(dir, 'node_modules', platform), { recursive: true, force: true });
    const threadpool = doctor(dir).methods.find((method) => method.name === 'threadpool');
    const version = installedManifest(dir, '@aio/threadpool').version;
    expect(threadpool).toMatchObject({ installed: true, available: false, code: 'binary-not-installed' });
    expect(threadpool?.reason).toContain(`${platform} is not installed`);
    expect(threadpool?.reason).toMatch(new RegExp(`fix: npm install --os=${process.platform} --cpu=${process.arch}( --libc=\\w+)? @aio/threadpool@${version}$`));
  });
});

describe('release: installed from a registry', () => {
  it("release: npm installs only this machine's platform package, and the doctor's npm line for a wrong-platform binary really fixes it", async (context) => {
    const platform = `@aio/threadpool-${manifest.host}`;
    const other = manifest.platforms.find((entry) => entry.name.startsWith('@aio/threadpool-') && entry.name !== platform);
    if (!manifest.platforms.some((entry) => entry.name === platform)) context.skip(`${platform} was not packed here`);
    if (other === undefined) context.skip('only one threadpool platform package was packed: nothing to mismatch');
    const { url, server } = await startRegistry();
    try {
      const dir = join(work, 'registry');
      mkdirSync(dir);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'aio-release-registry', private: true, type: 'module' }));
      await npm(dir, [`--registry=${url}`, '@aio/core', '@aio/threadpool', '@aio/auto']);
      const installed = () => readdirSync(join(dir, 'node_modules', '@aio')).filter((name) => name.startsWith('threadpool-'));
      expect(installed()).toEqual([platform.slice('@aio/'.length)]);

      // node_modules prepared for another platform (as on a Mac building a Linux image), run here.
      await npm(dir, [`--registry=${url}`, `--os=${other!.os}`, `--cpu=${other!.cpu}`, ...(other!.libc ? [`--libc=${other!.libc}`] : []), `@aio/threadpool@${other!.version}`]);
      expect(installed()).toEqual([other!.name.slice('@aio/'.length)]);
      const wrong = doctor(dir).methods.find((method) => method.name === 'threadpool');
      expect(wrong).toMatchObject({ installed: true, available: false, code: 'binary-wrong-platform' });
      const advice = (wrong as { advice?: string }).advice ?? '';
      expect(advice).toMatch(/^npm install --os=\S+ --cpu=\S+ (--libc=\S+ )?@aio\/threadpool@\S+$/);

      await npm(dir, [`--registry=${url}`, ...advice.split(' ').slice(2)]);
      expect(installed()).toEqual([platform.slice('@aio/'.length)]);
      expect(doctor(dir).methods.find((method) => method.name === 'threadpool')).toMatchObject({ installed: true, available: true });
    } finally {
      server.close();
    }
  });
});

describe('release: two copies of @aio/core', () => {
  it('copies: a second copy warns with both paths, and an AioReturn of one copy is accepted by the other while an AioFile is a usage error', (context) => {
    const dir = existsSync(join(work, 'threadpool', 'node_modules', '@aio', 'core')) ? join(work, 'threadpool') : undefined;
    if (dir === undefined) context.skip('needs the installed project of the threadpool test');
    const first = join(dir!, 'node_modules', '@aio', 'core');
    const second = join(work, 'second', 'node_modules', '@aio', 'core');
    mkdirSync(dirname(second), { recursive: true });
    cpSync(first, second, { recursive: true });
    const pkg = JSON.parse(readFileSync(join(second, 'package.json'), 'utf8'));
    writeFileSync(join(second, 'package.json'), JSON.stringify({ ...pkg, version: `${pkg.version}-second` }));
    const script = `
      const warnings = [];
      process.on('warning', (warning) => warnings.push({ code: warning.code, message: warning.message }));
      const a = await import(${JSON.stringify(pathToFileURL(join(first, 'dist', 'copies.js')).href)});
      const coreA = await import(${JSON.stringify(pathToFileURL(join(first, 'dist', 'index.js')).href)});
      const b = await import(${JSON.stringify(pathToFileURL(join(second, 'dist', 'copies.js')).href)});
      const coreB = await import(${JSON.stringify(pathToFileURL(join(second, 'dist', 'index.js')).href)});
      await new Promise((resolve) => setImmediate(resolve));
      let fileError;
      const aio = new coreA.Aio({ method: coreA.syncMethod() });
      const file = aio.open(${JSON.stringify(join(first, 'package.json'))});
      try { b.isAioFile(file); } catch (error) { fileError = { code: error.code, message: error.message }; }
      await file.close(); await aio.close();
      console.log(JSON.stringify({ warnings, copies: b.aioCoreCopies().length, returnAcross: b.isAioReturn(new coreA.AioReturn()), returnOwn: a.isAioReturn(new coreA.AioReturn()), plain: b.isAioReturn({}), fileError }));
    `;
    const result = run(dir!, ['--input-type=module', '-e', script]);
    const output = JSON.parse(result.stdout);
    expect(output).toMatchObject({ copies: 2, returnAcross: true, returnOwn: true, plain: false });
    expect(output.warnings).toEqual([expect.objectContaining({ code: 'AIO_CORE_DUPLICATE' })]);
    expect(output.warnings[0].message).toContain(first);
    expect(output.warnings[0].message).toContain(second);
    expect(output.fileError).toMatchObject({ code: 'AIO_ERR_INVALID_TYPE' });
    expect(output.fileError.message).toContain('another copy of @aio/core');
  });
});
