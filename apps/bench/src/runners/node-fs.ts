import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { CaseConfig, WorkloadDefinition } from '../workloads/index.js';
import { IoLoopState, expectFullTransfer, runPromiseLoops, slotBuffers } from './loops.js';
import type { MethodRunner, OpenMethod, Phase, RunMeasurement } from './runner.js';

/*
 * The node:fs baselines: what a Node program does today without aio.  Each
 * uses node:fs the way its API is meant to be used, with the same aligned
 * buffers and open flags as the aio methods (O_DIRECT for --direct, O_DSYNC
 * for wal).  "qd N" means N requests in flight from the one JavaScript
 * thread; libuv runs them on its thread pool (4 threads by default), which is
 * part of what is being measured.
 */

/** The open(2) flags of a case: read-only or write-only, plus O_DIRECT and O_DSYNC as asked. */
export function nodeOpenFlags(config: CaseConfig, workload: WorkloadDefinition): number {
  const { constants } = fs;
  let flags = workload.op === 'read' ? constants.O_RDONLY : constants.O_WRONLY;
  if (config.direct) flags |= constants.O_DIRECT;
  if (workload.dsync) flags |= constants.O_DSYNC;
  return flags;
}

/** The part of a FileHandle the promise loops use; node:fs/promises' FileHandle and @aio/fs's handle both have it. */
export interface PromiseFileHandle {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
}

/**
 * A case driven through an open FileHandle: qd async loops of
 * handle.read(buffer, 0, length, position) / handle.write(...), then
 * handle.sync() where the workload syncs at the end.  `node-fs-promises` and
 * `--api fs` both use it, so that the two differ only in whose handle it is.
 */
export function handleMethod(handle: PromiseFileHandle, config: CaseConfig, workload: WorkloadDefinition, close: () => Promise<void>): OpenMethod {
  const buffers = slotBuffers(config, workload, config.qd);
  const issue =
    workload.op === 'read'
      ? async (buffer: Buffer, offset: number) => (await handle.read(buffer, 0, buffer.length, offset)).bytesRead
      : async (buffer: Buffer, offset: number) => (await handle.write(buffer, 0, buffer.length, offset)).bytesWritten;
  return {
    measure: async (phase) => {
      const state = new IoLoopState(workload.createOffsets(config, phase.seed), phase);
      await runPromiseLoops(buffers, state, workload.op, issue);
      if (workload.syncAtEnd) await handle.sync();
      return state.finish(config.bs);
    },
    close,
  };
}

abstract class NodeFsRunner implements MethodRunner {
  abstract readonly method: string;
  readonly api = 'baseline' as const;
  readonly warmsUp = true;

  effectiveQd(config: CaseConfig): number {
    return config.qd;
  }

  jobs(): number {
    return 1;
  }

  async unavailableReason(): Promise<string | null> {
    return null;
  }

  abstract open(config: CaseConfig, workload: WorkloadDefinition): Promise<OpenMethod>;
}

/** `node-fs-promises`: FileHandle.read / FileHandle.write, qd async loops, FileHandle.sync at the end. */
export class NodeFsPromisesRunner extends NodeFsRunner {
  readonly method = 'node-fs-promises';

  async open(config: CaseConfig, workload: WorkloadDefinition): Promise<OpenMethod> {
    const handle = await fsp.open(config.file, nodeOpenFlags(config, workload));
    return handleMethod(handle, config, workload, () => handle.close());
  }
}

/** `node-fs-callback`: fs.read / fs.write with callbacks, qd chains in flight, fs.fsync at the end. */
export class NodeFsCallbackRunner extends NodeFsRunner {
  readonly method = 'node-fs-callback';

  async open(config: CaseConfig, workload: WorkloadDefinition): Promise<OpenMethod> {
    const fd = await openFd(config.file, nodeOpenFlags(config, workload));
    const buffers = slotBuffers(config, workload, config.qd);
    return {
      measure: async (phase) => {
        const state = new IoLoopState(workload.createOffsets(config, phase.seed), phase);
        await runCallbackChains(fd, buffers, state, workload.op);
        if (workload.syncAtEnd) await new Promise<void>((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve())));
        return state.finish(config.bs);
      },
      close: () => new Promise<void>((resolve, reject) => fs.close(fd, (error) => (error ? reject(error) : resolve()))),
    };
  }
}

function openFd(file: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, flags, (error, fd) => (error ? reject(error) : resolve(fd))));
}

/**
 * One callback chain per buffer: each completion records its latency and
 * issues the slot's next IO.  The callbacks are made once per phase, not
 * once per IO, so the loop itself allocates nothing.
 */
function runCallbackChains(fd: number, buffers: readonly Buffer[], state: IoLoopState, op: 'read' | 'write') {
  return new Promise<void>((resolve, reject) => {
    const stamps = new Float64Array(buffers.length);
    const offsets = new Float64Array(buffers.length);
    let running = buffers.length;
    const stopChain = () => {
      if (--running > 0) return;
      try {
        state.throwIfFailed();
        resolve();
      } catch (error) {
        reject(error);
      }
    };
    const issue = (slot: number, onDone: (error: Error | null, bytes: number) => void) => {
      const offset = state.issue();
      if (offset < 0) return stopChain();
      stamps[slot] = state.stamp;
      offsets[slot] = offset;
      const buffer = buffers[slot];
      if (op === 'read') fs.read(fd, buffer, 0, buffer.length, offset, onDone);
      else fs.write(fd, buffer, 0, buffer.length, offset, onDone);
    };
    buffers.forEach((buffer, slot) => {
      const onDone = (error: Error | null, bytes: number) => {
        try {
          if (error) throw error;
          expectFullTransfer(op, bytes, buffer.length, offsets[slot]);
        } catch (failure) {
          state.fail(failure);
          return stopChain();
        }
        state.done(stamps[slot]);
        issue(slot, onDone);
      };
      issue(slot, onDone);
    });
  });
}

/**
 * `node-fs-sync`: fs.readSync / fs.writeSync / fs.fsyncSync.  A synchronous
 * call blocks the thread, so it is qd 1 by nature and reports qd 1.
 */
export class NodeFsSyncRunner extends NodeFsRunner {
  readonly method = 'node-fs-sync';

  override effectiveQd(): number {
    return 1;
  }

  async open(config: CaseConfig, workload: WorkloadDefinition): Promise<OpenMethod> {
    const fd = fs.openSync(config.file, nodeOpenFlags(config, workload));
    const [buffer] = slotBuffers(config, workload, 1);
    return {
      measure: async (phase) => measureSync(fd, buffer, config, workload, phase),
      close: async () => fs.closeSync(fd),
    };
  }
}

function measureSync(fd: number, buffer: Buffer, config: CaseConfig, workload: WorkloadDefinition, phase: Phase): RunMeasurement {
  const state = new IoLoopState(workload.createOffsets(config, phase.seed), phase);
  const transfer =
    workload.op === 'read'
      ? (offset: number) => fs.readSync(fd, buffer, 0, buffer.length, offset)
      : (offset: number) => fs.writeSync(fd, buffer, 0, buffer.length, offset);
  for (;;) {
    const offset = state.issue();
    if (offset < 0) break;
    const stamp = state.stamp;
    expectFullTransfer(workload.op, transfer(offset), buffer.length, offset);
    state.done(stamp);
  }
  if (workload.syncAtEnd) fs.fsyncSync(fd);
  return state.finish(config.bs);
}
