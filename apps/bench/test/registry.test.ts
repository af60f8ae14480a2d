import { describe, expect, it } from 'vitest';
import type { AioDiscovery } from '../src/runners/aio.js';
import { planMethods } from '../src/runners/registry.js';
import type { PlannedMethod } from '../src/runners/runner.js';

const NO_CORE: AioDiscovery = { core: null, unavailableReason: '@aio/core not built (missing)', methods: [], chosen: null };

class FakeClass {}
const FAKE_CORE = { Aio: FakeClass, AioReturn: FakeClass, AioWaitRef: FakeClass, syncMethod: () => ({}) } as unknown as AioDiscovery['core'];

const WITH_METHODS: AioDiscovery = {
  core: FAKE_CORE,
  unavailableReason: '',
  methods: [
    { name: 'io_uring', installed: true, available: true, reason: '', factory: {} },
    { name: 'posix_aio', installed: false, available: false, reason: 'not installed' },
    { name: 'threadpool', installed: true, available: false, reason: 'EPERM: blocked' },
    { name: 'sync', installed: true, available: true, reason: '', factory: {} },
  ],
  chosen: { name: 'io_uring', factory: {} },
};

function describePlan(plan: PlannedMethod[]): string[] {
  return plan.map((entry) =>
    'runner' in entry ? `${entry.runner.method}/${entry.runner.api}` : `${entry.skipped.method}: ${entry.skipped.reason}`,
  );
}

describe('planMethods', () => {
  it('with all, lists every aio method (unavailable ones with their reason) and then every baseline', () => {
    expect(describePlan(planMethods('all', 'handle', WITH_METHODS))).toEqual([
      'io_uring/handle',
      'posix_aio: not installed',
      'threadpool: EPERM: blocked',
      'sync/handle',
      'node-fs-promises/baseline',
      'node-fs-callback/baseline',
      'node-fs-sync/baseline',
      'fio-io_uring/baseline',
      'fio-psync/baseline',
    ]);
  });

  it('without @aio/core, says so once and still runs every baseline', () => {
    const plan = describePlan(planMethods('all', 'promise', NO_CORE));
    expect(plan[0]).toBe('auto: @aio/core not built (missing)');
    expect(plan.slice(1)).toHaveLength(5);
    expect(describePlan(planMethods(['sync', 'node-fs-sync'], 'handle', NO_CORE))).toEqual([
      'sync: @aio/core not built (missing)',
      'node-fs-sync/baseline',
    ]);
  });

  it('resolves auto to the chosen method under its real name, once, in the order given', () => {
    expect(describePlan(planMethods(['fio-psync', 'auto', 'io_uring'], 'promise', WITH_METHODS))).toEqual([
      'fio-psync/baseline',
      'io_uring/promise',
    ]);
  });

  it('with --api fs, runs the aio methods through @aio/fs when it is built, and says why not when it is not', () => {
    const fsModule = { open: async () => ({}) } as unknown as AioDiscovery['fs'];
    expect(describePlan(planMethods(['io_uring', 'auto', 'node-fs-promises'], 'fs', { ...WITH_METHODS, fs: fsModule }))).toEqual([
      'io_uring/fs',
      'node-fs-promises/baseline',
    ]);
    const withoutFs = { ...WITH_METHODS, fs: null, fsUnavailableReason: '@aio/fs not built (Cannot find package)' };
    expect(describePlan(planMethods(['sync', 'node-fs-promises'], 'fs', withoutFs))).toEqual([
      'sync: @aio/fs not built (Cannot find package)',
      'node-fs-promises/baseline',
    ]);
  });

  it('skips a named method that is not installed here', () => {
    expect(describePlan(planMethods(['iocp'], 'handle', WITH_METHODS))).toEqual(['iocp: not installed']);
  });

  it('reports the depth each baseline really keeps in flight', () => {
    const config = { qd: 32, fioJobs: 2 } as Parameters<import('../src/runners/runner.js').MethodRunner['effectiveQd']>[0];
    const depths = planMethods('all', 'handle', NO_CORE).flatMap((entry) =>
      'runner' in entry ? [`${entry.runner.method}=${entry.runner.effectiveQd(config)}×${entry.runner.jobs(config)}`] : [],
    );
    expect(depths).toEqual([
      'node-fs-promises=32×1',
      'node-fs-callback=32×1',
      'node-fs-sync=1×1',
      'fio-io_uring=32×2',
      'fio-psync=1×2',
    ]);
  });
});
