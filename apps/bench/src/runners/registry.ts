import { AUTO_METHOD, BASELINE_NAMES, type BaselineName } from '../method-names.js';
import type { MethodSelection } from '../options.js';
import type { AioApi } from '../workloads/index.js';
import { AioRunner, type AioDiscovery } from './aio.js';
import { FioRunner } from './fio.js';
import { NodeFsCallbackRunner, NodeFsPromisesRunner, NodeFsSyncRunner } from './node-fs.js';
import type { MethodRunner, PlannedMethod } from './runner.js';

/** Returns the runner of a baseline; the baselines need nothing but their name. */
export function baselineRunner(name: BaselineName): MethodRunner {
  switch (name) {
    case 'node-fs-promises':
      return new NodeFsPromisesRunner();
    case 'node-fs-callback':
      return new NodeFsCallbackRunner();
    case 'node-fs-sync':
      return new NodeFsSyncRunner();
    case 'fio-io_uring':
      return new FioRunner('io_uring');
    case 'fio-psync':
      return new FioRunner('psync');
  }
}

/**
 * Turns the method selection into runners, in the order they will run: the
 * aio methods first, then the baselines (or the order given with --method).
 * `all` means every available aio method (the others are listed as skipped
 * with their reason) plus every baseline.  `auto` is the method @aio/auto
 * picks, reported under its real name.
 */
export function planMethods(selection: MethodSelection, api: AioApi, discovery: AioDiscovery): PlannedMethod[] {
  const names = selection === 'all' ? allMethodNames(discovery) : selection;
  const planned: PlannedMethod[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    const entry = planOne(name, api, discovery);
    const method = 'runner' in entry ? entry.runner.method : entry.skipped.method;
    if (seen.has(method)) continue;
    seen.add(method);
    planned.push(entry);
  }
  return planned;
}

function allMethodNames(discovery: AioDiscovery): string[] {
  // Without @aio/core there is no list of methods; one skipped row says why.
  const aioNames = discovery.core ? discovery.methods.map((method) => method.name) : [AUTO_METHOD];
  return [...aioNames, ...BASELINE_NAMES];
}

function planOne(name: string, api: AioApi, discovery: AioDiscovery): PlannedMethod {
  if ((BASELINE_NAMES as readonly string[]).includes(name)) return { runner: baselineRunner(name as BaselineName) };
  const { core } = discovery;
  if (!core) return { skipped: { method: name, api, reason: discovery.unavailableReason } };
  const fsModule = discovery.fs ?? null;
  if (api === 'fs' && fsModule === null) {
    return { skipped: { method: name, api, reason: discovery.fsUnavailableReason || '@aio/fs not built' } };
  }
  if (name === AUTO_METHOD) {
    const chosen = discovery.chosen;
    if (!chosen) return { skipped: { method: name, api, reason: '@aio/auto chose no method' } };
    return { runner: new AioRunner(core, chosen.name, chosen.factory, api, fsModule) };
  }
  const listing = discovery.methods.find((method) => method.name === name);
  if (!listing) return { skipped: { method: name, api, reason: 'not installed' } };
  if (!listing.available || listing.factory === undefined) {
    return { skipped: { method: name, api, reason: listing.reason || 'not available' } };
  }
  return { runner: new AioRunner(core, listing.name, listing.factory, api, fsModule) };
}
