import { RandomOffsets } from '../offsets.js';
import { fioRuntime, type WorkloadDefinition } from './workload.js';

/** Random block-aligned reads over the whole file, timed by --seconds: the buffer-pool miss path of a database. */
export const randread: WorkloadDefinition = {
  name: 'randread',
  summary: 'random reads of --bs at block-aligned offsets, --qd in flight',
  defaults: { bs: 4096, qd: 32 },
  op: 'read',
  dsync: false,
  syncAtEnd: false,
  createOffsets: (config, seed) => new RandomOffsets(config.size, config.bs, seed),
  fioArgs: (config) => [
    '--rw=randread',
    '--time_based=1',
    fioRuntime(config.seconds),
    `--randseed=${config.seed}`,
    // Uniform with replacement, as the node and aio runners draw offsets.
    '--norandommap=1',
  ],
};
