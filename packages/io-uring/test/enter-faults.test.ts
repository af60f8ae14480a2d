/**
 * io_uring_enter failures and teardown: the submission ring never holds an
 * entry the context has written off, so no IO reaches the kernel twice (a
 * failed batch run synchronously and then sent again) or after teardown
 * (an IO dropped as canceled and then sent with the teardown's cancel
 * request).  The addon's test hook (AIO_IO_URING_TEST_HOOKS=1) makes chosen
 * io_uring_enter calls fail the way the kernel makes them fail, with the SQ
 * tail already published.  Every scenario writes records to a pipe, where a
 * write that reaches the kernel twice shows as a duplicated record; it runs
 * in a child process (test/fixtures/enter-faults.mjs), in a worker thread
 * when the teardown is the environment's.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageDir, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface ScenarioReport {
  dispositions: number[];
  completions: [number, number, number][];
  stats: Record<string, number>;
  /** What the reads had delivered into the shared memory when the scenario ended. */
  text: string;
  /** The shared memory after teardown: zero unless the kernel ran a read it must not have. */
  after: string;
  /** The records appended to the sink file. */
  records: string[];
}

const EFAULT = 14;
const ECANCELED = 125;
const READS = [1, 2, 3, 4];
const WRITES = [5, 6, 7, 8];
const line = (k: number, word: string) => `${word} ${k}`.padEnd(15) + '\n';
const SOURCE = READS.map((k) => line(k, 'source')).join('');
const ZEROED = '\0'.repeat(SOURCE.length);

function runScenario(scenario: string): ScenarioReport {
  execFileSync('mkfifo', [path.join(dir, `${scenario}.fifo`)]);
  const result = spawnSync(process.execPath, [path.join(packageDir, 'test', 'fixtures', 'enter-faults.mjs'), scenario, dir], {
    cwd: packageDir,
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, AIO_IO_URING_TEST_HOOKS: '1' },
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as ScenarioReport;
}

/** Each of these IOs was delivered exactly once, in full (reads 16 bytes, writes their 9-byte record). */
function expectDeliveredOnce(report: ScenarioReport, indexes: number[]): void {
  const delivered = report.completions.filter(([index]) => index !== 0).sort((a, b) => a[0] - b[0]);
  expect(delivered).toEqual(indexes.map((index) => [index, 1, READS.includes(index) ? 16 : `record ${index}\n`.length]));
}

/** The sink holds each write's record exactly once. */
function expectRecordsOnce(report: ScenarioReport, indexes: number[]): void {
  expect([...report.records].sort()).toEqual(indexes.map((index) => `record ${index}`).sort());
}

describe.skipIf(skip !== undefined)('io_uring_enter failures and teardown', () => {
  /* After the ring broke: every IO ran once (synchronously), and teardown sent none of them to the kernel again. */
  function expectRanOnceThenNeverAgain(report: ScenarioReport): void {
    expect(report.dispositions).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(report.stats.brokenErrno).toBe(EFAULT);
    expect(report.stats.sqQueued).toBe(0);
    expectDeliveredOnce(report, [...READS, ...WRITES]);
    expect(report.text).toBe(SOURCE);
    expect(report.after).toBe(ZEROED);
    expectRecordsOnce(report, WRITES);
  }

  it('io_uring: a batch whose io_uring_enter fails for good runs once, and teardown does not send it to the kernel again', () => {
    expectRanOnceThenNeverAgain(runScenario('broken-batch'));
  });

  it('io_uring: single IOs whose submit-and-wait fails for good run once, and teardown does not send them to the kernel again', () => {
    expectRanOnceThenNeverAgain(runScenario('broken-wait'));
  });

  it('io_uring: IOs the kernel still refuses when the environment tears down are dropped and never reach it', () => {
    const report = runScenario('teardown-refused');
    expect(report.dispositions).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(report.completions).toEqual([]);
    expect(report.after).toBe(ZEROED);
    expect(report.records).toEqual([]);
  });

  it('io_uring: ENOMEM, EAGAIN and EBUSY from io_uring_enter, and a partial take, are retried and every IO runs once', () => {
    const report = runScenario('transient');
    expect(report.dispositions).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(report.stats.brokenErrno).toBe(0);
    expect(report.stats.submitRetries).toBeGreaterThanOrEqual(5);
    expect(report.stats.strayCqes).toBe(0);
    expect(report.stats.sqQueued).toBe(0);
    expectDeliveredOnce(report, [...READS, ...WRITES, 9, 10]);
    expect(report.completions.some(([, , result]) => result === -ECANCELED)).toBe(false);
    expect(report.text).toBe(SOURCE);
    expectRecordsOnce(report, [...WRITES, 9, 10]);
  });
});
