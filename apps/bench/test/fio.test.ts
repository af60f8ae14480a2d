import { describe, expect, it } from 'vitest';
import { parseOptions, resolveCase } from '../src/options.js';
import { buildFioArgs, parseFioJson } from '../src/runners/fio.js';
import { WORKLOADS, type WorkloadName } from '../src/workloads/index.js';

function caseFor(workload: WorkloadName, argv: string[] = []) {
  return resolveCase(parseOptions([workload, ...argv]), workload, { path: '/data/a:b.dat', size: 1024 ** 3 });
}

describe('buildFioArgs', () => {
  it('runs the same block size, depth, direct flag and size as the other methods', () => {
    const config = caseFor('randread', ['--bs', '4k', '--qd', '32', '--direct', '--seconds', '3', '--seed', '7']);
    const args = buildFioArgs(config, WORKLOADS.randread, 'io_uring');
    expect(args).toEqual(
      expect.arrayContaining([
        '--filename=/data/a\\:b.dat',
        `--size=${1024 ** 3}`,
        '--bs=4096',
        '--ioengine=io_uring',
        '--iodepth=32',
        '--direct=1',
        '--numjobs=1',
        '--rw=randread',
        '--time_based=1',
        '--runtime=3000ms',
        '--randseed=7',
        '--norandommap=1',
        '--lat_percentiles=1',
        '--output-format=json',
      ]),
    );
  });

  it('keeps a hot cache with --invalidate=0 and lets fio drop a cold one', () => {
    expect(buildFioArgs(caseFor('randread'), WORKLOADS.randread, 'psync')).toContain('--invalidate=0');
    expect(buildFioArgs(caseFor('randread', ['--cache', 'cold']), WORKLOADS.randread, 'psync')).toContain('--invalidate=1');
  });

  it('runs psync at depth 1, and --fio-jobs jobs for both engines', () => {
    const config = caseFor('randread', ['--qd', '32', '--fio-jobs', '4']);
    expect(buildFioArgs(config, WORKLOADS.randread, 'psync')).toEqual(expect.arrayContaining(['--iodepth=1', '--numjobs=4']));
    expect(buildFioArgs(config, WORKLOADS.randread, 'io_uring')).toEqual(expect.arrayContaining(['--iodepth=32', '--numjobs=4']));
  });

  it('describes each workload the way fio spells it', () => {
    const seq = buildFioArgs(caseFor('seqread'), WORKLOADS.seqread, 'io_uring');
    expect(seq).toEqual(expect.arrayContaining(['--rw=read', '--bs=131072', '--iodepth=8']));
    expect(seq.some((arg) => arg.startsWith('--time_based'))).toBe(false);
    expect(buildFioArgs(caseFor('writeback'), WORKLOADS.writeback, 'io_uring')).toEqual(
      expect.arrayContaining(['--rw=randwrite', '--end_fsync=1', '--bs=8192', '--time_based=1']),
    );
    expect(buildFioArgs(caseFor('wal'), WORKLOADS.wal, 'psync')).toEqual(
      expect.arrayContaining(['--rw=write', '--sync=dsync', '--bs=8192', '--time_based=1']),
    );
  });
});

describe('parseFioJson', () => {
  const report = {
    'fio version': 'fio-3.33',
    jobs: [
      {
        jobname: 'aio-bench-randread',
        error: 0,
        read: {
          io_bytes: 4096 * 3000,
          total_ios: 3000,
          runtime: 1500,
          lat_ns: { percentile: { '50.000000': 37_632, '99.000000': 96_768 } },
        },
        write: { io_bytes: 0, total_ios: 0, runtime: 0 },
      },
    ],
  };

  it('reads the totals, fio run time and latency percentiles, after any warning fio printed first', () => {
    const text = `fio: some warning\n${JSON.stringify(report, null, 2)}`;
    expect(parseFioJson(text, 'read')).toEqual({
      ops: 3000,
      bytes: 4096 * 3000,
      elapsedSeconds: 1.5,
      p50Us: 37.632,
      p99Us: 96.768,
    });
  });

  it('fails clearly on a report without the direction, an error, or no JSON at all', () => {
    expect(() => parseFioJson(JSON.stringify(report), 'write')).toThrow(/no write time/);
    const failed = { jobs: [{ ...report.jobs[0], error: 5 }] };
    expect(() => parseFioJson(JSON.stringify(failed), 'read')).toThrow(/fio reported error 5/);
    expect(() => parseFioJson('fio: engine io_uring not loadable', 'read')).toThrow(/no JSON report/);
  });
});
