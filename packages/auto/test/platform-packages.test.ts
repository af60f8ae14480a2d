/**
 * Backends whose binary comes from a platform package, as a published
 * install has them: @aio/threadpool lists @aio/threadpool-<platform-id>
 * packages as optionalDependencies and @aio/core's loader finds the one for
 * this platform.  The selector and `aio doctor` must tell "installed, but the
 * binary is for another platform" and "installed, no binary" apart from "not
 * installed", each with the exact command that fixes it.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { platformId } from '../src/platform.js';
import { PACKAGES_DIR, makeFixture, parseJson, requireBuilt, runNode, selectScript, unbuiltReason, type Fixture, type SelectOutput } from './helpers.js';

const HERE = platformId();
/** A platform id that is not this one but as close as can be: same OS and arch, the other libc (or arch). */
const OTHER = HERE.endsWith('-gnu') ? HERE.replace(/-gnu$/, '-musl') : HERE.endsWith('-musl') ? HERE.replace(/-musl$/, '-gnu') : `${HERE}-other`;
const ADDON = join(PACKAGES_DIR, 'threadpool', 'build', process.platform === 'win32' ? `win32-${process.arch}` : 'Release', 'aio_threadpool.node');

const fixtures: Fixture[] = [];
afterEach(() => {
  for (const fixture of fixtures.splice(0)) fixture.remove();
});

beforeAll(() => {
  requireBuilt();
});

/** The npm flags of a platform id: `--os=linux --cpu=x64 --libc=glibc`. */
function npmFlags(id: string): string {
  const [os, cpu, libc] = id.split('-');
  return `--os=${os} --cpu=${cpu}${libc === undefined ? '' : ` --libc=${libc === 'gnu' ? 'glibc' : 'musl'}`}`;
}

/**
 * A project with @aio/core linked and @aio/threadpool copied as published
 * (no build/ folder, platform packages listed for HERE and OTHER), plus the
 * platform packages `installed` (by id); HERE gets the real addon.
 */
function project(installed: readonly string[]): Fixture {
  const fixture = makeFixture({ core: { link: 'core' } });
  fixtures.push(fixture);
  const source = join(PACKAGES_DIR, 'threadpool');
  const target = join(fixture.dir, 'node_modules', '@aio', 'threadpool');
  mkdirSync(target);
  cpSync(join(source, 'dist'), join(target, 'dist'), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')) as Record<string, unknown>;
  const version = manifest.version as string;
  manifest.optionalDependencies = { [`@aio/threadpool-${HERE}`]: version, [`@aio/threadpool-${OTHER}`]: version };
  writeFileSync(join(target, 'package.json'), JSON.stringify(manifest));
  for (const id of installed) {
    const dir = join(fixture.dir, 'node_modules', '@aio', `threadpool-${id}`);
    mkdirSync(dir);
    const [os, cpu, libc] = id.split('-');
    const platform = { os: [os], cpu: [cpu], ...(libc === undefined ? {} : { libc: [libc === 'gnu' ? 'glibc' : 'musl'] }) };
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `@aio/threadpool-${id}`, version, ...platform, main: 'aio_threadpool.node' }));
    if (id === HERE) copyFileSync(ADDON, join(dir, 'aio_threadpool.node'));
  }
  return fixture;
}

async function threadpoolListing(fixture: Fixture): Promise<{ output: SelectOutput; threadpool: NonNullable<SelectOutput['methods']>[number] }> {
  const result = await runNode([fixture.script('select.mjs', selectScript('@aio/auto'))], { cwd: fixture.dir });
  const output = parseJson<SelectOutput>(result);
  const threadpool = output.methods?.find((method) => method.name === 'threadpool');
  if (threadpool === undefined) throw new Error(`no threadpool listing: ${result.stdout}${result.stderr}`);
  return { output, threadpool };
}

describe('selector: platform packages', () => {
  it('selector: the binary comes from the platform package of this platform when the backend has no build of its own', async (context) => {
    const unbuilt = unbuiltReason('threadpool') ?? (existsSync(ADDON) ? null : `the threadpool addon is not built here (${ADDON})`);
    if (unbuilt !== null) context.skip(unbuilt);
    const { output, threadpool } = await threadpoolListing(project([HERE]));
    expect(threadpool).toMatchObject({ installed: true, available: true });
    expect(output.readOk).toBe(true);
  });

  it('selector: a platform package for another platform only is "binary installed for another platform" with the npm line for this one', async () => {
    const { threadpool } = await threadpoolListing(project([OTHER]));
    const version = JSON.parse(readFileSync(join(PACKAGES_DIR, 'threadpool', 'package.json'), 'utf8')).version as string;
    const fix = `npm install ${npmFlags(HERE)} @aio/threadpool@${version}`;
    expect(threadpool).toMatchObject({ installed: true, available: false, code: 'binary-wrong-platform', advice: fix });
    expect(threadpool.reason).toMatch(/^binary installed for another platform: this is .* and needs @aio\/threadpool-/);
    expect(threadpool.reason).toContain(`only @aio/threadpool-${OTHER}@${version} (for `);
  });

  it('selector: no platform package at all (optional dependencies omitted) is "no binary", not "not installed"', async () => {
    const { threadpool } = await threadpoolListing(project([]));
    expect(threadpool).toMatchObject({ installed: true, available: false, code: 'binary-not-installed' });
    expect(threadpool.reason).toMatch(new RegExp(`^no binary for this platform: @aio/threadpool-${HERE} is not installed`));
    expect(threadpool.advice).toMatch(new RegExp(`^npm install ${npmFlags(HERE)} @aio/threadpool@\\d`));
  });

  it('doctor: the installed column says "binary for another platform", and the fix is listed under "to use a better method"', async () => {
    const fixture = project([OTHER]);
    const result = await runNode([fixture.cli, 'doctor'], { cwd: fixture.dir });
    expect(result.stdout).toMatch(/threadpool\s+yes \S+, binary for another platform\s+no\s+binary installed for another platform/);
    expect(result.stdout).toMatch(new RegExp(`threadpool: npm install ${npmFlags(HERE)} @aio/threadpool@\\d`));
    expect(result.stdout).toContain(`binaries           ${HERE}`);
  });
});
