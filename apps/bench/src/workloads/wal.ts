import { SequentialOffsets } from '../offsets.js';
import { fioRuntime, type WorkloadDefinition } from './workload.js';

/**
 * Write-ahead log appends: sequential --bs writes on an O_DSYNC file with --qd
 * in flight, so each write is durable when it completes.  The writes go over
 * the existing, fully allocated file from offset 0 and wrap around, like
 * PostgreSQL writing into a recycled, pre-filled WAL segment; appends that grow
 * the file would add a journal commit per write and measure the file system's
 * metadata path instead of the IO path.  fio does the same: it writes over the
 * file it was given.
 */
export const wal: WorkloadDefinition = {
  name: 'wal',
  summary: 'sequential O_DSYNC writes of --bs (a log), --qd in flight',
  defaults: { bs: 8192, qd: 4 },
  op: 'write',
  dsync: true,
  syncAtEnd: false,
  createOffsets: (config) => new SequentialOffsets(config.size, config.bs, true),
  fioArgs: (config) => ['--rw=write', '--sync=dsync', '--time_based=1', fioRuntime(config.seconds)],
};
