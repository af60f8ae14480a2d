/**
 * The AIO context: one per thread (event loop), like a PostgreSQL backend.
 *
 * It owns a fixed pool of handles, the staged and in-flight lists, batch
 * mode, the files it opened and its IO method.  Every handle state change in
 * the library happens in {@link Aio#setState} below; the functions around it
 * are the transitions of the state machine documented in `handle.ts`.
 *
 * Threading: a context and everything it owns is used from the thread that
 * created it.  Methods deliver completions to that thread; callbacks,
 * waiters and Promises all run there.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { callbacksAt, callbacksOf, AIO_MAX_CALLBACKS_PER_HANDLE } from './callbacks.js';
import { AioAbortError, AioUsageError, errnoOf } from './errors.js';
import { AioFile, normalizeOpenFlags, openError, posixOpenFlags, type AioOpenFlags } from './file.js';
import {
  AIO_FLAG_BUFFERED,
  AIO_FLAG_REFERENCES_LOCAL,
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
  type AioHandleState,
} from './handle.js';
import { applyInjection, injectionActive } from './injection.js';
import {
  AIO_OP_NAMES,
  type AioFallbackReason,
  type AioMethod,
  type AioMethodFactory,
  type AioMethodHost,
  type AioMethodName,
  type AioOpCode,
  type AioOpName,
} from './method.js';
import { AioResult, AioReturn, encodeRawResult, type AioResultStatus } from './result.js';
import { executeWithNodeFs, syncMethod } from './sync-method.js';
import { checkBufferList, checkBuffer, checkInteger, checkLength, checkOffset, checkOptions, describeValue } from './validate.js';

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

/** One row of {@link Aio#inspect}, like a row of PostgreSQL's `pg_aios`. */
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

/** Counters since the context was created; see {@link Aio#stats}. */
export interface AioStats {
  /** The method's name. */
  method: AioMethodName;
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

/** A convenience call waiting for a free handle. */
interface QueuedIo {
  op: AioOpCode;
  file: AioFile;
  buffer: ArrayBufferView | null;
  buffers: ArrayBufferView[] | null;
  offset: number;
  length: number;
  signal: AbortSignal | undefined;
  resolve: (value: number) => void;
  reject: (error: unknown) => void;
  onAbort: (() => void) | null;
}

type ContextState = 'open' | 'closing' | 'closed';

const RESOLVED: Promise<void> = Promise.resolve();
const TRACE_STATES = process.env.AIO_DEBUG?.split(',').includes('states') ?? false;
let ECANCELED: number | undefined;

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
  #staged: AioHandle[] = [];
  #submitting: AioHandle[] = [];
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
  readonly #files = new Set<AioFile>();
  readonly #queue: QueuedIo[] = [];
  #drainingQueue = false;
  readonly #host: AioMethodHost;
  readonly #counters = {
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
  };

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
      this.#staged.push(this.#handles[0]);
      this.#submitting.push(this.#handles[0]);
    }
    this.#host = this.#makeHost();
    this.#method = factory.create(this.#host, { maxConcurrency: this.maxConcurrency, options: {} });
    this.methodName = this.#method.name;
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
    if (TRACE_STATES) {
      process.stderr.write(`aio: io ${handle.index}|gen ${handle.generation}|op ${handle.opName}: ${AIO_HANDLE_STATES[handle.stateCode]} -> ${AIO_HANDLE_STATES[state]}\n`);
    }
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
    let handle = this.#popIdle();
    while (handle === null) {
      this.#waitForFreeHandle();
      handle = this.#popIdle();
    }
    return this.#handOut(handle, ret);
  }

  /** Like {@link acquire}, but returns null instead of waiting for IO to complete. */
  tryAcquire(ret?: AioReturn): AioHandle | null {
    this.#checkAcquire(ret);
    let handle = this.#popIdle();
    if (handle === null) {
      this.#pollMethod();
      this.#submitStaged();
      handle = this.#popIdle();
      if (handle === null) return null;
    }
    return this.#handOut(handle, ret);
  }

  #checkAcquire(ret: unknown): void {
    this.#checkUsable('acquire');
    if (ret !== undefined && !(ret instanceof AioReturn)) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `acquire(ret) needs an AioReturn, got ${describeValue(ret)}`);
    }
    if (this.#handedOut !== null) {
      throw new AioUsageError(
        'AIO_ERR_HANDLE_HANDED_OUT',
        `API violation: only one IO can be handed out (handle ${this.#handedOut.index} is handed out; start an IO on it or release it first)`,
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
    this.#waitSyncOn(oldest, oldest.generation);
  }

  #popIdle(): AioHandle | null {
    if (this.#idleCount === 0) return null;
    return this.#handles[this.#idle[--this.#idleCount]];
  }

  /** @internal handle.start*: handed-out → defined → staged, then submitted or executed. */
  _startIo(
    handle: AioHandle,
    op: AioOpCode,
    file: AioFile,
    buffer: unknown,
    buffers: unknown,
    offset: unknown,
    length: unknown,
  ): void {
    this.#checkUsable('start', op);
    this.#checkDefinable(handle, op);
    this.#checkFile(file);
    handle.offset = checkOffset(offset, 'offset');
    if (op === 1 || op === 3) {
      const view = checkBuffer(buffer, 'buffer');
      handle.length = checkLength(length, view, 'length');
      handle.buffer = view;
    } else if (op === 2 || op === 4) {
      const views = checkBufferList(buffers, 'buffers');
      let total = 0;
      for (const view of views) total += view.byteLength;
      handle.length = total;
      handle.buffers = views;
    } else {
      handle.length = 0;
      handle.offset = 0;
    }
    handle.op = op;
    handle.file = file;
    this.#defineAndStage(handle);
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
    if (!(file instanceof AioFile)) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `file must be an AioFile from aio.open(), got ${describeValue(file)}`);
    }
    if (file.aio !== this) {
      throw new AioUsageError('AIO_ERR_FOREIGN_FILE', `${file.describe()} belongs to another AIO context`);
    }
    if (file.closed) {
      throw new AioUsageError('AIO_ERR_FILE_CLOSED', `${file.describe()} is closed`);
    }
  }

  #defineAndStage(handle: AioHandle): void {
    this.#setState(handle, HS_DEFINED);
    this.#handedOut = null;
    this.#counters.started++;
    this.#runStageCallbacks(handle);
    this.#setState(handle, HS_STAGED);
    if (handle.callbackError !== undefined) {
      // A stage callback threw: the IO is not executed; it completes at once
      // with an error result naming that callback.
      this.#prepareSubmit(handle);
      this.#completeIo(handle, 0);
    } else if ((handle.flags & AIO_FLAG_SYNCHRONOUS) !== 0) {
      this.#performSynchronously(handle, 'synchronous-flag');
    } else if (this.#method.needsSynchronousExecution(handle)) {
      this.#performSynchronously(handle, 'method-requires');
    } else {
      this.#staged[this.#stagedCount++] = handle;
      if (!this.#batchMode) this.#submitStaged();
    }
    this.#drainQueue();
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

  #submitBatch(batch: AioHandle[], count: number): void {
    let failure: unknown;
    try {
      this.#method.submit(batch, count);
    } catch (error) {
      failure = error;
    }
    // An IO the method did not take is never lost: it runs synchronously.
    for (let i = 0; i < count; i++) {
      if (batch[i].stateCode === HS_STAGED) this.#performSynchronously(batch[i], 'submit-failed');
    }
    if (failure !== undefined) {
      process.emitWarning(`aio: ${this.methodName} submit failed; ${count} IOs ran synchronously: ${String(failure)}`, { code: 'AIO_SUBMIT_FAILED' });
    }
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
    (handle.file as AioFile).inflight++;
  }

  #performSynchronously(handle: AioHandle, reason: AioFallbackReason): void {
    this.#counters.synchronous++;
    if (reason !== 'synchronous-flag' && this.methodName !== 'sync') this.#counters.fallbacks++;
    this.#prepareSubmit(handle);
    this.#completeIo(handle, this.#executeSynchronously(handle));
  }

  #executeSynchronously(handle: AioHandle): number {
    return this.#method.executeSynchronously !== undefined ? this.#method.executeSynchronously(handle) : executeWithNodeFs(handle);
  }

  /**
   * submitted → completed-io → completed-shared, then reclaim.  Called once
   * per IO with its raw result.
   */
  #completeIo(handle: AioHandle, rawResult: number): void {
    if (handle.stateCode !== HS_SUBMITTED) {
      process.emitWarning(`aio: ${this.methodName} completed handle ${handle.index} in state ${handle.state}; ignored`, { code: 'AIO_METHOD_BUG' });
      return;
    }
    this.#completionDepth++;
    try {
      const raw = injectionActive() ? applyInjection(handle, this.methodName, rawResult) : rawResult;
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

  #unlinkInflight(handle: AioHandle): void {
    const prev = handle.inflightPrev;
    const next = handle.inflightNext;
    if (prev >= 0) this.#handles[prev].inflightNext = next;
    else this.#inflightHead = next;
    if (next >= 0) this.#handles[next].inflightPrev = prev;
    else this.#inflightTail = prev;
    handle.inflightPrev = handle.inflightNext = -1;
    this.#inflightCount--;
    (handle.file as AioFile).inflight--;
  }

  #encodeResult(handle: AioHandle, raw: number): void {
    const result = handle.distilled;
    if (handle.callbackError !== undefined) {
      result.status = 'error';
      result.result = 0;
      result.errno = undefined;
      result.id = handle.scratch.id;
      result.errorData = 0;
      return;
    }
    encodeRawResult(result, AIO_OP_NAMES[handle.op], handle.length, raw);
  }

  /** Shared callbacks, last registered first; a throw becomes an error result. */
  #runSharedCallbacks(handle: AioHandle): void {
    if (handle.callbackError !== undefined) return;
    this.#runCompletionCallbacks(handle, handle.distilled, 'completeShared');
  }

  #runCompletionCallbacks(handle: AioHandle, result: AioResult, phase: 'completeShared' | 'completeLocal'): void {
    for (let i = handle.callbackCount - 1; i >= 0; i--) {
      const id = handle.callbackIds[i];
      const callback = callbacksAt(id)[phase];
      if (callback === undefined) continue;
      this.#callbackDepth++;
      try {
        const next = callback(handle, result, handle.callbackData[i]);
        if (next !== result) {
          if (!(next instanceof AioResult)) throw new TypeError(`${phase} callback must return an AioResult`);
          result.assign(next);
        }
      } catch (error) {
        handle.callbackError = error;
        result.status = 'error';
        result.result = 0;
        result.errno = undefined;
        result.id = id;
        result.errorData = 0;
        return;
      } finally {
        this.#callbackDepth--;
      }
    }
  }

  #count(handle: AioHandle): void {
    const counters = this.#counters;
    counters.completed++;
    if (handle.distilled.status === 'error') counters.errors++;
    if (handle.raw > 0) {
      if (handle.op <= 2) counters.bytesRead += handle.raw;
      else counters.bytesWritten += handle.raw;
    }
  }

  /**
   * completed-shared → completed-local → idle.  Runs local callbacks, fills
   * the issuer's return object, bumps the generation and frees the handle.
   */
  #reclaim(handle: AioHandle): void {
    const local = handle.scratch.assign(handle.distilled);
    this.#runCompletionCallbacks(handle, local, 'completeLocal');
    this.#setState(handle, HS_COMPLETED_LOCAL);
    const ret = handle.ret;
    if (ret !== null) this.#fillReturn(handle, ret, local);
    const resolve = handle.settleResolve;
    if (resolve === null) {
      this.#recycle(handle);
      return;
    }
    // A convenience call: settle its Promise after the handle is free again
    // (the settlement only queues microtasks, but it reads the handle's own
    // return object, which nobody can reuse before this function returns).
    const reject = handle.settleReject as (e: unknown) => void;
    const signal = handle.settleSignal;
    if (signal !== null) signal.removeEventListener('abort', handle.settleOnAbort as () => void);
    this.#recycle(handle);
    this.#settlePromise(ret as AioReturn, resolve, reject, signal);
  }

  #fillReturn(handle: AioHandle, ret: AioReturn, local: AioResult): void {
    ret.result.assign(local);
    const target = ret.target;
    target.op = AIO_OP_NAMES[handle.op];
    target.path = handle.file?.path;
    target.offset = handle.offset;
    target.length = handle.length;
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
    handle.file = null;
    handle.buffer = null;
    handle.buffers = null;
    handle.ret = null;
    handle.settleResolve = null;
    handle.settleReject = null;
    handle.settleSignal = null;
    handle.settleOnAbort = null;
    handle.flags = 0;
    handle.op = 0;
    handle.callbackCount = 0;
    handle.handleData = null;
    handle.callbackError = undefined;
    handle.methodData = null;
    handle.generation++;
    this.#setState(handle, HS_IDLE);
    this.#idle[this.#idleCount++] = handle.index;
  }

  /** @internal handle.release(): handed-out → idle. */
  _release(handle: AioHandle): void {
    this.#checkUsable('release');
    if (handle !== this.#handedOut || handle.stateCode !== HS_HANDED_OUT) {
      throw new AioUsageError('AIO_ERR_HANDLE_STATE', `release in unexpected state: handle ${handle.index} is ${handle.state}, not the handed-out handle`);
    }
    this.#handedOut = null;
    this.#recycle(handle);
    this.#drainQueue();
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
    if (handle.generation !== generation) return 'done';
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
    if (handle.generation !== generation || handle.stateCode !== HS_SUBMITTED) return RESOLVED;
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
    while (handle.generation === generation && handle.stateCode === HS_SUBMITTED) {
      waitOne.call(this.#method, handle, generation);
    }
  }

  /** @internal ref.isDone() */
  isDone(index: number, generation: number): boolean {
    this.#checkNotClosed('isDone');
    const handle = this.#handleFor(index);
    if (handle.generation !== generation) return true;
    const state = handle.stateCode;
    if (state >= HS_COMPLETED_SHARED || state === HS_IDLE) return true;
    if (state !== HS_SUBMITTED) return false;
    this.#pollMethod();
    return handle.generation !== generation || handle.stateCode >= HS_COMPLETED_SHARED;
  }

  /** Collects completions the method has ready, unless completions are being processed already. */
  #pollMethod(): void {
    if (this.#inflightCount > 0 && this.#completionDepth === 0 && this.#method.poll !== undefined) this.#method.poll();
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
    this.#drainQueue();
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
  // Files and the convenience API.
  // ---------------------------------------------------------------------

  /** Opens a file for IO through this context.  Throws AioIoError (syscall 'open') if the OS refuses. */
  open(path: string | URL, flags?: AioOpenFlags): AioFile {
    this.#checkUsable('open');
    const filePath = path instanceof URL ? fileURLToPath(path) : path;
    if (typeof filePath !== 'string' || filePath.length === 0) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `path must be a non-empty string or file URL, got ${describeValue(path)}`);
    }
    const normalized = normalizeOpenFlags(flags);
    if (normalized.direct && !this.#method.capabilities.direct) {
      throw new AioUsageError('AIO_ERR_UNSUPPORTED', `the ${this.methodName} method cannot do direct I/O on ${process.platform}`);
    }
    let fd: number;
    if (this.#method.openFile !== undefined) {
      fd = this.#method.openFile(filePath, normalized);
    } else {
      const bits = posixOpenFlags(normalized);
      try {
        fd = fs.openSync(filePath, bits, normalized.mode);
      } catch (error) {
        throw openError(error, filePath, this.methodName);
      }
    }
    const file = new AioFile(this, fd, filePath, normalized, true);
    this.#files.add(file);
    return file;
  }

  /**
   * Wraps a POSIX fd opened elsewhere (node:fs).  The flags only describe the
   * fd (for messages and `reopen`); `ownsFd: true` makes `file.close()` close it.
   */
  fromFd(fd: number, options?: AioOpenFlags & { path?: string; ownsFd?: boolean }): AioFile {
    this.#checkUsable('fromFd');
    checkInteger(fd, 'fd', 0, 0x7fff_ffff);
    if (this.#method.capabilities.fileKind !== 'fd') {
      throw new AioUsageError('AIO_ERR_UNSUPPORTED', `the ${this.methodName} method uses its own file handles; open files with aio.open()`);
    }
    const { path, ownsFd, ...flags } = checkOptions<AioOpenFlags & { path?: string; ownsFd?: boolean }>(options, 'options', [
      'path',
      'ownsFd',
      'read',
      'write',
      'direct',
      'dsync',
    ]);
    if (path !== undefined && typeof path !== 'string') throw new AioUsageError('AIO_ERR_INVALID_TYPE', 'options.path must be a string');
    const file = new AioFile(this, fd, path, normalizeOpenFlags({ write: true, ...flags }), ownsFd === true);
    this.#files.add(file);
    return file;
  }

  /** @internal file.close()/closeSync(). */
  _closeFile(file: AioFile, sync: boolean): Promise<void> | void {
    this.#rejectQueued((queued) => queued.file === file, () => new AioUsageError('AIO_ERR_FILE_CLOSED', `${file.describe()} was closed before this IO started`));
    if (this.#state === 'open') this.#submitStaged();
    if (this.#method.waitOnFileBeforeClose && file.inflight > 0) {
      if (sync) {
        this.#waitForFileSync(file);
      } else {
        return this.#waitForFileAsync(file).then(() => this.#closeFd(file));
      }
    }
    this.#closeFd(file);
    return sync ? undefined : RESOLVED;
  }

  #waitForFileSync(file: AioFile): void {
    for (let handle = this.#oldestOn(file); handle !== null; handle = this.#oldestOn(file)) {
      this.#waitSyncOn(handle, handle.generation);
    }
  }

  async #waitForFileAsync(file: AioFile): Promise<void> {
    for (let handle = this.#oldestOn(file); handle !== null; handle = this.#oldestOn(file)) {
      await this.waitAsync(handle.index, handle.generation);
    }
  }

  #oldestOn(file: AioFile): AioHandle | null {
    for (let i = this.#inflightHead; i >= 0; i = this.#handles[i].inflightNext) {
      if (this.#handles[i].file === file) return this.#handles[i];
    }
    return null;
  }

  #closeFd(file: AioFile): void {
    if (file.fd < 0) return;
    try {
      if (this.#method.closeFile !== undefined) this.#method.closeFile(file);
      else if (file.ownsFd) fs.closeSync(file.fd);
    } finally {
      file.fd = -1;
      this.#files.delete(file);
    }
  }

  /**
   * @internal The convenience Promise API: one IO on a free handle, or queued
   * until a handle is free.  Outside batch mode the IO is submitted at once.
   */
  _runPromiseIo(
    op: AioOpCode,
    file: AioFile,
    buffer: ArrayBufferView | null,
    buffers: ArrayBufferView[] | null,
    offset: number,
    length: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    this.#checkUsable(AIO_OP_NAMES[op]);
    this.#checkFile(file);
    if (signal?.aborted) return Promise.reject(new AioAbortError(undefined, { cause: signal.reason }));
    if (this.#queue.length === 0 && this.#handedOut === null) {
      const handle = this.#popIdle();
      if (handle !== null) return this.#startPromiseIo(handle, op, file, buffer, buffers, offset, length, signal);
    }
    return new Promise<number>((resolve, reject) => {
      const queued: QueuedIo = { op, file, buffer, buffers, offset, length, signal, resolve, reject, onAbort: null };
      if (signal !== undefined) {
        queued.onAbort = () => {
          const at = this.#queue.indexOf(queued);
          if (at >= 0) this.#queue.splice(at, 1);
          reject(new AioAbortError(undefined, { cause: signal.reason }));
        };
        signal.addEventListener('abort', queued.onAbort, { once: true });
      }
      this.#queue.push(queued);
      this.#pollMethod();
      this.#submitStaged();
    });
  }

  #startPromiseIo(
    handle: AioHandle,
    op: AioOpCode,
    file: AioFile,
    buffer: ArrayBufferView | null,
    buffers: ArrayBufferView[] | null,
    offset: number,
    length: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    this.#handOut(handle, handle.ownReturn);
    const promise = new Promise<number>((resolve, reject) => {
      handle.settleResolve = resolve;
      handle.settleReject = reject;
    });
    if (signal !== undefined) this.#watchSignal(handle, signal);
    handle.op = op;
    handle.file = file;
    handle.offset = offset;
    handle.length = length;
    handle.buffer = buffer;
    handle.buffers = buffers;
    this.#defineAndStage(handle);
    return promise;
  }

  /**
   * An abort after the IO reached the method asks the method to cancel it.
   * The Promise then settles with what really happened: AbortError if the OS
   * cancelled it (ECANCELED), the normal result otherwise.
   */
  #watchSignal(handle: AioHandle, signal: AbortSignal): void {
    const generation = handle.generation;
    const onAbort = (): void => {
      if (handle.generation === generation && handle.stateCode === HS_SUBMITTED) {
        this.#counters.cancelRequests++;
        this.#method.cancel?.(handle);
      }
    };
    handle.settleSignal = signal;
    handle.settleOnAbort = onAbort;
    signal.addEventListener('abort', onAbort, { once: true });
  }

  /** Settles a convenience Promise from its return object, the way node:fs would. */
  #settlePromise(ret: AioReturn, resolve: (n: number) => void, reject: (e: unknown) => void, signal: AbortSignal | null): void {
    const result = ret.result;
    if (result.status !== 'error') {
      resolve(result.result);
      return;
    }
    ECANCELED ??= errnoOf('ECANCELED');
    if (signal !== null && signal.aborted && result.errno === ECANCELED) {
      reject(new AioAbortError('The operation was aborted; the IO was cancelled by the OS', { cause: signal.reason }));
    } else if (result.errno === undefined && ret.cause === undefined && (ret.target.op === 'read' || ret.target.op === 'readv')) {
      resolve(0); // End of file: node:fs resolves a read there with 0 bytes.
    } else {
      reject(ret.toError());
    }
  }

  /** Starts queued convenience IOs while handles are free; never recursive. */
  #drainQueue(): void {
    if (this.#drainingQueue || this.#queue.length === 0 || this.#callbackDepth > 0 || this.#state !== 'open') return;
    this.#drainingQueue = true;
    try {
      while (this.#queue.length > 0 && this.#handedOut === null) {
        if (this.#stagedCount >= AIO_SUBMIT_BATCH_SIZE) this.#submitStaged();
        const handle = this.#popIdle();
        if (handle === null) break;
        const queued = this.#queue.shift() as QueuedIo;
        if (queued.onAbort !== null) queued.signal?.removeEventListener('abort', queued.onAbort);
        if (queued.file.closed) {
          this.#idle[this.#idleCount++] = handle.index;
          queued.reject(new AioUsageError('AIO_ERR_FILE_CLOSED', `${queued.file.describe()} was closed before this IO started`));
          continue;
        }
        const { op, file, buffer, buffers, offset, length, signal } = queued;
        this.#startPromiseIo(handle, op, file, buffer, buffers, offset, length, signal).then(queued.resolve, queued.reject);
      }
    } finally {
      this.#drainingQueue = false;
    }
  }

  #rejectQueued(match: (queued: QueuedIo) => boolean, error: () => Error): void {
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      const queued = this.#queue[i];
      if (!match(queued)) continue;
      this.#queue.splice(i, 1);
      if (queued.onAbort !== null) queued.signal?.removeEventListener('abort', queued.onAbort);
      queued.reject(error());
    }
  }

  // ---------------------------------------------------------------------
  // Reporting, inspection, statistics.
  // ---------------------------------------------------------------------

  /**
   * Raises a result: throws AioIoError for `error`; emits a process warning
   * for `warning`; does nothing for `ok` and `partial` (the issuer retries a
   * partial IO itself).
   */
  reportResult(ret: AioReturn): void {
    if (!(ret instanceof AioReturn)) throw new AioUsageError('AIO_ERR_INVALID_TYPE', `reportResult needs an AioReturn, got ${describeValue(ret)}`);
    const status = ret.result.status;
    if (status === 'error') throw ret.toError();
    if (status === 'warning') process.emitWarning(ret.toError().message, { code: 'AIO_IO_WARNING' });
  }

  /** One row per handle that is not idle, like PostgreSQL's `pg_aios` view. */
  inspect(): AioHandleRow[] {
    const rows: AioHandleRow[] = [];
    for (const handle of this.#handles) {
      if (handle.stateCode === HS_IDLE) continue;
      const defined = handle.stateCode !== HS_HANDED_OUT;
      const completed = handle.stateCode >= HS_COMPLETED_IO;
      rows.push({
        index: handle.index,
        generation: handle.generation,
        state: handle.state,
        op: defined ? handle.opName : undefined,
        offset: defined ? handle.offset : undefined,
        length: defined ? handle.length : undefined,
        target: defined ? handle.describeTarget() : undefined,
        rawResult: completed ? handle.raw : undefined,
        result: handle.stateCode >= HS_COMPLETED_SHARED ? handle.distilled.status : undefined,
        flags: {
          synchronous: (handle.flags & AIO_FLAG_SYNCHRONOUS) !== 0,
          referencesLocal: (handle.flags & AIO_FLAG_REFERENCES_LOCAL) !== 0,
          buffered: (handle.flags & AIO_FLAG_BUFFERED) !== 0,
        },
      });
    }
    return rows;
  }

  /** Counters since creation, plus what is handed out, staged and in flight right now. */
  stats(): AioStats {
    return {
      method: this.methodName,
      ...this.#counters,
      inFlight: this.#inflightCount,
      staged: this.#stagedCount,
      handedOut: this.#handedOut === null ? 0 : 1,
      queued: this.#queue.length,
      methodStats: this.#method.stats?.() ?? {},
    };
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
    this.#closing ??= this.#close(false) as Promise<void>;
    return this.#closing;
  }

  /** Like {@link close}, but waits for in-flight IO by blocking the thread. */
  closeSync(): void {
    if (this.#closing !== null) {
      if (this.#state === 'closed') return;
      throw new AioUsageError('AIO_ERR_CLOSED', 'close() is already in progress');
    }
    this.#closing = RESOLVED;
    this.#close(true);
  }

  #close(sync: boolean): Promise<void> | void {
    this.#beginClose();
    if (sync) {
      while (this.#inflightCount > 0) {
        const oldest = this.#handles[this.#inflightHead];
        this.#waitSyncOn(oldest, oldest.generation);
      }
      this.#finishClose();
      return;
    }
    return this.#drainInflight().then(() => this.#finishClose());
  }

  #beginClose(): void {
    if (this.#callbackDepth > 0) throw new AioUsageError('AIO_ERR_IN_CALLBACK', 'close is not allowed inside a completion callback');
    if (this.#batchMode) {
      process.emitWarning('aio: open AIO batch at close; its staged IO is submitted', { code: 'AIO_OPEN_BATCH' });
      this.#batchMode = false;
    }
    if (this.#handedOut !== null) {
      process.emitWarning(`aio: leaked AIO handle ${this.#handedOut.index} at close`, { code: 'AIO_LEAKED_HANDLE' });
      const handle = this.#handedOut;
      this.#handedOut = null;
      this.#recycle(handle);
    }
    this.#state = 'closing';
    this.#rejectQueued(() => true, () => new AioUsageError('AIO_ERR_CLOSED', 'the AIO context was closed before this IO started'));
    this.#submitStaged();
  }

  async #drainInflight(): Promise<void> {
    while (this.#inflightCount > 0) {
      const oldest = this.#handles[this.#inflightHead];
      await this.waitAsync(oldest.index, oldest.generation);
    }
  }

  #finishClose(): void {
    for (const file of [...this.#files]) this.#closeFd(file);
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

  #makeHost(): AioMethodHost {
    const handles = this.#handles;
    return {
      handles,
      prepareSubmit: (handle) => this.#prepareSubmit(handle),
      processCompletion: (handle, raw) => {
        this.#completeIo(handle, raw);
        this.#drainQueue();
      },
      processCompletions: (table, count) => this.#completeMany(table, count),
      performSynchronously: (handle, reason) => this.#performSynchronously(handle, reason),
      executeSynchronously: (handle) => executeWithNodeFs(handle),
    };
  }

  /** Completions in bulk from native code: triples [index, generation & 0xffffffff, raw]. */
  #completeMany(table: Int32Array, count: number): void {
    for (let i = 0; i < count; i++) {
      const handle = this.#handles[table[3 * i]];
      if (handle === undefined || (handle.generation | 0) !== table[3 * i + 1]) {
        process.emitWarning(`aio: ${this.methodName} reported a completion for handle ${table[3 * i]} with a stale generation; ignored`, {
          code: 'AIO_METHOD_BUG',
        });
        continue;
      }
      this.#completeIo(handle, table[3 * i + 2]);
    }
    this.#drainQueue();
  }
}

