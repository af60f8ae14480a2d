/**
 * A really blocked io_uring: `kernel.io_uring_disabled=2` (Linux 6.6+) makes
 * io_uring_setup fail with EPERM for every process.  The sysctl is changed
 * only around three child processes and restored in a `finally`, under a
 * lock file in /tmp shared by every test that toggles it (vitest runs this
 * project's files one at a time; the lock also keeps other projects and
 * other runs out).  Needs root and the sysctl; skipped with the reason
 * otherwise.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { AUTO_CLI, AUTO_DIR, AUTO_DIST, parseJson, requireBuilt, runNode, selectScript, type DoctorOutput, type SelectOutput } from './helpers.js';
import { lockSysctl } from './sysctl-lock.js';

const SYSCTL = '/proc/sys/kernel/io_uring_disabled';
/** Shared with every test in this repository that changes kernel.io_uring_disabled. */
const LOCK = '/tmp/aio-io_uring_disabled.lock';
const EPERM_REASON = /^EPERM: io_uring disabled by kernel\.io_uring_disabled=2/;

let script = '';

beforeAll(() => {
  requireBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'aio-auto-disabled-'));
  script = join(dir, 'select.mjs');
  writeFileSync(script, selectScript(pathToFileURL(AUTO_DIST).href));
  return () => rmSync(dir, { recursive: true, force: true });
});

/** Why this machine cannot run the test, or null. */
function cannotToggle(): string | null {
  if (process.platform !== 'linux') return 'kernel.io_uring_disabled is a Linux sysctl';
  if (!existsSync(SYSCTL)) return `${SYSCTL} does not exist (kernel before 6.6)`;
  if (process.geteuid?.() !== 0) return 'changing kernel.io_uring_disabled needs root';
  return null;
}

describe('selector: io_uring disabled by the kernel', () => {
  it('selector: with kernel.io_uring_disabled=2 createAio() picks the next method, aio doctor shows the EPERM reason and AIO_METHOD=io_uring fails with it', async (context) => {
    const why = cannotToggle();
    if (why !== null) context.skip(why);
    const lock = await lockSysctl(SYSCTL, LOCK);
    let before: SelectOutput;
    let during: Awaited<ReturnType<typeof runNode>>[];
    try {
      if (lock.original !== '0') context.skip(`kernel.io_uring_disabled is already ${lock.original} here; the test needs io_uring enabled to start from`);
      before = parseJson<SelectOutput>(await runNode([script], { cwd: AUTO_DIR }));
      const uring = before.methods?.find((method) => method.name === 'io_uring');
      if (uring?.available !== true) context.skip(`@aio/io-uring is not usable even with io_uring enabled: ${uring?.reason ?? JSON.stringify(before)}`);
      writeFileSync(SYSCTL, '2');
      try {
        during = await Promise.all([
          runNode([script], { cwd: AUTO_DIR }),
          runNode([AUTO_CLI, 'doctor', '--json'], { cwd: AUTO_DIR }),
          runNode([script], { cwd: AUTO_DIR, env: { AIO_METHOD: 'io_uring' } }),
        ]);
      } finally {
        writeFileSync(SYSCTL, lock.original);
      }
    } finally {
      lock.release();
    }
    expect(readFileSync(SYSCTL, 'utf8').trim()).toBe(lock.original);
    expect(before.chosen).toBe('io_uring');

    const [auto, doctor, forced] = during;
    const chosen = parseJson<SelectOutput>(auto);
    const expectedNext = chosen.methods!.find((method) => method.name !== 'io_uring' && method.available)!.name;
    expect(chosen.chosen).toBe(expectedNext);
    expect(chosen.readOk).toBe(true);
    expect(chosen.skipped![0].name).toBe('io_uring');
    expect(chosen.skipped![0].reason).toMatch(EPERM_REASON);

    const report = parseJson<DoctorOutput>(doctor);
    expect(doctor.status).toBe(0);
    expect(report.chosen).toBe(expectedNext);
    expect(report.methods[0]).toMatchObject({ name: 'io_uring', installed: true, available: false });
    expect(report.methods[0].reason).toMatch(EPERM_REASON);
    expect(report.platform.ioUringDisabled).toBe(2);

    const { error } = parseJson<SelectOutput>(forced);
    expect(forced.status).toBe(3);
    expect(error).toMatchObject({ name: 'AioUsageError', code: 'AIO_ERR_METHOD_UNAVAILABLE' });
    expect(error!.message).toMatch(/AIO_METHOD=io_uring asks for the io_uring method, but it cannot be used here: EPERM: io_uring disabled by kernel\.io_uring_disabled=2/);
    expect(error!.message).toContain('sysctl -w kernel.io_uring_disabled=0');
  });
});
