import { SequentialOffsets } from '../offsets.js';
import { fioRuntime, type WorkloadDefinition } from './workload.js';

/**
 * One sequential pass over the file in --bs chunks (a table scan), stopped
 * early if --seconds run out first.  One pass only, because a second pass
 * would find the first one's pages in the cache and turn a cold run hot.
 */
export const seqread: WorkloadDefinition = {
  name: 'seqread',
  summary: 'one sequential pass over the file in --bs chunks, --qd in flight',
  defaults: { bs: 128 * 1024, qd: 8 },
  op: 'read',
  dsync: false,
  syncAtEnd: false,
  createOffsets: (config) => new SequentialOffsets(config.size, config.bs, false),
  // Not time based: fio stops at the end of --size, and --runtime caps it like --seconds caps the others.
  fioArgs: (config) => ['--rw=read', fioRuntime(config.seconds)],
};
