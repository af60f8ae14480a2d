/**
 * Inspection: what `aio.inspect()` and `aio.stats()` show.  Read-only views
 * of the handles and counters, built when asked (never on the IO path).
 */
import {
  AIO_FLAG_BUFFERED,
  AIO_FLAG_REFERENCES_LOCAL,
  AIO_FLAG_SYNCHRONOUS,
  HS_COMPLETED_IO,
  HS_COMPLETED_SHARED,
  HS_HANDED_OUT,
  HS_IDLE,
  type AioHandle,
  type AioHandleState,
} from './handle.js';
import type { AioMethod, AioMethodName, AioOpName } from './method.js';
import type { AioResultStatus } from './result.js';

/** One row of `aio.inspect()`, like a row of PostgreSQL's `pg_aios`. */
export interface AioHandleRow {
  index: number;
  generation: number;
  state: AioHandleState;
  /** The columns below are undefined for a handed-out handle, as in pg_aios. */
  op: AioOpName | undefined;
  offset: number | undefined;
  length: number | undefined;
  target: string | undefined;
  /** The raw result once the IO completed (bytes or -errno). */
  rawResult: number | undefined;
  /** The distilled result's status once shared callbacks ran. */
  result: AioResultStatus | undefined;
  flags: { synchronous: boolean; referencesLocal: boolean; buffered: boolean };
}

/** The counters of one context, since it was created (part of `aio.stats()`). */
export interface AioCounters {
  /** IOs defined with `start*` (and convenience calls that started). */
  started: number;
  /** IOs handed to the method's `submit`. */
  submitted: number;
  /** IOs whose completion was processed. */
  completed: number;
  /** IOs executed synchronously on the issuer's thread, for any reason. */
  synchronous: number;
  /** IOs a non-sync method could not run asynchronously and ran synchronously (unsupported op, full queue, EAGAIN...). */
  fallbacks: number;
  /** Calls to the method's `submit` (each with 1 to 32 IOs). */
  batches: number;
  /** Waits that had to wait (synchronous or Promise). */
  waits: number;
  /** IOs whose final status was `error`. */
  errors: number;
  bytesRead: number;
  bytesWritten: number;
  /** AbortSignals that fired after their IO reached the method (each asked the method to cancel). */
  cancelRequests: number;
  /**
   * IOs that ran on the context's bounce memory because the caller's buffer
   * could be detached while in flight (see `isNonDetachable`): a copy in
   * for writes, a copy out for reads.
   */
  copied: number;
}

/** Counters since the context was created, and what is in progress now; see `aio.stats()`. */
export interface AioStats extends AioCounters {
  /** The method's name. */
  method: AioMethodName;
  /** Right now: IOs submitted and not completed. */
  inFlight: number;
  /** Right now: IOs staged and not submitted. */
  staged: number;
  /** Right now: 1 if a handle is handed out, else 0. */
  handedOut: number;
  /** Right now: convenience calls waiting for a free handle. */
  queued: number;
  /** Method-specific counters. */
  methodStats: Readonly<Record<string, number>>;
}

/** One row per handle that is not idle. */
export function inspectHandles(handles: readonly AioHandle[]): AioHandleRow[] {
  const rows: AioHandleRow[] = [];
  for (const handle of handles) {
    if (handle.stateCode === HS_IDLE) continue;
    const defined = handle.stateCode !== HS_HANDED_OUT;
    const completed = handle.stateCode >= HS_COMPLETED_IO;
    const flags = handle.io.flags;
    rows.push({
      index: handle.index,
      generation: handle.io.generation,
      state: handle.state,
      op: defined ? handle.opName : undefined,
      offset: defined ? handle.io.offset : undefined,
      length: defined ? handle.io.length : undefined,
      target: defined ? handle.describeTarget() : undefined,
      rawResult: completed ? handle.raw : undefined,
      result: handle.stateCode >= HS_COMPLETED_SHARED ? handle.distilled.status : undefined,
      flags: {
        synchronous: (flags & AIO_FLAG_SYNCHRONOUS) !== 0,
        referencesLocal: (flags & AIO_FLAG_REFERENCES_LOCAL) !== 0,
        buffered: (flags & AIO_FLAG_BUFFERED) !== 0,
      },
    });
  }
  return rows;
}

/** The counters, what is in progress right now, and the method's own counters. */
export function statsOf(
  method: AioMethodName,
  io: AioMethod,
  counters: Readonly<AioCounters>,
  now: { inFlight: number; staged: number; handedOut: number; queued: number },
): AioStats {
  return { method, ...counters, ...now, methodStats: io.stats?.() ?? {} };
}
