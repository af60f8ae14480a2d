/**
 * AIO handles and wait references.
 *
 * A context owns a fixed pool of handles.  A handle carries one IO at a
 * time; it is reused as soon as that IO completed, and its generation number
 * goes up on every reuse, so a wait reference (index + generation) taken for
 * one IO is never confused with a later IO on the same handle.
 *
 * The states and their transitions (every change goes through
 * `Aio#setState`, the one function that changes a handle's state):
 *
 *   idle ──acquire──▶ handed-out ──start*──▶ defined ──stage cbs──▶ staged
 *     ▲                   │                                           │
 *     │                release                         submit (or run synchronously)
 *     │                   │                                           ▼
 *     └──── reclaim ◀─────┴──── completed-local ◀── completed-shared ◀── completed-io ◀── submitted
 *
 * - `idle`: free, on the context's idle stack.
 * - `handed-out`: returned by `acquire()`; the op is not known yet.  At most
 *   one handle per context is in this state (the one-handed-out rule).
 * - `defined`: a `start*` call filled in the op, file, buffers and offset.
 * - `staged`: the stage callbacks ran; the IO waits to be submitted (in
 *   batch mode, or until the end of the `start*` call outside it).
 * - `submitted`: the method has the IO; it is on the in-flight list.
 * - `completed-io`: the raw result is known; shared callbacks have not run.
 * - `completed-shared`: shared callbacks ran; waiters have been woken.
 * - `completed-local`: local callbacks ran; the issuer's return object is filled.
 * Reclaim bumps the generation and puts the handle back to `idle`.  A
 * `start*` that throws (bad arguments, a closed file, a detached buffer)
 * takes the `release` edge: the handle is idle again, never left handed out.
 */
import { AioUsageError } from './errors.js';
import type { Aio } from './aio.js';
import type { AioFile } from './file.js';
import { AioIo } from './io.js';
import { AIO_OP_NAMES, type AioOpCode, type AioOpName } from './method.js';
import { AioResult, AioReturn } from './result.js';
import { isAioWaitRef } from './copies.js';

export type AioHandleState =
  | 'idle'
  | 'handed-out'
  | 'defined'
  | 'staged'
  | 'submitted'
  | 'completed-io'
  | 'completed-shared'
  | 'completed-local';

/** State names by their numeric code (the code is what the hot path compares). */
export const AIO_HANDLE_STATES: readonly AioHandleState[] = [
  'idle',
  'handed-out',
  'defined',
  'staged',
  'submitted',
  'completed-io',
  'completed-shared',
  'completed-local',
];

export const HS_IDLE = 0;
export const HS_HANDED_OUT = 1;
export const HS_DEFINED = 2;
export const HS_STAGED = 3;
export const HS_SUBMITTED = 4;
export const HS_COMPLETED_IO = 5;
export const HS_COMPLETED_SHARED = 6;
export const HS_COMPLETED_LOCAL = 7;

/**
 * Handle flags, set while the handle is handed out (they OR together):
 * - `synchronous`: a hint that the IO will be waited for at once, so running
 *   it synchronously is cheaper;
 * - `references-local`: the IO references memory only this thread can see;
 *   methods that execute on other threads must run it synchronously;
 * - `buffered`: the IO goes through the page cache (io_uring uses it to
 *   decide on IOSQE_ASYNC).
 */
export type AioHandleFlag = 'synchronous' | 'references-local' | 'buffered';

export const AIO_FLAG_SYNCHRONOUS = 1;
export const AIO_FLAG_REFERENCES_LOCAL = 2;
export const AIO_FLAG_BUFFERED = 4;

const FLAG_BITS: Record<AioHandleFlag, number> = {
  synchronous: AIO_FLAG_SYNCHRONOUS,
  'references-local': AIO_FLAG_REFERENCES_LOCAL,
  buffered: AIO_FLAG_BUFFERED,
};

/** The most values one handle's data array can hold (PostgreSQL's PG_IOV_MAX). */
export const AIO_MAX_HANDLE_DATA = 128;

/**
 * One IO slot of a context.  Users get one from `aio.acquire()`, define an IO
 * on it with one `start*` call, and never touch it again after that call:
 * the IO may complete and the handle be reused before `start*` returns.
 *
 * The IO's description lives in {@link AioHandle.io}, the only part IO
 * methods see; the getters below read it.  Everything else on a handle
 * belongs to the core.
 */
export class AioHandle {
  /** The position of this handle in its context's pool. */
  readonly index: number;
  /** The description of the current IO: what IO methods see of this handle. */
  readonly io: AioIo;

  /** @internal The numeric state; see {@link AIO_HANDLE_STATES}. */
  stateCode = HS_IDLE;
  /** The raw result, once known: bytes, or -errno. */
  raw = 0;
  /** The result after shared callbacks: what every waiter sees. */
  readonly distilled = new AioResult();

  /** @internal */ readonly aio: Aio;
  /** @internal The issuer's return object, filled at reclaim. */
  ret: AioReturn | null = null;
  /** @internal Registered callback ids and their data values, in registration order. */
  readonly callbackIds: number[] = [0, 0, 0, 0];
  /** @internal */ readonly callbackData: number[] = [0, 0, 0, 0];
  /** @internal */ callbackCount = 0;
  /** @internal */ handleData: readonly number[] | null = null;
  /** @internal What a throwing callback threw. */
  callbackError: unknown = undefined;
  /** @internal Neighbours on the in-flight list (handle indexes, -1 for none). */
  inflightPrev = -1;
  /** @internal */ inflightNext = -1;
  /** @internal Resolves the Promise of `wait()` callers for the current generation. */
  wakeWaiters: (() => void) | null = null;
  /** @internal */ waitPromise: Promise<void> | null = null;
  /** @internal Whether the convenience API started this IO and settles a Promise at reclaim. */
  settles = false;
  /** @internal */ readonly scratch = new AioResult();
  /**
   * @internal When the IO runs on bounce memory (the caller's memory could be
   * detached while the IO is in flight): the caller's view, while `io.buffer`
   * is the bounce buffer the method uses.  Restored at completion.
   */
  userBuffer: ArrayBufferView | null = null;
  /** @internal The same for vectored IO: the caller's views, while `io.buffers` holds the method's. */
  userBuffers: ArrayBufferView[] | null = null;
  /** @internal The bounce buffers to give back at completion, by position (null where no copy was made). */
  bounceBuffers: (Buffer | null)[] | null = null;
  /** @internal The bounce buffer of a single-buffer IO. */
  bounceBuffer: Buffer | null = null;
  /**
   * @internal The caller's buffer of a `stat`, while `io.buffer` is the
   * context's stat slot the method fills; the four numbers are copied into
   * it at completion (so no caller memory ever reaches the method).
   */
  statTarget: ArrayBufferView | null = null;

  /** @internal Handles are created by their context only. */
  constructor(aio: Aio, index: number) {
    this.aio = aio;
    this.index = index;
    this.io = new AioIo(index);
  }

  /** Goes up by one every time the handle is reused; starts at 1. */
  get generation(): number {
    return this.io.generation;
  }

  /** The op code of the current IO. */
  get op(): AioOpCode {
    return this.io.op;
  }

  /** The file of the current IO. */
  get file(): AioFile | null {
    return this.io.file;
  }

  /** Byte offset of the current IO. */
  get offset(): number {
    return this.io.offset;
  }

  /** Bytes the current IO asks for (the sum of all buffers for vectored IO). */
  get length(): number {
    return this.io.length;
  }

  /** The buffer of a read or write; null for vectored IO and syncs. */
  get buffer(): ArrayBufferView | null {
    return this.io.buffer;
  }

  /** The buffers of a readv or writev; null otherwise.  A private copy of the caller's array. */
  get buffers(): ArrayBufferView[] | null {
    return this.io.buffers;
  }

  /** OR of AIO_FLAG_* bits. */
  get flags(): number {
    return this.io.flags;
  }

  /** The method's per-IO bookkeeping (see {@link AioIoView.methodData}). */
  get methodData(): unknown {
    return this.io.methodData;
  }

  set methodData(value: unknown) {
    this.io.methodData = value;
  }

  /** The current state, as a name. */
  get state(): AioHandleState {
    return AIO_HANDLE_STATES[this.stateCode];
  }

  /** The current op, as a name. */
  get opName(): AioOpName {
    return AIO_OP_NAMES[this.io.op];
  }

  /** Whether a flag is set. */
  hasFlag(flag: AioHandleFlag): boolean {
    return (this.io.flags & FLAG_BITS[flag]) !== 0;
  }

  /**
   * Sets a flag.  Only while handed out (before the IO is defined), because
   * the method decides how to run the IO when it is staged.
   */
  setFlag(flag: AioHandleFlag): void {
    this.aio._checkHandedOut(this, 'setFlag');
    const bit = FLAG_BITS[flag];
    if (bit === undefined) {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `unknown flag ${JSON.stringify(flag)}; known: ${Object.keys(FLAG_BITS).join(', ')}`);
    }
    this.io.flags |= bit;
  }

  /**
   * Fills `into` (or a new reference) with this handle's index and current
   * generation.  Take it before `start*`: once started, the handle may be
   * reused at any moment.
   */
  getWaitRef(into?: AioWaitRef): AioWaitRef {
    this.aio._checkCanReference(this);
    const ref = into ?? new AioWaitRef();
    if (!isAioWaitRef(ref)) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', 'getWaitRef(into) needs an AioWaitRef');
    }
    ref.aio = this.aio;
    ref.index = this.index;
    ref.generation = this.io.generation;
    return ref;
  }

  /**
   * Registers callbacks by id with a small data value, before `start*`.
   * At most 4 per handle; each phase runs them last-registered first.
   */
  registerCallbacks(id: number, data = 0): void {
    this.aio._registerCallbacks(this, id, data);
  }

  /** Attaches one array of numbers to the IO, shared by all its callbacks.  Once, while handed out. */
  setHandleData(values: readonly number[]): void {
    this.aio._setHandleData(this, values);
  }

  /** The array given to {@link setHandleData}, or an empty array. */
  getHandleData(): readonly number[] {
    return this.handleData ?? [];
  }

  /** Reads `file` at `offset` into `buffer` (the first `length` bytes of it). */
  startRead(file: AioFile, buffer: ArrayBufferView, offset: number | bigint, length?: number): void {
    this.aio._startReadWrite(this, 1, file, buffer, offset, length);
  }

  /** Reads `file` at `offset` into `buffers`, in order (preadv). */
  startReadv(file: AioFile, buffers: readonly ArrayBufferView[], offset: number | bigint): void {
    this.aio._startIo(this, 2, file, null, buffers, offset, undefined);
  }

  /** Writes the first `length` bytes of `buffer` to `file` at `offset`. */
  startWrite(file: AioFile, buffer: ArrayBufferView, offset: number | bigint, length?: number): void {
    this.aio._startReadWrite(this, 3, file, buffer, offset, length);
  }

  /** Writes `buffers`, in order, to `file` at `offset` (pwritev). */
  startWritev(file: AioFile, buffers: readonly ArrayBufferView[], offset: number | bigint): void {
    this.aio._startIo(this, 4, file, null, buffers, offset, undefined);
  }

  /** Flushes `file`'s data and metadata to stable storage. */
  startFsync(file: AioFile): void {
    this.aio._startIo(this, 5, file, null, null, 0, undefined);
  }

  /** Flushes `file`'s data (and the metadata needed to read it back). */
  startFdatasync(file: AioFile): void {
    this.aio._startIo(this, 6, file, null, null, 0, undefined);
  }

  /**
   * Fills `buffer` (at least 32 bytes, at a multiple of 8) with four float64
   * from fstat: size, allocated bytes, preferred IO block size, modification
   * time in ms (see AIO_STAT_FIELDS).  The result is 0 or -errno.
   */
  startStat(file: AioFile, buffer: ArrayBufferView): void {
    this.aio._startIo(this, 7, file, buffer, null, 0, undefined);
  }

  /** Sets `file`'s length to `length` bytes (ftruncate): cut, or extended with zeros. */
  startTruncate(file: AioFile, length: number | bigint): void {
    this.aio._startIo(this, 8, file, null, null, length, undefined);
  }

  /**
   * Reserves `length` bytes at `offset` (fallocate mode 0: the file grows if
   * the range ends past it; with `keepSize` it keeps its size).  The result
   * is 0, or -EOPNOTSUPP (`ENOTSUP` in Node's names) where the method or the
   * filesystem has no allocation call: `file.allocate()` then extends the
   * file with truncate; here that is the caller's choice.
   */
  startAllocate(file: AioFile, offset: number | bigint, length: number | bigint, keepSize = false): void {
    this.aio._startIo(this, 9, file, null, null, offset, length, keepSize);
  }

  /** Gives back a handed-out handle without defining an IO on it. */
  release(): void {
    this.aio._release(this);
  }

  /** The target of the current IO, e.g. `read of 4096 bytes at offset 0 in file "/x"`. */
  describeTarget(): string {
    return this.io.describeTarget();
  }

  /**
   * Opens the IO's file again, by path, with the same flags, for a method
   * that must execute the IO somewhere the issuer's file cannot be used.
   * Returns a new fd that the caller owns.
   */
  reopenTarget(): number {
    return this.io.reopenTarget();
  }
}

/**
 * A reference to one IO: a handle index and the generation the handle had
 * when the reference was taken.  Any number of references may exist per IO;
 * a reference to an IO whose handle has since been reused is simply done.
 */
export class AioWaitRef {
  /** The handle's index, or -1 for a cleared reference. */
  index = -1;
  /** The handle's generation when the reference was taken (never 0 for a valid one). */
  generation = 0;
  /** @internal */ aio: Aio | null = null;

  /** Whether the reference points at an IO. */
  get valid(): boolean {
    return this.aio !== null && this.index >= 0;
  }

  /** Makes the reference invalid. */
  clear(): void {
    this.aio = null;
    this.index = -1;
    this.generation = 0;
  }

  /**
   * Resolves when the IO has completed (shared callbacks ran, the issuer's
   * return object is filled).  Resolves at once for a completed or recycled
   * IO.  Throws AIO_ERR_WAIT_UNSUBMITTED for one's own IO that is not
   * submitted yet (it would never complete: submit or exit batch mode first).
   */
  wait(): Promise<void> {
    return this.#context().waitAsync(this.index, this.generation);
  }

  /**
   * Blocks the thread until the IO completed, with the method's own wait
   * (io_uring_wait_cqe, a condition variable...).  Same rules as {@link wait}.
   */
  waitSync(): void {
    this.#context().waitSync(this.index, this.generation);
  }

  /** Whether the IO has completed; never blocks (it may collect ready completions). */
  isDone(): boolean {
    return this.#context().isDone(this.index, this.generation);
  }

  #context(): Aio {
    if (this.aio === null || this.index < 0) {
      throw new AioUsageError('AIO_ERR_HANDLE_STATE', 'the wait reference is cleared (take one with handle.getWaitRef() before start*)');
    }
    return this.aio;
  }
}
