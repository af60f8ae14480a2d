/**
 * Projects with only some backends installed, run the way users run them:
 * a temporary project whose node_modules/@aio holds a copy of @aio/auto and
 * a chosen few packages, and a script run with `node` in a child process.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AUTO_DIR, makeFixture, parseJson, requireBuilt, runNode, selectScript, unbuiltReason, type DoctorOutput, type Fixture, type SelectOutput } from './helpers.js';

const fixtures: Fixture[] = [];
afterEach(() => {
  for (const fixture of fixtures.splice(0)) fixture.remove();
});

function fixture(packages: Parameters<typeof makeFixture>[0]): Fixture {
  const made = makeFixture(packages);
  fixtures.push(made);
  return made;
}

/** A fake backend package: its probe answers `probe` (a JS expression) and counts its calls per thread. */
function fakeSource(name: string, probe: string): string {
  return `
import { syncMethod } from '@aio/core';
export const methodName = ${JSON.stringify(name)};
export function probe() {
  globalThis.__aioFakeProbes = (globalThis.__aioFakeProbes ?? 0) + 1;
  return ${probe};
}
export function method() {
  return {
    name: methodName,
    probe,
    create(host, context) {
      const inner = syncMethod().create(host, context);
      return { name: methodName, capabilities: inner.capabilities, waitOnFileBeforeClose: false,
        needsSynchronousExecution: () => true, submit: (h, c) => inner.submit(h, c), close: () => inner.close() };
    },
  };
}
`;
}

const EPERM_PROBE = `{ available: false, reason: 'EPERM: blocked by seccomp', code: 'EPERM' }`;

beforeAll(() => {
  requireBuilt();
});

describe('selector in a project', () => {
  it('selector: a project with only core and threadpool installed gets the thread pool, with no error about the others', async (context) => {
    const unbuilt = unbuiltReason('threadpool');
    if (unbuilt !== null) context.skip(unbuilt);
    const project = fixture({ core: { link: 'core' }, threadpool: { link: 'threadpool' } });
    const result = await runNode([project.script('select.mjs', selectScript('@aio/auto'))], { cwd: project.dir });
    const output = parseJson<SelectOutput>(result);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(output.chosen).toBe('threadpool');
    expect(output.readOk).toBe(true);
    const reasons = Object.fromEntries(output.methods!.map((method) => [method.name, method.reason]));
    expect(reasons.io_uring).toBe('not installed (npm i @aio/io-uring)');
    expect(reasons.posix_aio).toBe('not installed (npm i @aio/posix-aio)');
    expect(reasons.iocp).toBe(`wrong platform: iocp needs Windows (this is ${process.platform} ${process.arch})`);
    expect(reasons.kqueue).toMatch(/^wrong platform/);
    expect(output.methods!.find((method) => method.name === 'threadpool')).toMatchObject({ installed: true, available: true });
    expect(output.skipped!.map((skipped) => skipped.name)).toEqual(['io_uring', 'iocp', 'kqueue', 'posix_aio']);
  });

  it('selector: a project with only core installed gets the libuv method and is told what to install', async () => {
    const project = fixture({ core: { link: 'core' } });
    const output = parseJson<SelectOutput>(await runNode([project.script('select.mjs', selectScript('@aio/auto'))], { cwd: project.dir }));
    expect(output.chosen).toBe('libuv');
    expect(output.readOk).toBe(true);
    expect(output.methods!.find((method) => method.name === 'threadpool')).toMatchObject({
      installed: false,
      reason: 'not installed (npm i @aio/threadpool)',
      advice: 'npm i @aio/threadpool',
    });
  });

  it('selector: an installed package without its dist/ is "addon failed to load" and the next method is used', async () => {
    const project = fixture({ core: { link: 'core' }, 'io-uring': { unbuilt: true }, 'posix-aio': { source: fakeSource('posix_aio', `{ available: true, reason: 'fake posix aio works' }`) } });
    const output = parseJson<SelectOutput>(await runNode([project.script('select.mjs', selectScript('@aio/auto'))], { cwd: project.dir }));
    expect(output.chosen).toBe('posix_aio');
    const uring = output.methods!.find((method) => method.name === 'io_uring')!;
    expect(uring).toMatchObject({ installed: true, available: false, code: 'load-failed' });
    expect(uring.reason).toMatch(/^addon failed to load: Cannot find module '.*\/node_modules\/@aio\/io-uring\/dist\/index\.js'/);
    expect(uring.advice).toMatch(/dist\/ is missing/);
  });

  it('selector: a probe that says EPERM makes the project use the next method, and forcing it fails with that reason', async () => {
    const project = fixture({
      core: { link: 'core' },
      'io-uring': { source: fakeSource('io_uring', EPERM_PROBE) },
      'posix-aio': { source: fakeSource('posix_aio', `{ available: true, reason: 'fake posix aio works' }`) },
    });
    const script = project.script('select.mjs', selectScript('@aio/auto'));
    const [auto, forced] = await Promise.all([
      runNode([script], { cwd: project.dir }),
      runNode([script], { cwd: project.dir, env: { AIO_METHOD: 'io_uring' } }),
    ]);
    const output = parseJson<SelectOutput>(auto);
    expect(output.chosen).toBe('posix_aio');
    expect(output.skipped![0]).toMatchObject({ name: 'io_uring', reason: 'EPERM: blocked by seccomp' });
    const failure = parseJson<SelectOutput>(forced).error!;
    expect(failure.code).toBe('AIO_ERR_METHOD_UNAVAILABLE');
    expect(failure.name).toBe('AioUsageError');
    expect(failure.message).toContain('but it cannot be used here: EPERM: blocked by seccomp');
  });

  it('selector: aio doctor in a project shows every method with its state and the chosen one', async () => {
    const project = fixture({ core: { link: 'core' }, 'io-uring': { source: fakeSource('io_uring', EPERM_PROBE) } });
    const [json, table] = await Promise.all([
      runNode([project.cli, 'doctor', '--json'], { cwd: project.dir }),
      runNode([project.cli, 'doctor'], { cwd: project.dir }),
    ]);
    const report = parseJson<DoctorOutput>(json);
    expect(report.chosen).toBe('libuv');
    expect(report.methods.map((method) => method.name)).toEqual(['io_uring', 'iocp', 'kqueue', 'posix_aio', 'threadpool', 'libuv', 'sync']);
    expect(report.methods[0]).toMatchObject({ name: 'io_uring', installed: true, available: false, reason: 'EPERM: blocked by seccomp' });
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/^ {2}io_uring +yes 0\.0\.0-fixture +no +EPERM: blocked by seccomp$/m);
    expect(table.stdout).toMatch(/^> libuv +yes .* +yes +always available: node:fs callbacks on libuv's thread pool/m);
    expect(table.stdout).toMatch(/^ {2}sync +yes .* +yes +always available/m);
    expect(table.stdout).toContain('chosen: libuv');
    expect(table.stdout).toMatch(/to use a better method:\n {2}io_uring: a seccomp filter/);
  });
});

describe('selector: probe cache per thread', () => {
  it('selector: probes run once per thread: once in the main thread and once in each worker_thread', async () => {
    const project = fixture({ core: { link: 'core' }, 'io-uring': { source: fakeSource('io_uring', EPERM_PROBE) } });
    const script = project.script(
      'threads.mjs',
      `
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
const { listMethods, chooseMethod, createAio } = await import('@aio/auto');
await listMethods();
await chooseMethod();
const aio = await createAio();
await aio.close();
await listMethods();
const mine = globalThis.__aioFakeProbes;
if (isMainThread) {
  const counts = await Promise.all([0, 1].map(() => new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url));
    worker.once('message', resolve);
    worker.once('error', reject);
  })));
  console.log(JSON.stringify({ main: mine, workers: counts }));
} else {
  parentPort.postMessage(mine);
}
`,
    );
    const result = await runNode([script], { cwd: project.dir });
    expect(parseJson<{ main: number; workers: number[] }>(result)).toEqual({ main: 1, workers: [1, 1] });
  });
});

describe('selector in this workspace', () => {
  it('selector: the workspace build lists every method with its state and chooses an available one', async () => {
    const result = await runNode([`${AUTO_DIR}/dist/cli.js`, 'doctor', '--json'], { cwd: AUTO_DIR });
    const report = parseJson<DoctorOutput>(result);
    expect(result.status).toBe(0);
    expect(report.methods.map((method) => method.name)).toEqual(['io_uring', 'iocp', 'kqueue', 'posix_aio', 'threadpool', 'libuv', 'sync']);
    const chosen = report.methods.find((method) => method.chosen)!;
    expect(chosen.name).toBe(report.chosen);
    expect(chosen.available).toBe(true);
    // Every method before the chosen one is unavailable, each with a reason.
    for (const method of report.methods.slice(0, report.methods.indexOf(chosen))) {
      expect(method.available).toBe(false);
      expect(method.reason).not.toBe('');
    }
  });
});
