/**
 * The convenience Promise API's engine: one IO per call, on a handle, and a
 * queue for calls that find every handle busy.
 *
 * It is built on the context's handle API (see internals.ts): it takes an
 * idle handle with its own return object, defines the IO on it like
 * `start*`, and settles the call's Promise from that return object once the
 * core has recycled the handle.  A call that finds no idle handle waits in
 * a FIFO queue (never blocking the thread) and starts when a handle frees
 * up.  Nothing here allocates per IO beyond the Promise itself: the return
 * objects and the settle functions live in arrays indexed by handle.
 */
import { AioAbortError, AioUsageError, errnoOf } from './errors.js';
import type { AioFile } from './file.js';
import type { AioHandle } from './handle.js';
import type { AioCore } from './internals.js';
import { AIO_OP_NAMES, type AioOpCode } from './method.js';
import { AioReturn } from './result.js';
import { detachedError, isDetached } from './validate.js';

/** A convenience call waiting for a free handle. */
interface QueuedIo {
  op: AioOpCode;
  file: AioFile;
  buffer: ArrayBufferView | null;
  buffers: ArrayBufferView[] | null;
  offset: number;
  length: number;
  signal: AbortSignal | undefined;
  /** IO flags beyond the handle's (AIO_FLAG_KEEP_SIZE of an allocate). */
  flags: number;
  resolve: (value: number) => void;
  reject: (error: unknown) => void;
  onAbort: (() => void) | null;
}

let ECANCELED: number | undefined;

/**
 * The resolving functions of the Promise being made: {@link capture} is the
 * executor of every convenience Promise (one function for all of them, so
 * making a Promise allocates no closure), and the caller takes them out
 * right after `new Promise(capture)` returns.
 */
let capturedResolve: ((bytes: number) => void) | null = null;
let capturedReject: ((error: unknown) => void) | null = null;

function capture(resolve: (bytes: number) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

export class AioPromiseQueue {
  readonly #core: AioCore;
  readonly #queue: QueuedIo[] = [];
  #draining = false;
  /** Per handle index: the return object its convenience IOs use (one per handle: no allocation per IO). */
  readonly #returns: AioReturn[];
  /** Per handle index: the Promise of the convenience call whose IO runs there, and its AbortSignal. */
  readonly #resolve: (((bytes: number) => void) | null)[];
  readonly #reject: (((error: unknown) => void) | null)[];
  readonly #signal: (AbortSignal | null)[];
  readonly #onAbort: ((() => void) | null)[];

  constructor(core: AioCore) {
    this.#core = core;
    const count = core.handles.length;
    this.#returns = Array.from({ length: count }, () => new AioReturn());
    this.#resolve = new Array(count).fill(null);
    this.#reject = new Array(count).fill(null);
    this.#signal = new Array(count).fill(null);
    this.#onAbort = new Array(count).fill(null);
  }

  /** Calls waiting for a free handle. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * One IO whose arguments are validated: on a free handle now, or queued
   * until one is free.  Outside batch mode the IO is submitted at once.
   * Throws (the caller turns it into a rejection) for a closed context or file.
   */
  run(
    op: AioOpCode,
    file: AioFile,
    buffer: ArrayBufferView | null,
    buffers: ArrayBufferView[] | null,
    offset: number,
    length: number,
    signal: AbortSignal | undefined,
    flags = 0,
  ): Promise<number> {
    const core: AioCore = this.#core;
    core.checkUsable(AIO_OP_NAMES[op]);
    core.checkFile(file);
    if (signal?.aborted) return Promise.reject(new AioAbortError(undefined, { cause: signal.reason }));
    if (this.#queue.length === 0 && core.handedOutCount() === 0) {
      const handle = core.takeIdle();
      if (handle !== null) return this.#start(handle, op, file, buffer, buffers, offset, length, signal, flags);
    }
    return new Promise<number>((resolve, reject) => {
      const queued: QueuedIo = { op, file, buffer, buffers, offset, length, signal, flags, resolve, reject, onAbort: null };
      if (signal !== undefined) {
        queued.onAbort = () => {
          const at = this.#queue.indexOf(queued);
          if (at >= 0) this.#queue.splice(at, 1);
          reject(new AioAbortError(undefined, { cause: signal.reason }));
        };
        signal.addEventListener('abort', queued.onAbort, { once: true });
      }
      this.#queue.push(queued);
      core.pollMethod();
      core.submitStaged();
    });
  }

  #start(
    handle: AioHandle,
    op: AioOpCode,
    file: AioFile,
    buffer: ArrayBufferView | null,
    buffers: ArrayBufferView[] | null,
    offset: number,
    length: number,
    signal: AbortSignal | undefined,
    flags: number,
  ): Promise<number> {
    const index = handle.index;
    const ret = this.#returns[index];
    ret.reset();
    handle.ret = ret;
    handle.settles = true;
    const promise = new Promise<number>(capture);
    this.#resolve[index] = capturedResolve;
    this.#reject[index] = capturedReject;
    capturedResolve = null;
    capturedReject = null;
    if (signal !== undefined) this.#watchSignal(handle, signal);
    this.#core.define(handle, op, file, buffer, buffers, offset, length, flags);
    return promise;
  }

  /**
   * An abort after the IO reached the method asks the method to cancel it.
   * The Promise then settles with what really happened: AbortError if the OS
   * cancelled it (ECANCELED), the normal result otherwise.
   */
  #watchSignal(handle: AioHandle, signal: AbortSignal): void {
    const generation = handle.generation;
    const onAbort = (): void => this.#core.cancel(handle, generation);
    this.#signal[handle.index] = signal;
    this.#onAbort[handle.index] = onAbort;
    signal.addEventListener('abort', onAbort, { once: true });
  }

  /** Called by the core once the handle of a convenience IO was recycled: settles its Promise. */
  settle(index: number): void {
    const resolve = this.#resolve[index] as (n: number) => void;
    const reject = this.#reject[index] as (e: unknown) => void;
    const signal = this.#signal[index];
    if (signal !== null) signal.removeEventListener('abort', this.#onAbort[index] as () => void);
    this.#resolve[index] = null;
    this.#reject[index] = null;
    this.#signal[index] = null;
    this.#onAbort[index] = null;
    const ret = this.#returns[index];
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

  /** Starts queued calls while handles are free; never recursive. */
  drain(): void {
    if (this.#draining || this.#queue.length === 0 || !this.#core.canStartQueued()) return;
    this.#draining = true;
    try {
      while (this.#queue.length > 0 && this.#core.handedOutCount() === 0) {
        const queued = this.#queue[0];
        if (queued.file.closed) {
          this.#dequeue(queued).reject(new AioUsageError('AIO_ERR_FILE_CLOSED', `${queued.file.describe()} was closed before this IO started`));
          continue;
        }
        if (anyDetached(queued.buffer, queued.buffers)) {
          // Transferred away while the call waited for a handle: misuse, and no IO to run.
          this.#dequeue(queued).reject(detachedError(queued.buffer !== null ? 'buffer' : 'a buffer of buffers'));
          continue;
        }
        const handle = this.#core.takeIdle();
        if (handle === null) break;
        this.#dequeue(queued);
        const { op, file, buffer, buffers, offset, length, signal, flags } = queued;
        this.#start(handle, op, file, buffer, buffers, offset, length, signal, flags).then(queued.resolve, queued.reject);
      }
    } finally {
      this.#draining = false;
    }
  }

  #dequeue(queued: QueuedIo): QueuedIo {
    this.#queue.shift();
    if (queued.onAbort !== null) queued.signal?.removeEventListener('abort', queued.onAbort);
    return queued;
  }

  /** Rejects the queued calls `match` selects (a closed file's, or all at context close). */
  rejectQueued(match: (file: AioFile) => boolean, error: () => Error): void {
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      const queued = this.#queue[i];
      if (!match(queued.file)) continue;
      this.#queue.splice(i, 1);
      if (queued.onAbort !== null) queued.signal?.removeEventListener('abort', queued.onAbort);
      queued.reject(error());
    }
  }
}

/** Whether a queued call's buffer (or one of its buffers) was detached after the call was made. */
function anyDetached(buffer: ArrayBufferView | null, buffers: readonly ArrayBufferView[] | null): boolean {
  if (buffer !== null) return isDetached(buffer);
  if (buffers !== null) for (const view of buffers) if (isDetached(view)) return true;
  return false;
}
