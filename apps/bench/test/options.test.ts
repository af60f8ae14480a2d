import { describe, expect, it } from 'vitest';
import { OptionError, parseByteSize, parseOptions, resolveCase } from '../src/options.js';

const FILE = { path: '/data/bench.dat', size: 1024 ** 3 };

describe('parseOptions', () => {
  it('rejects a batch outside 1-32', () => {
    expect(() => parseOptions(['randread', '--batch', '0'])).toThrow(/--batch/);
    expect(() => parseOptions(['randread', '--batch', '33'])).toThrow(/--batch/);
  });

  it('reads a workload with every option set', () => {
    const options = parseOptions([
      'randread',
      '--method', 'node-fs-promises,fio-psync',
      '--api', 'promise',
      '--bs', '8k',
      '--qd', '16',
      '--direct',
      '--cache', 'cold',
      '--size', '2GiB',
      '--seconds', '2.5',
      '--warmup', '0',
      '--runs', '3',
      '--file', 'some.dat',
      '--json',
      '--chart', 'out.svg',
      '--seed', '99',
      '--fio-jobs', '4',
      '--batch', '16',
    ]);
    expect(options).toEqual({
      command: 'run',
      workload: 'randread',
      methods: ['node-fs-promises', 'fio-psync'],
      api: 'promise',
      bs: 8192,
      qd: 16,
      direct: true,
      cache: 'cold',
      size: 2 * 1024 ** 3,
      seconds: 2.5,
      warmup: 0,
      runs: 3,
      file: 'some.dat',
      json: true,
      chart: 'out.svg',
      seed: 99,
      fioJobs: 4,
      batch: 16,
      zram: false,
    });
  });

  it('leaves the methods to the command and uses the documented defaults', () => {
    const options = parseOptions(['seqread']);
    expect(options).toMatchObject({ command: 'run', workload: 'seqread', api: 'handle', direct: false, cache: 'hot' });
    expect(options).toMatchObject({ seconds: 5, runs: 3, seed: 1, fioJobs: 1, batch: 8, json: false, zram: false });
    expect(options.methods).toBeUndefined();
    expect(options.bs).toBeUndefined();
  });

  it('accepts --api wal, which drives the aio methods through the WAL writer', () => {
    expect(parseOptions(['wal', '--api', 'wal']).api).toBe('wal');
  });

  it('accepts --api fs, which drives the aio methods through @aio/fs FileHandles', () => {
    expect(parseOptions(['randread', '--api', 'fs', '--qd', '32', '--bs', '4096']).api).toBe('fs');
    expect(resolveCase(parseOptions(['randread', '--api', 'fs']), 'randread', FILE).api).toBe('fs');
    expect(() => parseOptions(['suite', '--api', 'fs'])).toThrow(/the suite chooses its own --api/);
  });

  it('accepts --zram for a workload and the suite, but not together with --file', () => {
    expect(parseOptions(['seqread', '--zram']).zram).toBe(true);
    expect(parseOptions(['suite', '--zram']).zram).toBe(true);
    expect(() => parseOptions(['seqread', '--zram', '--file', 'x.dat'])).toThrow(/--zram .* cannot be combined with --file/);
  });

  it('accepts --method all and the auto alias', () => {
    expect(parseOptions(['wal', '--method', 'all']).methods).toBe('all');
    expect(parseOptions(['wal', '--method', 'auto, io_uring,auto']).methods).toEqual(['auto', 'io_uring']);
  });

  it('gives the suite one-second runs and refuses options that describe a single case', () => {
    expect(parseOptions(['suite'])).toMatchObject({ command: 'suite', seconds: 1 });
    expect(() => parseOptions(['suite', '--bs', '4k', '--direct'])).toThrow(/the suite chooses its own --bs, --direct/);
  });

  it('returns help for -h and --help even without a workload', () => {
    expect(parseOptions(['-h']).command).toBe('help');
    expect(parseOptions(['--help']).command).toBe('help');
  });

  it.each([
    [[], /missing workload/],
    [['randwrite'], /unknown workload 'randwrite'/],
    [['randread', 'wal'], /expected one workload, got 2/],
    [['randread', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['randread', '--method', 'node-fs-turbo'], /unknown method 'node-fs-turbo'/],
    [['randread', '--method', 'all,sync'], /cannot be combined/],
    [['randread', '--method', 'sync,,fio-psync'], /empty name/],
    [['randread', '--api', 'callback'], /--api must be handle, promise, fs or wal, got 'callback'/],
    [['randread', '--cache', 'warm'], /--cache must be hot or cold/],
    [['randread', '--qd', '0'], /--qd must be an integer from 1 to 1024, got '0'/],
    [['randread', '--qd', '2000'], /--qd must be an integer/],
    [['randread', '--qd', '3.5'], /--qd must be an integer/],
    [['randread', '--qd=-4'], /--qd must be an integer/],
    [['randread', '--runs', 'many'], /--runs must be an integer/],
    [['randread', '--seconds', '0'], /--seconds must be a number of seconds greater than 0/],
    [['randread', '--seconds', 'soon'], /--seconds must be a number of seconds/],
    [['randread', '--warmup=-1'], /--warmup must be a number of seconds from 0 to 3600/],
    [['randread', '--bs', '4q'], /--bs must be a whole number of bytes/],
    [['randread', '--bs', '1000'], /--bs must be a multiple of 512/],
    [['randread', '--bs', '512', '--direct'], /--direct needs --bs to be a multiple of 4096 bytes, got 512/],
    [['randread', '--size', '1000k'], /--size must be at least 1 MiB and a multiple of 4096/],
    [['seqread', '--size', '1m', '--bs', '2m'], /--size \(1048576\) must hold at least one block/],
    [['randread', '--seed', '0x10'], /--seed must be an integer/],
    [['randread', '--fio-jobs', '0'], /--fio-jobs must be an integer from 1 to 64/],
    [['randread', '--json=yes'], /does not take an argument/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(OptionError);
    expect(() => parseOptions(argv)).toThrow(message);
  });
});

describe('parseByteSize', () => {
  it.each([
    ['4096', 4096],
    ['4k', 4096],
    ['4K', 4096],
    ['8KiB', 8192],
    ['128kb', 131072],
    ['1.5k', 1536],
    ['1m', 1048576],
    ['1g', 1073741824],
    ['1GiB', 1073741824],
  ])('reads %s as %d bytes (binary units)', (text, bytes) => {
    expect(parseByteSize('bs', text)).toBe(bytes);
  });

  it.each(['', '0', 'k', '-4k', '4 kilobytes', '0.1k'])('rejects %j', (text) => {
    expect(() => parseByteSize('bs', text)).toThrow(OptionError);
  });
});

describe('resolveCase', () => {
  it("takes each workload's own block size and depth unless the command line sets them", () => {
    const base = parseOptions(['randread']);
    expect(resolveCase(base, 'randread', FILE)).toMatchObject({ bs: 4096, qd: 32 });
    expect(resolveCase(base, 'seqread', FILE)).toMatchObject({ bs: 131072, qd: 8 });
    expect(resolveCase(base, 'writeback', FILE)).toMatchObject({ bs: 8192, qd: 32 });
    expect(resolveCase(base, 'wal', FILE)).toMatchObject({ bs: 8192, qd: 4 });
    const set = parseOptions(['wal', '--bs', '16k', '--qd', '2']);
    expect(resolveCase(set, 'wal', FILE)).toMatchObject({ bs: 16384, qd: 2 });
  });

  it('lets a suite entry override the command line, and fills in the file and warm-up', () => {
    const options = parseOptions(['randread', '--seconds', '10']);
    const config = resolveCase(options, 'randread', FILE, { direct: true, cache: 'cold', qd: 1 });
    expect(config).toMatchObject({ file: FILE.path, size: FILE.size, direct: true, cache: 'cold', qd: 1, storage: 'disk' });
    expect(config.warmupSeconds, 'without --warmup: until the throughput settled').toBeNull();
    expect(resolveCase(parseOptions(['randread', '--warmup', '0.5']), 'randread', FILE).warmupSeconds).toBe(0.5);
  });

  it('uses only whole blocks of the file', () => {
    const config = resolveCase(parseOptions(['seqread', '--bs', '1m']), 'seqread', { path: '/f', size: 5 * 1024 ** 2 + 4096 });
    expect(config.size).toBe(5 * 1024 ** 2);
  });
});
