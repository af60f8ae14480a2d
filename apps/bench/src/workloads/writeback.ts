import { RandomOffsets } from '../offsets.js';
import { fioRuntime, type WorkloadDefinition } from './workload.js';

/**
 * A checkpoint: dirty pages of --bs written at random offsets with a window of
 * --qd in flight for --seconds, then one fsync.  The fsync is part of the
 * elapsed time, because a checkpoint is not done until its pages are durable.
 */
export const writeback: WorkloadDefinition = {
  name: 'writeback',
  summary: 'random writes of --bs with --qd in flight, then one fsync (counted in the time)',
  defaults: { bs: 8192, qd: 32 },
  op: 'write',
  dsync: false,
  syncAtEnd: true,
  createOffsets: (config, seed) => new RandomOffsets(config.size, config.bs, seed),
  fioArgs: (config) => [
    '--rw=randwrite',
    '--time_based=1',
    fioRuntime(config.seconds),
    `--randseed=${config.seed}`,
    '--norandommap=1',
    // fio 3.33 counts the end fsync in the job's runtime (measured: a 1500 ms run reports ~1650 ms).
    '--end_fsync=1',
  ],
};
