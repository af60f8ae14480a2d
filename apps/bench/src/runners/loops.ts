import { randomFillSync } from 'node:crypto';
import { allocAligned, sliceSlots } from '../aligned.js';
import type { OffsetSource } from '../offsets.js';
import type { CaseConfig, WorkloadDefinition } from '../workloads/index.js';
import type { Phase, RunMeasurement } from './runner.js';

/*
 * The pieces every JavaScript IO loop shares (node:fs and aio alike), so that
 * they stop at the same moment, count the same way and time each IO the same
 * way: from just before it is issued to just after its completion is seen.
 */

const NS_PER_MS = 1e6;

/** The shared state of the loops of one phase: offsets, deadline, counters, first failure. */
export class IoLoopState {
  ops = 0;
  readonly startedAt = performance.now();
  private readonly deadline: number;
  private failure: unknown = null;

  constructor(
    private readonly offsets: OffsetSource,
    private readonly phase: Phase,
  ) {
    this.deadline = this.startedAt + phase.seconds * 1000;
  }

  /** Returns the next offset to issue, or -1 once time is up, the offsets ran out or an IO failed. */
  nextOffset(now: number): number {
    if (now >= this.deadline || this.failure !== null) return -1;
    return this.offsets.next();
  }

  /** Records one completed IO that was issued at `issuedAt` (performance.now() milliseconds). */
  complete(issuedAt: number, now: number): void {
    this.phase.histogram.record((now - issuedAt) * NS_PER_MS);
    this.ops++;
    this.phase.progress.tick(now);
  }

  /** Keeps the first failure; the loops then stop issuing and drain what is in flight. */
  fail(error: unknown): void {
    if (this.failure === null) this.failure = error ?? new Error('IO failed');
  }

  throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** Closes the phase: the elapsed time runs to now, so it includes the final fsync of a writeback. */
  finish(blockSize: number): RunMeasurement {
    this.throwIfFailed();
    const elapsedSeconds = (performance.now() - this.startedAt) / 1000;
    return {
      ops: this.ops,
      bytes: this.ops * blockSize,
      elapsedSeconds,
      p50Us: this.phase.histogram.percentile(50) / 1000,
      p99Us: this.phase.histogram.percentile(99) / 1000,
    };
  }
}

/** Throws unless an IO moved exactly one block; the bench's offsets never reach past the end of the file. */
export function expectFullTransfer(op: 'read' | 'write', bytes: number, blockSize: number, offset: number): void {
  if (bytes !== blockSize) throw new Error(`short ${op}: ${bytes} of ${blockSize} bytes at offset ${offset}`);
}

/**
 * Returns one aligned buffer per slot, cut from one slab; write workloads get
 * random contents so that nothing below can compress or deduplicate them.
 */
export function slotBuffers(config: CaseConfig, workload: WorkloadDefinition, slots: number): Buffer[] {
  const slab = allocAligned(slots * config.bs);
  if (workload.op === 'write') randomFillSync(slab);
  return sliceSlots(slab, slots, config.bs);
}

/**
 * Runs one async loop per buffer (so buffers.length IOs are in flight), each
 * issuing the next offset as soon as its previous IO completed.  `issue`
 * returns the bytes transferred.
 */
export async function runPromiseLoops(
  buffers: readonly Buffer[],
  state: IoLoopState,
  op: 'read' | 'write',
  issue: (buffer: Buffer, offset: number) => Promise<number>,
): Promise<void> {
  const loop = async (buffer: Buffer): Promise<void> => {
    for (;;) {
      const issuedAt = performance.now();
      const offset = state.nextOffset(issuedAt);
      if (offset < 0) return;
      try {
        expectFullTransfer(op, await issue(buffer, offset), buffer.length, offset);
      } catch (error) {
        state.fail(error);
        return;
      }
      state.complete(issuedAt, performance.now());
    }
  };
  await Promise.all(buffers.map(loop));
  state.throwIfFailed();
}
