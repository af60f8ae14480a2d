/**
 * AIO_METHOD in a real process: forcing a method that cannot work here, or
 * a name that is no method, fails createAio() with a clear error, and
 * `aio doctor` shows it and exits with 1.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AUTO_CLI, AUTO_DIR, AUTO_DIST, parseJson, requireBuilt, runNode, selectScript, type DoctorOutput, type SelectOutput } from './helpers.js';

let scriptDir = '';
let script = '';

beforeAll(() => {
  requireBuilt();
  scriptDir = mkdtempSync(join(tmpdir(), 'aio-auto-forced-'));
  script = join(scriptDir, 'select.mjs');
  // The workspace build, with the backends the workspace links into packages/auto/node_modules.
  writeFileSync(script, selectScript(pathToFileURL(AUTO_DIST).href));
  return () => rmSync(scriptDir, { recursive: true, force: true });
});

describe('selector: forcing a method with AIO_METHOD', () => {
  it.runIf(process.platform === 'linux')('selector: AIO_METHOD=kqueue on Linux fails with "wrong platform" and says what to do', async () => {
    const result = await runNode([script], { cwd: AUTO_DIR, env: { AIO_METHOD: 'kqueue' } });
    const { error } = parseJson<SelectOutput>(result);
    expect(error).toMatchObject({ name: 'AioUsageError', code: 'AIO_ERR_METHOD_UNAVAILABLE' });
    expect(error!.message).toMatch(/^AIO_METHOD=kqueue asks for the kqueue method, but it cannot be used here: wrong platform/);
    expect(error!.message).toMatch(/unset AIO_METHOD to let @aio\/auto choose \(it would choose \w+\); methods available here: .*sync/);
  });

  it('selector: AIO_METHOD=bogus fails with an error listing the valid names', async () => {
    const result = await runNode([script], { cwd: AUTO_DIR, env: { AIO_METHOD: 'bogus' } });
    const { error } = parseJson<SelectOutput>(result);
    expect(error).toMatchObject({ name: 'AioUsageError', code: 'AIO_ERR_INVALID_OPTION' });
    expect(error!.message).toContain('AIO_METHOD=bogus is not an IO method; the methods are io_uring, iocp, kqueue, posix_aio, threadpool, libuv, sync');
  });

  it('selector: AIO_METHOD=libuv forces the pure-JavaScript libuv method, and a read through it works', async () => {
    const output = parseJson<SelectOutput>(await runNode([script], { cwd: AUTO_DIR, env: { AIO_METHOD: 'libuv' } }));
    expect(output.chosen).toBe('libuv');
    expect(output.readOk).toBe(true);
  });

  it('selector: AIO_METHOD=sync forces the sync method even where better ones work', async () => {
    const output = parseJson<SelectOutput>(await runNode([script], { cwd: AUTO_DIR, env: { AIO_METHOD: 'sync' } }));
    expect(output.chosen).toBe('sync');
    expect(output.readOk).toBe(true);
  });

  it.runIf(process.platform === 'linux')('selector: aio doctor with an unusable AIO_METHOD reports no chosen method, marks the forced one and exits with 1', async () => {
    const [json, table] = await Promise.all([
      runNode([AUTO_CLI, 'doctor', '--json'], { cwd: AUTO_DIR, env: { AIO_METHOD: 'kqueue' } }),
      runNode([AUTO_CLI, 'doctor'], { cwd: AUTO_DIR, env: { AIO_METHOD: 'kqueue' } }),
    ]);
    const report = parseJson<DoctorOutput>(json);
    expect(json.status).toBe(1);
    expect(report.chosen).toBeNull();
    expect(report.methods.find((method) => method.name === 'kqueue')).toMatchObject({ forced: true, available: false });
    expect(json.stderr).toContain('AIO_ERR_METHOD_UNAVAILABLE');
    expect(table.status).toBe(1);
    expect(table.stdout).toMatch(/chosen: none: AIO_METHOD=kqueue asks for the kqueue method, but it cannot be used here: wrong platform/);
  });
});

describe('aio: the command line', () => {
  it('aio: doctor --json prints chosen, methods with name, installed, available and reason, and platform', async () => {
    const result = await runNode([AUTO_CLI, 'doctor', '--json'], { cwd: AUTO_DIR });
    const report = parseJson<DoctorOutput>(result);
    expect(Object.keys(report)).toEqual(['chosen', 'methods', 'platform']);
    for (const method of report.methods) {
      expect(Object.keys(method).slice(0, 4)).toEqual(['name', 'installed', 'available', 'reason']);
      expect(typeof method.installed).toBe('boolean');
      expect(typeof method.available).toBe('boolean');
      expect(typeof method.reason).toBe('string');
    }
    expect(report.platform).toMatchObject({ os: process.platform, arch: process.arch, node: process.version });
    if (process.platform === 'linux') expect(report.platform).toHaveProperty('ioUringDisabled');
  });

  it('aio: an unknown command or option exits with 2 and prints the usage', async () => {
    const [command, option, help] = await Promise.all([
      runNode([AUTO_CLI, 'cure'], { cwd: AUTO_DIR }),
      runNode([AUTO_CLI, 'doctor', '--yaml'], { cwd: AUTO_DIR }),
      runNode([AUTO_CLI, '--help'], { cwd: AUTO_DIR }),
    ]);
    expect(command.status).toBe(2);
    expect(command.stderr).toContain('aio: unknown command "cure"');
    expect(option.status).toBe(2);
    expect(option.stderr).toContain('aio: unknown option --yaml');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: aio doctor \[--json\]/);
  });
});
