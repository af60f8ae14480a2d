/**
 * The AIO context: one per thread (event loop), like a PostgreSQL backend.
 *
 * This module is PostgreSQL's `aio.c`: the fixed pool of handles, their
 * state machine, the staged and in-flight lists, batch mode, waiting and
 * closing.  Every handle state change in the library happens in
 * {@link Aio#setState} below; the functions around it are the transitions of
 * the state machine documented in `handle.ts`.  Files (`file.ts`), the
 * convenience Promise API with its queue (`promise-api.ts`) and inspection
 * (`inspection.ts`) are built on the handle API in their own modules; the
 * context creates them and forwards its public calls to them.  IO methods
 * see each IO through its read-only `AioIoView`, never the handle.
 *
 * Threading: a context and everything it owns is used from the thread that
 * created it.  Methods deliver completions to that thread; callbacks,
 * waiters and Promises all run there.
 */
import { BouncePool } from './bounce.js';
import { callbacksAt, callbacksOf, localCallbacks, sharedCallbacks, AIO_MAX_CALLBACKS_PER_HANDLE, type AioCallbacks } from './callbacks.js';
import { AioAbortError, AioUsageError, errnoOf } from './errors.js';
import { AioFile, AioFileTable, type AioOpenFlags, type AioRenameOptions } from './file.js';
import {
  AIO_FLAG_SYNCHRONOUS,
  AIO_HANDLE_STATES,
  AIO_MAX_HANDLE_DATA,
  AioHandle,
  HS_COMPLETED_IO,
  HS_COMPLETED_LOCAL,
  HS_COMPLETED_SHARED,
  HS_DEFINED,
  HS_HANDED_OUT,
  HS_IDLE,
  HS_STAGED,
  HS_SUBMITTED,
} from './handle.js';
import { applyInjection, injectionActive } from './injection.js';
import { inspectHandles, statsOf, type AioCounters, type AioHandleRow, type AioStats } from './inspection.js';
import type { AioCore } from './internals.js';
import type { AioIo } from './io.js';
import {
  AIO_FLAG_KEEP_SIZE,
  AIO_OP_NAMES,
  AIO_STAT_BYTES,
  type AioFallbackReason,
  type AioIoView,
  type AioMethod,
  type AioMethodFactory,
  type AioMethodHost,
  type AioMethodName,
  type AioOpCode,
} from './method.js';
import { AioPromiseQueue } from './promise-api.js';
import { AioResult, AioReturn, encodeRawResultOf } from './result.js';
import { allocAligned } from './aligned.js';
import { asyncOpTable } from './native-method.js';
import { executeWithNodeFs, syncMethod } from './sync-method.js';
import {
  checkBoolean,
  checkBufferList,
  checkBufferBytes,
  checkByteRange,
  checkInteger,
  checkOffset,
  checkOptions,
  checkSignal,
  checkStatBuffer,
  describeValue,
} from './validate.js';
import { isAioFile, isAioResult, isAioReturn } from './copies.js';

export type { AioHandleRow, AioStats } from './inspection.js';

/** The most IOs staged before they are submitted (PostgreSQL's PGAIO_SUBMIT_BATCH_SIZE). */
export const AIO_SUBMIT_BATCH_SIZE = 32;

/** The default number of handles per context. */
export const AIO_DEFAULT_MAX_CONCURRENCY = 64;

/** The largest allowed number of handles per context. */
export const AIO_MAX_CONCURRENCY = 1024;

export interface AioOptions {
  /** The IO method (default: the `sync` method).  `@aio/auto` picks the best one for you. */
  method?: AioMethodFactory;
  /** How many IOs can be in flight at once: the size of the handle pool (1 to 1024, default 64). */
  maxConcurrency?: number;
}

type ContextState = 'open' | 'closing' | 'closed';

export interface AioAcquireAsyncOptions {
  /** Aborting it while the call still waits for a handle removes the call from the queue and rejects it with AbortError. */
  signal?: AbortSignal;
}

/** An `acquireAsync()` call waiting for a free handle. */
interface AcquireWaiter {
  ret: AioReturn | undefined;
  resolve: (handle: AioHandle) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  /**
   * Its place among queued convenience calls: it is served once this many
   * queued convenience calls have started (those queued before it), or
   * once that queue is empty.
   */
  convenienceTurn: number;
}

const RESOLVED: Promise<void> = Promise.resolve();
let EFAULT: number | undefined;
const TRACE_STATES = process.env.AIO_DEBUG?.split(',').includes('states') ?? false;

/**
 * An AIO context.  Create one per thread and keep it: it is cheap to use and
 * comparatively expensive to create (native methods set up a ring or a
 * completion port).
 */
export class Aio {
  readonly maxConcurrency: number;
  readonly methodName: AioMethodName;
  readonly #method: AioMethod;
  readonly #handles: AioHandle[];
  /** Free handles, as a LIFO stack of indexes (the last freed is reused first, for cache locality). */
  readonly #idle: Int32Array;
  #idleCount = 0;
  /** The handle between acquire and its start or release; at most one. */
  #handedOut: AioHandle | null = null;
  /** Staged IOs, in staging order; swapped with #submitting while the method submits. */
  #staged: AioIo[] = [];
  #submitting: AioIo[] = [];
  #stagedCount = 0;
  #inSubmit = false;
  #batchMode = false;
  /** The in-flight list, oldest first, linked through handle.inflightPrev/Next. */
  #inflightHead = -1;
  #inflightTail = -1;
  #inflightCount = 0;
  /** > 0 while user callbacks run: IO must not start from them. */
  #callbackDepth = 0;
  /** > 0 while completions are processed: poll() must not re-enter the method. */
  #completionDepth = 0;
  #state: ContextState = 'open';
  #closing: Promise<void> | null = null;
  readonly #counters: AioCounters = {
    started: 0,
    submitted: 0,
    completed: 0,
    synchronous: 0,
    fallbacks: 0,
    batches: 0,
    waits: 0,
    errors: 0,
    bytesRead: 0,
    bytesWritten: 0,
    cancelRequests: 0,
    copied: 0,
  };
  /** Library-owned memory for IO on detachable buffers; see bounce.ts. */
  readonly #bounce = new BouncePool();
  /** The modules built on the handle API. */
  readonly #files: AioFileTable;
  readonly #promises: AioPromiseQueue;
  /** acquireAsync() calls waiting for a handle, oldest first. */
  #acquireWaiters: AcquireWaiter[] = [];
  /** Queued convenience calls started so far: places acquireAsync waiters among them (see AcquireWaiter). */
  #convenienceStarted = 0;
  /** True while a blocking acquire()/tryAcquire() runs: waiters must not take the handed-out slot under it. */
  #acquiringSync = false;
  /** The handle handed out to an acquireAsync caller whose code has not run yet (for the error message). */
  #handedOutToWaiter: AioHandle | null = null;
  /** Per op code, 1 where the method runs the op asynchronously (its `capabilities.ops`); the others run synchronously. */
  readonly #asyncOps: Uint8Array;
  /**
   * Per handle, 32 bytes a `stat` IO's method fills (AIO_STAT_BYTES at
   * handle index * 32): aligned memory that can never be detached, made at
   * the first stat.  The core copies the numbers into the caller's buffer
   * at completion.
   */
  #statSlots: Buffer | null = null;

  constructor(options?: AioOptions) {
    const opts = checkOptions<AioOptions>(options, 'options', ['method', 'maxConcurrency']);
    this.maxConcurrency =
      opts.maxConcurrency === undefined
        ? AIO_DEFAULT_MAX_CONCURRENCY
        : checkInteger(opts.maxConcurrency, 'options.maxConcurrency', 1, AIO_MAX_CONCURRENCY);
    const factory = opts.method ?? syncMethod();
    if (typeof factory !== 'object' || factory === null || typeof factory.create !== 'function') {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `options.method must be a method factory such as syncMethod(), got ${describeValue(factory)}`);
    }
    this.#handles = new Array<AioHandle>(this.maxConcurrency);
    this.#idle = new Int32Array(this.maxConcurrency);
    for (let i = this.maxConcurrency - 1; i >= 0; i--) {
      this.#handles[i] = new AioHandle(this, i);
      this.#idle[this.#idleCount++] = i;
    }
    for (let i = 0; i < AIO_SUBMIT_BATCH_SIZE; i++) {
      this.#staged.push(this.#handles[0].io);
      this.#submitting.push(this.#handles[0].io);
    }
    this.#method = factory.create(this.#makeHost(), { maxConcurrency: this.maxConcurrency, options: {} });
    this.methodName = this.#method.name;
    this.#asyncOps = asyncOpTable(this.#method.capabilities);
    const core = this.#makeCore();
    this.#promises = new AioPromiseQueue(core);
    this.#files = new AioFileTable(this, core, this.#promises);
  }

  /** The method's capabilities. */
  get capabilities(): AioMethod['capabilities'] {
    return this.#method.capabilities;
  }

  /** Whether the context is in batch mode. */
  get inBatchMode(): boolean {
    return this.#batchMode;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#state !== 'open';
  }

  // ---------------------------------------------------------------------
  // The state machine.
  // ---------------------------------------------------------------------

  /**
   * The one function that changes a handle's state.  Only the transitions
   * drawn in `handle.ts` happen; each caller below is one of them.
   */
  #setState(handle: AioHandle, state: number): void {
    // The trace lives in its own function: this one must stay small enough to be inlined on every transition.
    if (TRACE_STATES) traceState(handle, state);
    handle.stateCode = state;
  }

  /**
   * Hands out a free handle (idle → handed-out).  Always succeeds: if no
   * handle is free it collects ready completions, submits staged IO, and
   * then waits (blocking the thread) for the oldest IO in flight.  Throws
   * AIO_ERR_HANDLE_HANDED_OUT if a handle is already handed out.
   *
   * `ret`, if given, receives the IO's result when it completes.
   */
  acquire(ret?: AioReturn): AioHandle {
    this.#checkAcquire(ret);
    if (this.#idleCount > 0) {
      // The common case: a handle is free and nothing is collected or waited for, so no completion can run here.
      const handle = this.#handOut(this.#handles[this.#idle[--this.#idleCount]], ret);
      // Taking the last free handle may leave waiting acquireAsync callers behind staged IO (see #serveAcquireWaiter).
      if (this.#acquireWaiters.length > 0) this.#serveAcquireWaiter();
      return handle;
    }
    // Completions collected while this call waits must not hand a handle to
    // an acquireAsync waiter: this call takes the handed-out slot next.
    this.#acquiringSync = true;
    try {
      let handle = this.#popIdle();
      while (handle === null) {
        this.#waitForFreeHandle();
        handle = this.#popIdle();
      }
      return this.#handOut(handle, ret);
    } finally {
      this.#acquiringSync = false;
      // Completions collected by a call that then threw may have freed handles for waiters.
      if (this.#acquireWaiters.length > 0) this.#serveAcquireWaiter();
    }
  }

  /**
   * Like {@link acquire}, but returns null instead of waiting for IO to
   * complete.  Also null while a handle is handed out to an acquireAsync
   * caller whose code has not run yet: that handle is as good as busy, and
   * code that shares the context with async clients (write-back, the read
   * stream, a buffer pool) cannot know when that caller resumes.
   */
  tryAcquire(ret?: AioReturn): AioHandle | null {
    if (this.#handedOut !== null && this.#handedOut === this.#handedOutToWaiter) {
      this.#checkUsable('acquire');
      if (ret !== undefined && !isAioReturn(ret)) {
        throw new AioUsageError('AIO_ERR_INVALID_TYPE', `acquire(ret) needs an AioReturn, got ${describeValue(ret)}`);
      }
      return null;
    }
    this.#checkAcquire(ret);
    this.#acquiringSync = true;
    try {
      let handle = this.#popIdle();
      if (handle === null) {
        this.#pollMethod();
        this.#submitStaged();
        handle = this.#popIdle();
        if (handle === null) return null;
      }
      return this.#handOut(handle, ret);
    } finally {
      this.#acquiringSync = false;
      // Completions collected by a call that then threw may have freed handles for waiters.
      if (this.#acquireWaiters.length > 0) this.#serveAcquireWaiter();
    }
  }

  /**
   * Like {@link acquire}, but waits without blocking the thread: the Promise
   * resolves with the handed-out handle once one is free and it is this
   * call's turn.  Works on every method, also on those that cannot wait
   * synchronously (`libuv`).
   *
   * Fairness: waiting acquireAsync calls and queued convenience calls
   * (`file.read()`, ...) are served in the order they started waiting, one
   * queue in effect.  A blocking `acquire()`/`tryAcquire()` is not queued:
   * it runs now, so it goes first.
   *
   * The handle is handed out when the Promise resolves: start an IO on it
   * (or release it) right after the `await`, as after `acquire()`; until
   * then nobody else in the context can be handed a handle, and a blocking
   * `acquire()` throws AIO_ERR_HANDLE_HANDED_OUT.
   *
   * Batch mode: a caller that has to wait first submits what is staged, and
   * while callers wait with every handle busy nothing stays staged (the
   * handles they wait for may be that staged IO, which would never complete:
   * the deadlock rule of batch mode, applied by the library).
   *
   * Usage errors reject the Promise: AIO_ERR_CLOSED (also for callers still
   * waiting when `close()` starts), AIO_ERR_IN_CALLBACK, AIO_ERR_INVALID_TYPE.
   * An aborted `signal` rejects with AbortError and leaves the queue.
   */
  acquireAsync(ret?: AioReturn, options?: AioAcquireAsyncOptions): Promise<AioHandle> {
    let signal: AbortSignal | undefined;
    try {
      this.#checkUsable('acquireAsync');
      if (ret !== undefined && !isAioReturn(ret)) {
        throw new AioUsageError('AIO_ERR_INVALID_TYPE', `acquireAsync(ret) needs an AioReturn, got ${describeValue(ret)}`);
      }
      signal = checkSignal(checkOptions<AioAcquireAsyncOptions>(options, 'options', ['signal']).signal, 'options.signal');
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(new AioAbortError(undefined, { cause: signal.reason }));
    if (this.#acquireWaiters.length === 0 && this.#promises.queued === 0 && this.#handedOut === null) {
      if (this.#stagedCount >= AIO_SUBMIT_BATCH_SIZE) this.#submitStaged();
      const handle = this.#popIdle();
      if (handle !== null) {
        // Handed out now, but the caller's code runs only after its await: until then it is a waiter's handle.
        this.#handedOutToWaiter = this.#handOut(handle, ret);
        return Promise.resolve(handle);
      }
    }
    return new Promise<AioHandle>((resolve, reject) => {
      const waiter: AcquireWaiter = {
        ret,
        resolve,
        reject,
        signal,
        onAbort: null,
        convenienceTurn: this.#convenienceStarted + this.#promises.queued,
      };
      if (signal !== undefined) {
        waiter.onAbort = () => this.#abortWaiter(waiter);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#acquireWaiters.push(waiter);
      this.#counters.waits++;
      // The handles this call waits for must be on their way: collect what
      // is ready, and submit what is staged (see the batch-mode rule above).
      this.#pollMethod();
      this.#submitStaged();
      this.#afterHandlesFreed();
    });
  }

  /** acquireAsync() calls waiting for a handle right now. */
  get waitingAcquires(): number {
    return this.#acquireWaiters.length;
  }

  #abortWaiter(waiter: AcquireWaiter): void {
    const at = this.#acquireWaiters.indexOf(waiter);
    if (at < 0) return;
    this.#acquireWaiters.splice(at, 1);
    waiter.reject(new AioAbortError(undefined, { cause: waiter.signal?.reason }));
    // The next waiter may now be first in line for an idle handle.
    this.#afterHandlesFreed();
  }

  /** Whether the oldest acquireAsync waiter comes before every queued convenience call. */
  #waiterFirst(): boolean {
    const first = this.#acquireWaiters[0];
    if (first === undefined) return false;
    return this.#promises.queued === 0 || this.#convenienceStarted >= first.convenienceTurn;
  }

  /**
   * Hands an idle handle to the oldest waiter if it is its turn.  One at a
   * time: the next is served once that caller started its IO or released
   * the handle (the one-handed-out rule).
   */
  #serveAcquireWaiter(): void {
    if (this.#state !== 'open' || this.#callbackDepth > 0 || this.#acquiringSync) return;
    if (this.#idleCount === 0) {
      // Every handle is busy: none of them may stay staged while callers wait for them.
      if (this.#stagedCount > 0) this.#submitStaged();
      return;
    }
    if (this.#handedOut !== null || !this.#waiterFirst()) return;
    const handle = this.#popIdle() as AioHandle;
    const waiter = this.#acquireWaiters.shift() as AcquireWaiter;
    if (waiter.onAbort !== null) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    this.#handOut(handle, waiter.ret);
    this.#handedOutToWaiter = handle;
    waiter.resolve(handle);
  }

  /** Rejects every acquireAsync waiter (at close). */
  #rejectAcquireWaiters(error: () => Error): void {
    const waiters = this.#acquireWaiters;
    this.#acquireWaiters = [];
    for (const waiter of waiters) {
      if (waiter.onAbort !== null) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.reject(error());
    }
  }

  #checkAcquire(ret: unknown): void {
    this.#checkUsable('acquire');
    if (ret !== undefined && !isAioReturn(ret)) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `acquire(ret) needs an AioReturn, got ${describeValue(ret)}`);
    }
    if (this.#handedOut !== null) {
      const toWaiter = this.#handedOut === this.#handedOutToWaiter ? ' to an acquireAsync caller whose code has not run yet' : '';
      throw new AioUsageError(
        'AIO_ERR_HANDLE_HANDED_OUT',
        `API violation: only one IO can be handed out (handle ${this.#handedOut.index} is handed out${toWaiter}; start an IO on it or release it first)`,
      );
    }
    if (this.#stagedCount >= AIO_SUBMIT_BATCH_SIZE) this.#submitStaged();
  }

  #handOut(handle: AioHandle, ret: AioReturn | undefined): AioHandle {
    if (ret !== undefined) ret.reset();
    handle.ret = ret ?? null;
    this.#setState(handle, HS_HANDED_OUT);
    this.#handedOut = handle;
    return handle;
  }

  /**
   * PostgreSQL's pgaio_io_wait_for_free(): collect ready completions, then
   * submit staged IO, then wait for the oldest IO in flight.  Waiting for the
   * oldest is enough: once it completes its handle is free.
   */
  #waitForFreeHandle(): void {
    this.#pollMethod();
    if (this.#idleCount > 0) return;
    this.#submitStaged();
    if (this.#idleCount > 0) return;
    if (this.#inflightCount === 0) {
      throw new AioUsageError('AIO_ERR_NO_FREE_HANDLE', `no free IO handle despite no IO in flight (all ${this.maxConcurrency} handles are busy)`);
    }
    const oldest = this.#handles[this.#inflightHead];
    this.#waitSyncOn(oldest, oldest.io.generation);
  }

  #popIdle(): AioHandle | null {
    if (this.#idleCount === 0) return null;
    return this.#handles[this.#idle[--this.#idleCount]];
  }

  /** @internal handle.start*: validates, then handed-out → defined → staged, then submitted or executed. */
  _startIo(
    handle: AioHandle,
    op: AioOpCode,
    file: AioFile,
    buffer: unknown,
    buffers: unknown,
    offset: unknown,
    length: unknown,
    keepSize?: unknown,
  ): void {
    this.#checkUsable('start', op);
    this.#checkDefinable(handle, op);
    let io: ValidatedIo;
    try {
      this.#checkFile(file);
      io = validateIo(op, buffer, buffers, offset, length, keepSize);
    } catch (error) {
      this.#refuseStart(handle);
      throw error;
    }
    this.#define(handle, op, file, io.view, io.views, io.offset, io.length, io.flags);
  }

  /**
   * @internal handle.startRead/startWrite: {@link _startIo} for the two
   * single-buffer ops, with the same checks and without the dispatch on the
   * op (the IOs a storage engine starts most).
   */
  _startReadWrite(handle: AioHandle, op: 1 | 3, file: AioFile, buffer: unknown, offset: unknown, length: unknown): void {
    this.#checkUsable('start', op);
    this.#checkDefinable(handle, op);
    let at: number;
    let bytes: number;
    try {
      this.#checkFile(file);
      at = checkOffset(offset, 'offset');
      bytes = checkBufferBytes(buffer, length, 'buffer', 'length');
    } catch (error) {
      this.#refuseStart(handle);
      throw error;
    }
    this.#define(handle, op, file, buffer as ArrayBufferView, null, at, bytes, 0);
  }

  /**
   * A refused start* gives the handle back (PostgreSQL releases the
   * handed-out handle on error): the next acquire() must not find it still
   * handed out.  Wait references taken on it are simply done.
   */
  #refuseStart(handle: AioHandle): void {
    this.#handedOut = null;
    this.#handedOutToWaiter = null;
    this.#recycle(handle);
    this.#afterHandlesFreed();
  }

  #checkDefinable(handle: AioHandle, op: AioOpCode): void {
    if (handle.aio !== this || handle !== this.#handedOut || handle.stateCode !== HS_HANDED_OUT) {
      throw new AioUsageError(
        'AIO_ERR_HANDLE_STATE',
        `start${AIO_OP_NAMES[op]} needs the handed-out handle; handle ${handle.index} is ${handle.state}`,
      );
    }
  }

  #checkFile(file: unknown): asserts file is AioFile {
    // The common case first, decided by loads and compares: an open file of this context from this copy of the core.
    if (file instanceof AioFile && file.aio === this && !file.closed) return;
    if (!isAioFile(file)) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `file must be an AioFile from aio.open(), got ${describeValue(file)}`);
    }
    if (file.aio !== this) {
      throw new AioUsageError('AIO_ERR_FOREIGN_FILE', `${file.describe()} belongs to another AIO context`);
    }
    if (file.closed) {
      throw new AioUsageError('AIO_ERR_FILE_CLOSED', `${file.describe()} is closed`);
    }
  }

  /** Fills in a validated IO on the handed-out handle and stages it. */
  #define(
    handle: AioHandle,
    op: AioOpCode,
    file: AioFile,
    buffer: ArrayBufferView | null,
    buffers: ArrayBufferView[] | null,
    offset: number,
    length: number,
    flags = 0,
  ): void {
    const io = handle.io;
    io.op = op;
    io.file = file;
    io.offset = offset;
    io.length = length;
    io.buffer = buffer;
    io.buffers = buffers;
    io.flags |= flags;
    if (op === 7) {
      // The method fills the context's slot, never the caller's memory (which could be detached meanwhile).
      handle.statTarget = buffer;
      io.buffer = this.#statSlotOf(handle.index);
    }
    this.#setState(handle, HS_DEFINED);
    this.#handedOut = null;
    this.#handedOutToWaiter = null;
    this.#counters.started++;
    if (handle.callbackCount > 0) this.#runStageCallbacks(handle);
    this.#setState(handle, HS_STAGED);
    if (handle.callbackError !== undefined) {
      // A stage callback threw: the IO is not executed; it completes at once
      // with an error result naming that callback.
      this.#prepareSubmit(handle);
      this.#completeIo(handle, 0);
    } else if ((io.flags & AIO_FLAG_SYNCHRONOUS) !== 0) {
      this.#performSynchronously(handle, 'synchronous-flag');
    } else if (this.#asyncOps[op] !== 1) {
      // Not among the ops the method runs (a method from before the file operations): never submitted to it.
      this.#performSynchronously(handle, 'unsupported-op');
    } else if (this.#method.needsSynchronousExecution(io)) {
      this.#performSynchronously(handle, 'method-requires');
    } else {
      // From here the IO runs asynchronously: its memory must not be able to
      // go away before it completes (synchronous runs above finish before
      // start* returns, so they use the caller's memory as it is).
      if (this.#bounce.swapIn(handle)) this.#counters.copied++;
      this.#staged[this.#stagedCount++] = io;
      if (!this.#batchMode) this.#submitStaged();
    }
    // No handle is handed out any more: queued convenience calls and acquireAsync callers may go on.
    if (this.#promises.queued > 0 || this.#acquireWaiters.length > 0) this.#afterHandlesFreed();
  }

  #statSlotOf(index: number): Buffer {
    this.#statSlots ??= allocAligned(this.maxConcurrency * AIO_STAT_BYTES, 8);
    return this.#statSlots.subarray(index * AIO_STAT_BYTES, (index + 1) * AIO_STAT_BYTES);
  }

  /**
   * A completed `stat`: copies the four numbers into the caller's buffer and
   * gives the IO its buffer back.  A buffer detached meanwhile gets nothing
   * and the result is EFAULT, as for a read.
   */
  #finishStat(handle: AioHandle, raw: number): number {
    const target = handle.statTarget as ArrayBufferView;
    const slot = handle.io.buffer as Buffer;
    handle.statTarget = null;
    handle.io.buffer = target;
    // A failed stat, or one whose stage callback threw (it never ran), leaves the caller's buffer alone.
    if (raw < 0 || handle.callbackError !== undefined) return raw;
    if (target.byteLength < AIO_STAT_BYTES) return (EFAULT ??= errnoOf('EFAULT'));
    new Uint8Array(target.buffer, target.byteOffset, AIO_STAT_BYTES).set(slot);
    return raw;
  }

  #runStageCallbacks(handle: AioHandle): void {
    for (let i = handle.callbackCount - 1; i >= 0; i--) {
      const callbacks = callbacksAt(handle.callbackIds[i]);
      if (callbacks.stage === undefined) continue;
      this.#callbackDepth++;
      try {
        callbacks.stage(handle, handle.callbackData[i]);
      } catch (error) {
        handle.callbackError = error;
        handle.scratch.id = handle.callbackIds[i];
        return;
      } finally {
        this.#callbackDepth--;
      }
    }
  }

  /** Submits what is staged (staged → submitted, by the method). */
  submitStaged(): void {
    this.#checkUsable('submitStaged');
    this.#submitStaged();
  }

  #submitStaged(): void {
    // Re-entry happens when a synchronous completion inside submit() starts
    // a queued convenience IO; that IO stays staged and the loop below
    // submits it once the outer submit returned.
    if (this.#inSubmit) return;
    this.#inSubmit = true;
    try {
      while (this.#stagedCount > 0) {
        const batch = this.#staged;
        const count = this.#stagedCount;
        this.#staged = this.#submitting;
        this.#submitting = batch;
        this.#stagedCount = 0;
        this.#counters.batches++;
        this.#counters.submitted += count;
        this.#submitBatch(batch, count);
      }
    } finally {
      this.#inSubmit = false;
    }
  }

  #submitBatch(batch: AioIo[], count: number): void {
    let failure: unknown;
    try {
      this.#method.submit(batch, count);
    } catch (error) {
      failure = error;
    }
    // An IO the method did not take is never lost: it runs synchronously.
    for (let i = 0; i < count; i++) {
      const handle = this.#handles[batch[i].index];
      if (handle.stateCode === HS_STAGED) this.#performSynchronously(handle, 'submit-failed');
    }
    if (failure !== undefined) {
      process.emitWarning(`aio: ${this.methodName} submit failed; ${count} IOs ran synchronously: ${String(failure)}`, { code: 'AIO_SUBMIT_FAILED' });
    }
  }

  /** The handle of an IO a method hands back; throws for an object that is not one of this context's IOs. */
  #handleOf(io: AioIoView): AioHandle {
    const handle = this.#handles[io.index];
    if (handle === undefined || handle.io !== io) {
      throw new Error(`aio: ${this.methodName} passed an object that is not one of this context's IOs`);
    }
    return handle;
  }

  /** staged → submitted (the method calls this through the host for each IO it accepts). */
  #prepareSubmit(handle: AioHandle): void {
    if (handle.stateCode !== HS_STAGED) {
      throw new Error(`aio: ${this.methodName} submitted handle ${handle.index} in state ${handle.state}`);
    }
    this.#setState(handle, HS_SUBMITTED);
    handle.inflightPrev = this.#inflightTail;
    handle.inflightNext = -1;
    if (this.#inflightTail >= 0) this.#handles[this.#inflightTail].inflightNext = handle.index;
    else this.#inflightHead = handle.index;
    this.#inflightTail = handle.index;
    this.#inflightCount++;
    (handle.io.file as AioFile).inflight++;
  }

  #performSynchronously(handle: AioHandle, reason: AioFallbackReason): void {
    this.#counters.synchronous++;
    if (reason !== 'synchronous-flag' && this.methodName !== 'sync') this.#counters.fallbacks++;
    this.#prepareSubmit(handle);
    this.#completeIo(handle, this.#executeSynchronously(handle.io));
  }

  #executeSynchronously(io: AioIo): number {
    return this.#method.executeSynchronously !== undefined ? this.#method.executeSynchronously(io) : executeWithNodeFs(io);
  }

  /**
   * submitted → completed-io → completed-shared, then reclaim.  Called once
   * per IO with its raw result.
   */
  #completeIo(handle: AioHandle, rawResult: number): void {
    if (handle.stateCode !== HS_SUBMITTED) {
      this.#ignoreCompletion(handle);
      return;
    }
    this.#completionDepth++;
    try {
      let raw = rawResult;
      if (handle.userBuffer !== null || handle.userBuffers !== null) raw = this.#bounce.swapOut(handle, raw);
      else if (handle.statTarget !== null) raw = this.#finishStat(handle, raw);
      if (injectionActive()) raw = applyInjection(handle.io, this.methodName, raw);
      handle.raw = raw;
      this.#setState(handle, HS_COMPLETED_IO);
      this.#unlinkInflight(handle);
      this.#encodeResult(handle, raw);
      this.#runSharedCallbacks(handle);
      this.#setState(handle, HS_COMPLETED_SHARED);
      this.#count(handle);
      const wake = handle.wakeWaiters;
      if (wake !== null) {
        handle.wakeWaiters = null;
        handle.waitPromise = null;
        wake();
      }
      this.#reclaim(handle);
    } finally {
      this.#completionDepth--;
    }
  }

  /** A method reported a completion for an IO that is not in flight: a bug in the method, reported and ignored. */
  #ignoreCompletion(handle: AioHandle): void {
    process.emitWarning(`aio: ${this.methodName} completed handle ${handle.index} in state ${handle.state}; ignored`, { code: 'AIO_METHOD_BUG' });
  }

  #unlinkInflight(handle: AioHandle): void {
    const prev = handle.inflightPrev;
    const next = handle.inflightNext;
    if (prev >= 0) this.#handles[prev].inflightNext = next;
    else this.#inflightHead = next;
    if (next >= 0) this.#handles[next].inflightPrev = prev;
    else this.#inflightTail = prev;
    handle.inflightPrev = handle.inflightNext = -1;
    this.#inflightCount--;
    (handle.io.file as AioFile).inflight--;
  }

  #encodeResult(handle: AioHandle, raw: number): void {
    const result = handle.distilled;
    if (handle.callbackError !== undefined) {
      result.status = 'error';
      result.result = 0;
      result.errno = undefined;
      result.code = 'AIO_CALLBACK_FAILED';
      result.id = handle.scratch.id;
      result.errorData = 0;
      return;
    }
    encodeRawResultOf(result, handle.io.op, handle.io.length, raw);
  }

  /** Shared callbacks, last registered first; a throw becomes an error result. */
  #runSharedCallbacks(handle: AioHandle): void {
    if (handle.callbackError !== undefined || handle.callbackCount === 0) return;
    this.#runCompletionCallbacks(handle, handle.distilled, sharedCallbacks, 'completeShared');
  }

  /**
   * One completion phase's callbacks, last registered first: `functions`
   * holds that phase's function per callback id.  One try around the loop
   * (not one per callback): a throw ends the phase anyway.
   */
  #runCompletionCallbacks(
    handle: AioHandle,
    result: AioResult,
    functions: readonly (AioCallbacks['completeShared'] | undefined)[],
    phase: 'completeShared' | 'completeLocal',
  ): void {
    let i = handle.callbackCount - 1;
    this.#callbackDepth++;
    try {
      for (; i >= 0; i--) {
        const callback = functions[handle.callbackIds[i]];
        if (callback === undefined) continue;
        const next = callback(handle, result, handle.callbackData[i]);
        if (next !== result) {
          if (!isAioResult(next)) throw new TypeError(`${phase} callback must return an AioResult`);
          result.assign(next);
        }
      }
    } catch (error) {
      handle.callbackError = error;
      result.status = 'error';
      result.result = 0;
      result.errno = undefined;
      result.code = 'AIO_CALLBACK_FAILED';
      result.id = handle.callbackIds[i];
      result.errorData = 0;
    } finally {
      this.#callbackDepth--;
    }
  }

  #count(handle: AioHandle): void {
    const counters = this.#counters;
    counters.completed++;
    if (handle.distilled.status === 'error') counters.errors++;
    if (handle.raw > 0) {
      if (handle.io.op <= 2) counters.bytesRead += handle.raw;
      else counters.bytesWritten += handle.raw;
    }
  }

  /**
   * completed-shared → completed-local → idle.  Runs local callbacks, fills
   * the issuer's return object, bumps the generation and frees the handle.
   */
  #reclaim(handle: AioHandle): void {
    // Local callbacks work on a copy (the distilled result stays what waiters saw); without callbacks there is nothing to copy.
    let local = handle.distilled;
    if (handle.callbackCount > 0) {
      local = handle.scratch.assign(local);
      this.#runCompletionCallbacks(handle, local, localCallbacks, 'completeLocal');
    }
    this.#setState(handle, HS_COMPLETED_LOCAL);
    const ret = handle.ret;
    if (ret !== null) this.#fillReturn(handle, ret, local);
    const settles = handle.settles;
    this.#recycle(handle);
    // A convenience call settles its Promise once the handle is free again
    // (the settlement only queues microtasks; it reads the return object the
    // Promise API keeps for this handle, which nobody reuses before then).
    if (settles) this.#promises.settle(handle.index);
  }

  #fillReturn(handle: AioHandle, ret: AioReturn, local: AioResult): void {
    const io = handle.io;
    ret.result.assign(local);
    const target = ret.target;
    target.op = AIO_OP_NAMES[io.op];
    target.path = io.file?.path;
    target.offset = io.offset;
    target.length = io.length;
    target.method = this.methodName;
    ret.cause = handle.callbackError;
    ret.reporter = undefined;
    if (local.id !== 0) {
      const index = handle.callbackIds.lastIndexOf(local.id, handle.callbackCount - 1);
      const report = callbacksAt(local.id).report;
      const data = index >= 0 ? handle.callbackData[index] : 0;
      if (report !== undefined) ret.reporter = (r) => report(r, data);
    }
  }

  /** Back to idle with a new generation; every reference to the old IO is dropped. */
  #recycle(handle: AioHandle): void {
    const io = handle.io;
    io.file = null;
    io.buffer = null;
    io.buffers = null;
    io.flags = 0;
    io.op = 0;
    io.methodData = null;
    io.generation++;
    handle.statTarget = null;
    handle.ret = null;
    handle.settles = false;
    handle.callbackCount = 0;
    handle.handleData = null;
    handle.callbackError = undefined;
    this.#setState(handle, HS_IDLE);
    this.#idle[this.#idleCount++] = handle.index;
  }

  /**
   * Handles may have become free: let queued convenience calls start (up to
   * the turn of the oldest acquireAsync waiter, see takeIdle), then that
   * waiter.
   */
  #afterHandlesFreed(): void {
    this.#promises.drain();
    if (this.#acquireWaiters.length > 0) this.#serveAcquireWaiter();
  }

  /** @internal handle.release(): handed-out → idle. */
  _release(handle: AioHandle): void {
    this.#checkUsable('release');
    if (handle !== this.#handedOut || handle.stateCode !== HS_HANDED_OUT) {
      throw new AioUsageError('AIO_ERR_HANDLE_STATE', `release in unexpected state: handle ${handle.index} is ${handle.state}, not the handed-out handle`);
    }
    this.#handedOut = null;
    this.#handedOutToWaiter = null;
    this.#recycle(handle);
    this.#afterHandlesFreed();
  }

  /** @internal setFlag/registerCallbacks/setHandleData are valid only on the handed-out handle. */
  _checkHandedOut(handle: AioHandle, what: string): void {
    this.#checkUsable(what);
    if (handle !== this.#handedOut || handle.stateCode !== HS_HANDED_OUT) {
      throw new AioUsageError('AIO_ERR_HANDLE_STATE', `${what} is only allowed on the handed-out handle; handle ${handle.index} is ${handle.state}`);
    }
  }

  /** @internal A wait reference can be taken between acquire and submission. */
  _checkCanReference(handle: AioHandle): void {
    this.#checkNotClosed('getWaitRef');
    const state = handle.stateCode;
    if (state !== HS_HANDED_OUT && state !== HS_DEFINED && state !== HS_STAGED) {
      throw new AioUsageError('AIO_ERR_HANDLE_STATE', `getWaitRef needs a handle that is handed out (before start*); handle ${handle.index} is ${handle.state}`);
    }
  }

  /** @internal */
  _registerCallbacks(handle: AioHandle, id: number, data: number): void {
    this._checkHandedOut(handle, 'registerCallbacks');
    callbacksOf(id);
    checkInteger(data, 'data', -0x8000_0000, 0xffff_ffff);
    if (handle.callbackCount >= AIO_MAX_CALLBACKS_PER_HANDLE) {
      throw new AioUsageError('AIO_ERR_TOO_MANY_CALLBACKS', `at most ${AIO_MAX_CALLBACKS_PER_HANDLE} callbacks per handle`);
    }
    handle.callbackIds[handle.callbackCount] = id;
    handle.callbackData[handle.callbackCount] = data;
    handle.callbackCount++;
  }

  /** @internal */
  _setHandleData(handle: AioHandle, values: readonly number[]): void {
    this._checkHandedOut(handle, 'setHandleData');
    if (handle.handleData !== null) throw new AioUsageError('AIO_ERR_HANDLE_DATA', 'handle data can be set only once per IO');
    if (!Array.isArray(values) || values.length > AIO_MAX_HANDLE_DATA || !values.every((v) => typeof v === 'number')) {
      throw new AioUsageError('AIO_ERR_HANDLE_DATA', `handle data must be an array of at most ${AIO_MAX_HANDLE_DATA} numbers`);
    }
    handle.handleData = Object.freeze(values.slice());
  }

  // ---------------------------------------------------------------------
  // Waiting.
  // ---------------------------------------------------------------------

  /**
   * Classifies a reference: 'done' (completed or recycled), 'in-flight', or
   * throws for references that can never complete by waiting.
   */
  #checkWaitable(handle: AioHandle, generation: number): 'done' | 'in-flight' {
    if (handle.io.generation !== generation) return 'done';
    const state = handle.stateCode;
    if (state === HS_SUBMITTED) return 'in-flight';
    if (state >= HS_COMPLETED_SHARED || state === HS_IDLE) return 'done';
    if (state === HS_HANDED_OUT) {
      throw new AioUsageError('AIO_ERR_HANDLE_STATE', `IO in wrong state: handle ${handle.index} is handed out, no IO is defined on it yet`);
    }
    if (state === HS_COMPLETED_IO) {
      throw new AioUsageError('AIO_ERR_IN_CALLBACK', `cannot wait for handle ${handle.index} from inside its own completion`);
    }
    throw new AioUsageError(
      'AIO_ERR_WAIT_UNSUBMITTED',
      `waiting on your own unsubmitted IO (handle ${handle.index} is ${handle.state}); submit it first (aio.submitStaged() or exitBatchMode())`,
    );
  }

  #handleFor(index: number): AioHandle {
    const handle = this.#handles[index];
    if (handle === undefined) throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `no handle ${index} in this context`);
    return handle;
  }

  /** @internal ref.wait() */
  waitAsync(index: number, generation: number): Promise<void> {
    this.#checkNotClosed('wait');
    const handle = this.#handleFor(index);
    if (this.#checkWaitable(handle, generation) === 'done') return RESOLVED;
    this.#pollMethod();
    if (handle.io.generation !== generation || handle.stateCode !== HS_SUBMITTED) return RESOLVED;
    if (handle.waitPromise === null) {
      this.#counters.waits++;
      handle.waitPromise = new Promise<void>((resolve) => {
        handle.wakeWaiters = resolve;
      });
    }
    return handle.waitPromise;
  }

  /** @internal ref.waitSync() */
  waitSync(index: number, generation: number): void {
    this.#checkNotClosed('waitSync');
    if (this.#callbackDepth > 0) {
      throw new AioUsageError('AIO_ERR_IN_CALLBACK', 'waitSync is not allowed inside a completion callback');
    }
    const handle = this.#handleFor(index);
    if (this.#checkWaitable(handle, generation) === 'done') return;
    this.#waitSyncOn(handle, generation);
  }

  #waitSyncOn(handle: AioHandle, generation: number): void {
    const waitOne = this.#method.waitOne;
    if (waitOne === undefined) {
      throw new AioUsageError('AIO_ERR_CANNOT_WAIT', `the ${this.methodName} method cannot wait synchronously; use await ref.wait()`);
    }
    this.#counters.waits++;
    while (handle.io.generation === generation && handle.stateCode === HS_SUBMITTED) {
      waitOne.call(this.#method, handle.io, generation);
    }
  }

  /** @internal ref.isDone() */
  isDone(index: number, generation: number): boolean {
    this.#checkNotClosed('isDone');
    const handle = this.#handleFor(index);
    if (handle.io.generation !== generation) return true;
    const state = handle.stateCode;
    if (state >= HS_COMPLETED_SHARED || state === HS_IDLE) return true;
    if (state !== HS_SUBMITTED) return false;
    this.#pollMethod();
    return handle.io.generation !== generation || handle.stateCode >= HS_COMPLETED_SHARED;
  }

  /** Collects completions the method has ready, unless completions are being processed already. */
  #pollMethod(): void {
    if (this.#inflightCount > 0 && this.#completionDepth === 0 && this.#method.poll !== undefined) this.#method.poll();
  }

  #oldestInflightOn(file: AioFile): AioHandle | null {
    for (let i = this.#inflightHead; i >= 0; i = this.#handles[i].inflightNext) {
      if (this.#handles[i].io.file === file) return this.#handles[i];
    }
    return null;
  }

  // ---------------------------------------------------------------------
  // Batch mode.
  // ---------------------------------------------------------------------

  /**
   * Enters batch mode: IOs started from now on are staged and submitted
   * together (one io_uring_enter, one lio_listio, one queue lock) at
   * `exitBatchMode()`, or earlier when 32 are staged and another handle is
   * acquired.
   *
   * The deadlock rule: while IO is staged, never block on anything another
   * thread or process must do first (it might be waiting for your staged IO).
   * Submit first (`submitStaged()`), or block only with a timeout.
   */
  enterBatchMode(): void {
    this.#checkUsable('enterBatchMode');
    if (this.#batchMode) throw new AioUsageError('AIO_ERR_BATCH_NESTED', 'starting batch while batch already in progress (batch mode cannot be nested)');
    this.#batchMode = true;
  }

  /** Leaves batch mode and submits what is staged. */
  exitBatchMode(): void {
    this.#checkUsable('exitBatchMode');
    if (!this.#batchMode) throw new AioUsageError('AIO_ERR_BATCH_NOT_ACTIVE', 'exitBatchMode without enterBatchMode');
    this.#batchMode = false;
    this.#submitStaged();
    this.#afterHandlesFreed();
  }

  /**
   * Runs `fn` in batch mode and leaves batch mode afterwards, also when `fn`
   * throws: what was staged before the error is still submitted.
   */
  batch<T>(fn: () => T): T {
    this.enterBatchMode();
    try {
      return fn();
    } finally {
      if (this.#batchMode && this.#state === 'open') this.exitBatchMode();
    }
  }

  // ---------------------------------------------------------------------
  // Files, the convenience API and inspection: their own modules.
  // ---------------------------------------------------------------------

  /** Opens a file for IO through this context.  Throws AioIoError (syscall 'open') if the OS refuses. */
  open(path: string | URL, flags?: AioOpenFlags): AioFile {
    return this.#files.open(path, flags);
  }

  /**
   * Wraps a POSIX fd opened elsewhere (node:fs).  The flags only describe the
   * fd (for messages and `reopen`); `ownsFd: true` makes `file.close()` close it.
   */
  fromFd(fd: number, options?: AioOpenFlags & { path?: string; ownsFd?: boolean }): AioFile {
    return this.#files.fromFd(fd, options);
  }

  /**
   * Renames `from` to `to`, replacing `to` if it exists (rename(2); on
   * Windows MoveFileEx with replace, as node:fs does).  With `durable`
   * (the default) the new name then survives a power cut on POSIX: the
   * destination directory is fsynced through the method, and the source
   * directory when it differs.  On Windows there is no directory fsync;
   * NTFS journals the rename itself.  Rejects with AioIoError (syscall
   * `rename`, `open` or `fsync`), with AioUsageError for bad arguments.
   */
  rename(from: string | URL, to: string | URL, options?: AioRenameOptions): Promise<void> {
    return this.#files.rename(from, to, options);
  }

  /** {@link rename}, synchronously: node:fs's renameSync, the directory fsyncs on the issuer's thread through the method. */
  renameSync(from: string | URL, to: string | URL, options?: AioRenameOptions): void {
    this.#files.renameSync(from, to, options);
  }

  /**
   * Makes a directory's entries durable (files created, renamed or removed
   * in it): opens it, fsyncs it through the method, closes it.  On Windows
   * it resolves at once: there is no directory fsync there.
   */
  syncDirectory(path: string | URL): Promise<void> {
    return this.#files.syncDirectory(path);
  }

  /** {@link syncDirectory}, synchronously. */
  syncDirectorySync(path: string | URL): void {
    this.#files.syncDirectorySync(path);
  }

  /** @internal file.close()/closeSync(). */
  _closeFile(file: AioFile, sync: boolean): Promise<void> | void {
    return this.#files.close(file, sync);
  }

  /** @internal The convenience Promise API (see promise-api.ts). */
  _runPromiseIo(
    op: AioOpCode,
    file: AioFile,
    buffer: ArrayBufferView | null,
    buffers: ArrayBufferView[] | null,
    offset: number,
    length: number,
    signal: AbortSignal | undefined,
    flags = 0,
  ): Promise<number> {
    return this.#promises.run(op, file, buffer, buffers, offset, length, signal, flags);
  }

  /**
   * Raises a result: throws AioIoError for `error`; emits a process warning
   * for `warning`; does nothing for `ok` and `partial` (the issuer retries a
   * partial IO itself).
   */
  reportResult(ret: AioReturn): void {
    if (!isAioReturn(ret)) throw new AioUsageError('AIO_ERR_INVALID_TYPE', `reportResult needs an AioReturn, got ${describeValue(ret)}`);
    const status = ret.result.status;
    if (status === 'error') throw ret.toError();
    if (status === 'warning') process.emitWarning(ret.toError().message, { code: 'AIO_IO_WARNING' });
  }

  /** One row per handle that is not idle, like PostgreSQL's `pg_aios` view. */
  inspect(): AioHandleRow[] {
    return inspectHandles(this.#handles);
  }

  /** Counters since creation, plus what is handed out, staged and in flight right now. */
  stats(): AioStats {
    return statsOf(this.methodName, this.#method, this.#counters, {
      inFlight: this.#inflightCount,
      staged: this.#stagedCount,
      handedOut: this.#handedOut === null ? 0 : 1,
      queued: this.#promises.queued,
    });
  }

  // ---------------------------------------------------------------------
  // Closing.
  // ---------------------------------------------------------------------

  /**
   * Closes the context: leaves batch mode, releases a handed-out handle (with
   * a warning, like PostgreSQL's "leaked AIO handle"), rejects queued
   * convenience calls, submits what is staged, waits for every IO in flight,
   * closes the files it opened, and frees the method.  Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing === null) {
      // A refused close (from inside a callback) rejects and commits to nothing.
      const refusal = this.#closeRefusal(false);
      if (refusal !== undefined) return Promise.reject(refusal);
      this.#closing = this.#close(false) as Promise<void>;
    }
    return this.#closing;
  }

  /**
   * Like {@link close}, but waits for in-flight IO by blocking the thread.
   * A refused call (inside a completion callback, or on a method that cannot
   * wait while IO is in flight) throws before anything changed: the context
   * stays open and can be closed later.
   */
  closeSync(): void {
    if (this.#closing !== null) {
      if (this.#state === 'closed') return;
      throw new AioUsageError('AIO_ERR_CLOSED', 'close() is already in progress');
    }
    const refusal = this.#closeRefusal(true);
    if (refusal !== undefined) throw refusal;
    this.#closing = RESOLVED;
    this.#close(true);
  }

  /** Why closing cannot start now, checked before the context commits to closing; undefined if it can. */
  #closeRefusal(sync: boolean): AioUsageError | undefined {
    if (this.#callbackDepth > 0 || this.#completionDepth > 0) {
      return new AioUsageError('AIO_ERR_IN_CALLBACK', `${sync ? 'closeSync' : 'close'} is not allowed inside a completion callback`);
    }
    if (sync && this.#method.waitOne === undefined && (this.#inflightCount > 0 || this.#stagedCount > 0)) {
      return new AioUsageError('AIO_ERR_CANNOT_WAIT', `the ${this.methodName} method cannot wait synchronously for the IO in flight; use await aio.close()`);
    }
    return undefined;
  }

  #close(sync: boolean): Promise<void> | void {
    this.#beginClose();
    if (sync) {
      while (this.#inflightCount > 0) {
        const oldest = this.#handles[this.#inflightHead];
        this.#waitSyncOn(oldest, oldest.io.generation);
      }
      this.#finishClose();
      return;
    }
    return this.#drainInflight().then(() => this.#finishClose());
  }

  #beginClose(): void {
    if (this.#batchMode) {
      process.emitWarning('aio: open AIO batch at close; its staged IO is submitted', { code: 'AIO_OPEN_BATCH' });
      this.#batchMode = false;
    }
    if (this.#handedOut !== null) {
      process.emitWarning(`aio: leaked AIO handle ${this.#handedOut.index} at close`, { code: 'AIO_LEAKED_HANDLE' });
      const handle = this.#handedOut;
      this.#handedOut = null;
      this.#handedOutToWaiter = null;
      this.#recycle(handle);
    }
    this.#state = 'closing';
    this.#promises.rejectQueued(() => true, () => new AioUsageError('AIO_ERR_CLOSED', 'the AIO context was closed before this IO started'));
    this.#rejectAcquireWaiters(() => new AioUsageError('AIO_ERR_CLOSED', 'the AIO context was closed while acquireAsync waited for a handle'));
    this.#submitStaged();
  }

  async #drainInflight(): Promise<void> {
    while (this.#inflightCount > 0) {
      const oldest = this.#handles[this.#inflightHead];
      await this.waitAsync(oldest.index, oldest.io.generation);
    }
  }

  #finishClose(): void {
    this.#files.closeAll();
    this.#state = 'closed';
    this.#method.close();
  }

  /**
   * Throws unless new work may start.  `what` (with the op, for start*)
   * names the call in the message; the message is built only when thrown,
   * so the check allocates nothing on the hot path.
   */
  #checkUsable(what: string, op?: AioOpCode): void {
    if (this.#state === 'open' && this.#callbackDepth === 0) return;
    const call = op === undefined ? what : `${what}${AIO_OP_NAMES[op]}`;
    if (this.#state !== 'open') throw new AioUsageError('AIO_ERR_CLOSED', `${call} after aio.close(): the AIO context is closed`);
    throw new AioUsageError('AIO_ERR_IN_CALLBACK', `${call} is not allowed inside a completion callback`);
  }

  #checkNotClosed(what: string): void {
    if (this.#state === 'closed') throw new AioUsageError('AIO_ERR_CLOSED', `${what} after aio.close(): the AIO context is closed`);
  }

  /** What the method may call: it names IOs by their views, never by handles. */
  #makeHost(): AioMethodHost {
    const ios = this.#handles.map((handle) => handle.io);
    return {
      ios,
      handles: ios,
      prepareSubmit: (io) => this.#prepareSubmit(this.#handleOf(io)),
      processCompletion: (io, raw) => {
        this.#completeIo(this.#handleOf(io), raw);
        this.#afterHandlesFreed();
      },
      processCompletions: (table, count) => this.#completeMany(table, count),
      performSynchronously: (io, reason) => this.#performSynchronously(this.#handleOf(io), reason),
      executeSynchronously: (io) => executeWithNodeFs(io),
    };
  }

  /** What the files, Promise and inspection modules may do with the core (internals.ts). */
  #makeCore(): AioCore {
    return {
      handles: this.#handles,
      method: this.#method,
      counters: this.#counters,
      checkUsable: (what, op) => this.#checkUsable(what, op),
      checkFile: (file) => this.#checkFile(file),
      isOpen: () => this.#state === 'open',
      canStartQueued: () => this.#state === 'open' && this.#callbackDepth === 0 && this.#handedOut === null,
      takeIdle: () => {
        // An acquireAsync caller that waited longer goes first (FIFO across both queues).
        if (this.#waiterFirst()) return null;
        if (this.#stagedCount >= AIO_SUBMIT_BATCH_SIZE) this.#submitStaged();
        const handle = this.#popIdle();
        if (handle === null) return null;
        if (this.#promises.queued > 0) this.#convenienceStarted++;
        return this.#handOut(handle, undefined);
      },
      define: (handle, op, file, buffer, buffers, offset, length, flags) => this.#define(handle, op, file, buffer, buffers, offset, length, flags),
      pollMethod: () => this.#pollMethod(),
      submitStaged: () => this.#submitStaged(),
      cancel: (handle, generation) => {
        if (handle.io.generation === generation && handle.stateCode === HS_SUBMITTED) {
          this.#counters.cancelRequests++;
          this.#method.cancel?.(handle.io);
        }
      },
      oldestInflightOn: (file) => this.#oldestInflightOn(file),
      waitSync: (handle, generation) => this.#waitSyncOn(handle, generation),
      inflightCount: () => this.#inflightCount,
      stagedCount: () => this.#stagedCount,
      handedOutCount: () => (this.#handedOut === null ? 0 : 1),
    };
  }

  /** Completions in bulk from native code: triples [index, generation & 0xffffffff, raw]. */
  #completeMany(table: Int32Array, count: number): void {
    for (let i = 0; i < count; i++) {
      const handle = this.#handles[table[3 * i]];
      if (handle === undefined || (handle.io.generation | 0) !== table[3 * i + 1]) {
        process.emitWarning(`aio: ${this.methodName} reported a completion for handle ${table[3 * i]} with a stale generation; ignored`, {
          code: 'AIO_METHOD_BUG',
        });
        continue;
      }
      this.#completeIo(handle, table[3 * i + 2]);
    }
    this.#afterHandlesFreed();
  }
}

/** AIO_DEBUG=states: one line per state change. */
function traceState(handle: AioHandle, state: number): void {
  process.stderr.write(`aio: io ${handle.index}|gen ${handle.io.generation}|op ${handle.opName}: ${AIO_HANDLE_STATES[handle.stateCode]} -> ${AIO_HANDLE_STATES[state]}\n`);
}

/** A `start*` call's arguments once checked. */
interface ValidatedIo {
  view: ArrayBufferView | null;
  views: ArrayBufferView[] | null;
  offset: number;
  length: number;
  flags: number;
}

const validated: ValidatedIo = { view: null, views: null, offset: 0, length: 0, flags: 0 };

/**
 * Checks a `start*` call's arguments for its op and returns what the IO
 * holds: a read or write's buffer and length, a vectored IO's buffers, a
 * stat's buffer (32 bytes), a truncate's new length (as the offset), an
 * allocate's range and keep-size flag.
 */
function validateIo(op: AioOpCode, buffer: unknown, buffers: unknown, offset: unknown, length: unknown, keepSize: unknown): ValidatedIo {
  // One reused object (nothing allocated per IO); the caller reads it before anything else can validate.
  const io = validated;
  io.view = null;
  io.views = null;
  io.offset = 0;
  io.length = 0;
  io.flags = 0;
  if (op === 1 || op === 3) {
    io.offset = checkOffset(offset, 'offset');
    io.length = checkBufferBytes(buffer, length, 'buffer', 'length');
    io.view = buffer as ArrayBufferView;
  } else if (op === 2 || op === 4) {
    io.offset = checkOffset(offset, 'offset');
    io.views = checkBufferList(buffers, 'buffers');
    for (const each of io.views) io.length += each.byteLength;
  } else if (op === 7) {
    io.view = checkStatBuffer(buffer, 'buffer');
    io.length = AIO_STAT_BYTES;
  } else if (op === 8) {
    io.offset = checkOffset(offset, 'length');
  } else if (op === 9) {
    [io.offset, io.length] = checkByteRange(offset, length);
    io.flags = checkBoolean(keepSize, 'keepSize', false) ? AIO_FLAG_KEEP_SIZE : 0;
  }
  return io;
}
