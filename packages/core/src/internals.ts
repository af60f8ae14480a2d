/**
 * What a context's own modules may do with its core.
 *
 * `aio.ts` keeps handles, their states, batch mode and waiting (PostgreSQL's
 * `aio.c`).  Files (`file.ts`), the convenience Promise API with its queue
 * (`promise-api.ts`) and inspection (`inspection.ts`) are built on top of
 * it; this interface is the whole of what they get, handed to them by the
 * context that creates them.  It is not exported from the package.
 */
import type { AioFile } from './file.js';
import type { AioCounters } from './inspection.js';
import type { AioHandle } from './handle.js';
import type { AioMethod, AioOpCode } from './method.js';

export interface AioCore {
  /** Every handle, by index. */
  readonly handles: readonly AioHandle[];
  readonly method: AioMethod;
  readonly counters: AioCounters;
  /** Throws AIO_ERR_CLOSED after close, AIO_ERR_IN_CALLBACK inside a callback. */
  checkUsable(what: string, op?: AioOpCode): void;
  /** Throws unless `file` is an open file of this context. */
  checkFile(file: unknown): asserts file is AioFile;
  /** Whether the context is open (not closing, not closed). */
  isOpen(): boolean;
  /** Whether queued convenience IO may start now: open, outside callbacks, no handle handed out. */
  canStartQueued(): boolean;
  /**
   * Hands out an idle handle (no return object yet), without polling the
   * method or waiting; null if none is idle.
   */
  takeIdle(): AioHandle | null;
  /**
   * Defines an IO whose arguments are already validated on the handed-out
   * handle and stages it (and submits it outside batch mode), like `start*`.
   * `flags` are IO flags beyond the handle's (AIO_FLAG_KEEP_SIZE).
   */
  define(
    handle: AioHandle,
    op: AioOpCode,
    file: AioFile,
    buffer: ArrayBufferView | null,
    buffers: ArrayBufferView[] | null,
    offset: number,
    length: number,
    flags?: number,
  ): void;
  /** Collects the completions the method has ready (never re-entrant). */
  pollMethod(): void;
  /** Submits what is staged. */
  submitStaged(): void;
  /** Asks the method to cancel the IO if it is still that generation's and submitted. */
  cancel(handle: AioHandle, generation: number): void;
  /** The oldest submitted IO on `file`, or null. */
  oldestInflightOn(file: AioFile): AioHandle | null;
  /** Blocks until the IO (handle, generation) completed, with the method's waitOne. */
  waitSync(handle: AioHandle, generation: number): void;
  /** IOs submitted and not completed, staged and not submitted, handed out (0 or 1). */
  inflightCount(): number;
  stagedCount(): number;
  handedOutCount(): number;
}
