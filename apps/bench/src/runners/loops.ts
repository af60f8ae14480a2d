import { randomFillSync } from 'node:crypto';
import { allocAligned, sliceSlots } from '../aligned.js';
import type { OffsetSource } from '../offsets.js';
import type { CaseConfig, WorkloadDefinition } from '../workloads/index.js';
import type { Phase, RunMeasurement } from './runner.js';

/*
 * The pieces every JavaScript IO loop shares (node:fs and aio alike), so that
 * they stop at the same moment, count the same way and time IOs the same way:
 * from just before an IO is issued to just after its completion is seen.
 *
 * Measuring costs every row the same small amount.  Reading the clock costs
 * about as much as the IO loop's own work on a hot page-cache read, so the
 * loops do not read it per IO: every SAMPLE_EVERY-th IO issued is a sample.
 * Only then is the clock read, once at issue (which is also when the deadline
 * is checked) and once when its completion is seen (which records its
 * latency and moves the progress bar).  Every other IO costs a counter and a
 * branch.  The throughput does not depend on the samples: it is the IOs
 * completed over the phase's real elapsed time, read once at the end.
 */

const NS_PER_MS = 1e6;
/** One IO in this many is timed (a power of two: the check is a mask). */
export const SAMPLE_EVERY = 8;
const SAMPLE_MASK = SAMPLE_EVERY - 1;
/** The stamp of an IO that is not a sample: `complete()` then reads no clock. */
export const NOT_SAMPLED = -1;

/** The shared state of the loops of one phase: offsets, deadline, counters, first failure. */
export class IoLoopState {
  ops = 0;
  readonly startedAt = performance.now();
  /**
   * The issue time of the IO `issue()` just returned, or NOT_SAMPLED: pass it
   * to `complete()` when that IO's completion is seen.
   */
  stamp = NOT_SAMPLED;
  private issued = 0;
  private readonly deadline: number;
  private stopped = false;
  private failure: unknown = null;

  constructor(
    private readonly offsets: OffsetSource,
    private readonly phase: Phase,
  ) {
    this.deadline = this.startedAt + phase.seconds * 1000;
  }

  /**
   * Returns the next offset to issue, or -1 once time is up, the offsets ran
   * out or an IO failed; sets `stamp`.  Time is checked on samples only, so a
   * phase may run up to SAMPLE_EVERY IOs past its deadline (the elapsed time
   * counts them).
   */
  issue(): number {
    if (this.stopped || this.failure !== null) return -1;
    if ((++this.issued & SAMPLE_MASK) !== 0) {
      this.stamp = NOT_SAMPLED;
    } else {
      const now = performance.now();
      if (now >= this.deadline) {
        this.stopped = true;
        return -1;
      }
      this.stamp = now;
    }
    const offset = this.offsets.next();
    if (offset < 0) this.stopped = true;
    return offset;
  }

  /** Records one completed IO; `stamp` is what `issue()` set for it. */
  done(stamp: number): void {
    this.ops++;
    if (stamp === NOT_SAMPLED) return;
    const now = performance.now();
    this.phase.histogram.record((now - stamp) * NS_PER_MS);
    this.phase.progress.tick(now);
  }

  /**
   * Returns the next offset, or -1 as `issue()` does, checking the time on
   * every call (for loops that time every IO themselves, with `complete()`).
   */
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

/**
 * The stamps of sampled IOs that complete in the order they were issued (a
 * read stream's blocks), keyed by the IO's number: a preallocated ring, so
 * keeping them allocates nothing.  A stamp that finds the ring full is
 * dropped (that IO is simply not a sample).
 */
export class InOrderStamps {
  private readonly keys: Float64Array;
  private readonly stamps: Float64Array;
  private head = 0;
  private count = 0;

  constructor(capacity: number) {
    this.keys = new Float64Array(capacity);
    this.stamps = new Float64Array(capacity);
  }

  /** Remembers the stamp of IO `key` (ignored for NOT_SAMPLED). */
  push(key: number, stamp: number): void {
    if (stamp === NOT_SAMPLED || this.count === this.keys.length) return;
    const at = (this.head + this.count) % this.keys.length;
    this.keys[at] = key;
    this.stamps[at] = stamp;
    this.count++;
  }

  /** The stamp of IO `key` if it was a sample, else NOT_SAMPLED; IOs must be taken in issue order. */
  take(key: number): number {
    if (this.count === 0 || this.keys[this.head] !== key) return NOT_SAMPLED;
    const stamp = this.stamps[this.head];
    this.head = (this.head + 1) % this.keys.length;
    this.count--;
    return stamp;
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
      const offset = state.issue();
      if (offset < 0) return;
      const stamp = state.stamp;
      try {
        expectFullTransfer(op, await issue(buffer, offset), buffer.length, offset);
      } catch (error) {
        state.fail(error);
        return;
      }
      state.done(stamp);
    }
  };
  await Promise.all(buffers.map(loop));
  state.throwIfFailed();
}
