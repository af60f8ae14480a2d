import { randread } from './randread.js';
import { seqread } from './seqread.js';
import { wal } from './wal.js';
import { writeback } from './writeback.js';
import type { WorkloadDefinition, WorkloadName } from './workload.js';

export type { AioApi, CacheState, CaseConfig, WorkloadDefinition, WorkloadName } from './workload.js';

export const WORKLOADS: Readonly<Record<WorkloadName, WorkloadDefinition>> = { randread, seqread, writeback, wal };

export const WORKLOAD_NAMES = Object.keys(WORKLOADS) as WorkloadName[];

export function isWorkloadName(name: string): name is WorkloadName {
  return Object.hasOwn(WORKLOADS, name);
}
