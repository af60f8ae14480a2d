/**
 * The read stream: PostgreSQL 18's `read_stream.c` on AIO handles.
 *
 * The caller says which block it wants next (a callback returning a block
 * number, or null at the end); the stream keeps reads in flight ahead of the
 * consumer, merges consecutive blocks into one IO of up to `combineLimit`
 * bytes, and adapts how far ahead it looks (its distance, in blocks):
 *
 * - it starts at 1 (or, with `full`, at one full combined read);
 * - a block the caller's buffer pool already holds (`isCached` returned a
 *   buffer: a hit, no IO) lowers it by 1, down to 1;
 * - each time the consumer reaches a block that needed a read, it doubles,
 *   up to the cap: `(maxIos + 1) × combineLimit` in blocks, and at least
 *   `2 × maxIos` blocks.  That is PostgreSQL 18's rule (it doubles after
 *   WaitReadBuffers() whether or not that had to block); PostgreSQL 19 grows
 *   only after a real wait, which here kept a stream over the OS page cache
 *   at distance 1, one read per io_uring_enter, because a page-cache read
 *   completes inside the submission.
 * - the end of the stream sets it to 0; `reset()` sets it back to 1.
 *
 * So a stream over cached data does no IO and looks one block ahead, and a
 * stream that reads ramps up fast to keep `maxIos` reads in flight.  The cap
 * holds at least `2 × maxIos` blocks so that, with one block per read,
 * `maxIos` reads stay in flight while as many completed blocks wait for the
 * consumer.
 *
 * Reads in flight and blocks queued are counted apart.  A read stops counting
 * against `maxIos` when it completes, not when the consumer reaches it, and
 * its slot is refilled at once: every read carries a completion callback
 * that schedules a refill (a microtask: callbacks must not start IO) after
 * the method delivered its batch of completions, so the device queue stays
 * at `maxIos` while the consumer is slow or busy elsewhere (PostgreSQL's
 * stream refills only when the consumer asks for the next buffer; its
 * consumer never awaits, ours may).
 *
 * The consumer may take the blocks one by one (`next()`, `for await`), or
 * every block that is ready at once (`nextBatch()`: one Promise per batch
 * instead of one per block).  Reads of files not opened for direct I/O carry
 * the `buffered` flag (PostgreSQL's PGAIO_HF_BUFFERED): the io_uring method
 * may then hand them to kernel workers, so that the page-cache copies run in
 * parallel instead of inline in the submitting call.
 *
 * The look-ahead loop is PostgreSQL's `read_stream_look_ahead()`: while fewer
 * than `maxIos` reads are in flight and `pinned + pending < distance`, take
 * the next block; a consecutive one joins the pending read; any other block
 * starts the pending read first.  A pending read waits for a chance to grow
 * until it is full, or it reaches the distance with nothing queued, or the
 * stream ended.  Starting it asks `isCached` about its blocks in order: a
 * leading hit is queued alone (no IO); otherwise one IO covers the run of
 * misses up to the next hit.
 *
 * Buffers come from an {@link AlignedPagePool} (so direct files work on
 * every method), one page per block; a combined read is one IO into those
 * pages: a plain read over pages that are back to back in the pool's slab, a
 * `readv` otherwise.  A page handed to the consumer stays valid until the next
 * step of the stream (PostgreSQL's rule: the next `next()` or iteration),
 * unless the stream was created with `release: 'manual'`, in which case the
 * consumer keeps it until it calls `stream.release(buffer)`.
 *
 * With `allocate`, the caller supplies the buffer of each block instead (a
 * buffer pool installs a miss where it will live, no copy).  The stream owns
 * such a buffer from the moment `allocate` returned it until it hands the
 * block to the consumer, who owns it from then on (no release); a buffer the
 * stream never hands out (the stream ended, was reset or failed first) goes
 * back through `discard` once no read can write into it any more.  Blocks
 * whose buffers lie back to back in one ArrayBuffer are read with one buffer;
 * other blocks of a combined read go in one `readv` of the separate buffers.
 *
 * A read that comes back short is retried by the stream for the rest of its
 * blocks (PostgreSQL: "partial reads should be retried at upper level").
 * Two attempts in a row that stop at the same byte mean the end of the file
 * is there: the block holding it is delivered with `length` below the block
 * size (the bytes past the end are zeroed); blocks after it are errors.
 */
import * as fs from 'node:fs';
import type { Aio } from './aio.js';
import { AioIoError, AioUsageError } from './errors.js';
import { AioFile } from './file.js';
import { AIO_MAX_ALIGNMENT, isKnownAligned } from './aligned.js';
import { defineAioCallbacks } from './callbacks.js';
import { AioWaitRef, type AioHandle } from './handle.js';
import { AlignedPagePool } from './page-pool.js';
import { AioReturn } from './result.js';
import { checkBoolean, checkInteger, checkOptions, describeValue, detachedError, isDetached } from './validate.js';
import { isAioFile, isAlignedPagePool } from './copies.js';

/** The default block size: PostgreSQL's BLCKSZ. */
export const READ_STREAM_DEFAULT_BLOCK_SIZE = 8192;
/** The default combine limit in bytes: PostgreSQL's io_combine_limit (128 kB). */
export const READ_STREAM_DEFAULT_COMBINE_LIMIT = 128 * 1024;
/** The default number of reads in flight: PostgreSQL 18's effective_io_concurrency. */
export const READ_STREAM_DEFAULT_MAX_IOS = 16;
/** The most blocks one combined read may cover (one iovec per block; Linux's IOV_MAX). */
export const READ_STREAM_MAX_COMBINE_BLOCKS = 1024;

/** A block number together with the caller's data for it. */
export interface ReadStreamBlock<T> {
  block: number;
  data: T;
}

/**
 * Why the distance changed, as told to `onDistance`: a hit; `wait`, the
 * consumer reached a block that needed a read (PostgreSQL 18's
 * WaitReadBuffers, whether or not it had to block); the end; a reset.
 */
export type ReadStreamDistanceCause = 'hit' | 'wait' | 'end' | 'reset';

export interface ReadStreamOptions<T = undefined> {
  /**
   * Returns the next block to read: a block number, `{ block, data }` to
   * carry data of the caller's with the block (it is handed back with the
   * buffer), or null (or undefined) at the end of the stream.  Must not
   * enter batch mode, and must not wait for IO it started itself in this
   * context without submitting it (the batch-mode deadlock rule).
   */
  nextBlock: () => number | ReadStreamBlock<T> | null | undefined;
  /** Bytes per block (default 8192).  Block `n` is at byte `n × blockSize`.  With direct I/O, a multiple of the device's block size. */
  blockSize?: number;
  /** The most bytes one read covers; consecutive blocks merge up to it (default 128 KiB, at least one block). */
  combineLimit?: number;
  /** The most reads in flight at once (default 16, at most the context's maxConcurrency). */
  maxIos?: number;
  /**
   * The caller's buffer pool: returns a Buffer holding the block if it has
   * one (a hit: no IO, the distance drops by 1), else null or undefined.
   * Asked at most once per block, in stream order, when the read that
   * would cover it is about to start.
   */
  isCached?: (block: number, data: T) => Buffer | null | undefined;
  /** Start at the full distance of one combined read instead of 1 (PostgreSQL's READ_STREAM_FULL). */
  full?: boolean;
  /** Issue the reads of one look-ahead together in batch mode (default true). */
  batch?: boolean;
  /** `'next'` (default): a buffer is valid until the next step.  `'manual'`: until `stream.release(buffer)`. */
  release?: 'next' | 'manual';
  /**
   * Pages to read into (page size = blockSize).  Default: a pool of
   * `maxDistance + max(maxIos, combine) + 1` pages (the window, a batch the
   * consumer holds while the window refills, and one more).  Not with `allocate`.
   */
  pool?: AlignedPagePool;
  /**
   * Supplies the buffer a missed block is read into (instead of a page of
   * the stream's pool): a Buffer of exactly `blockSize` bytes, not detached,
   * not one the stream still holds, and on a direct file known to be
   * 4096-aligned (`allocAligned`, an `AlignedPagePool` page).  Called at most
   * once per block, in stream order, just before the read covering the block
   * starts.  From then until the block is handed to the consumer the buffer
   * is the stream's (a read may be writing into it: do not touch it); after
   * that it is the consumer's, in both release modes.
   */
  allocate?: (block: number, data: T) => Buffer;
  /**
   * Takes back a buffer from `allocate` that the stream will never hand out
   * (the stream ended, was reset, or its read failed), once no read can
   * write into it any more.  Without it, such a buffer is simply dropped.
   */
  discard?: (block: number, data: T, buffer: Buffer) => void;
  /** Told every distance adjustment, with its cause (for tests and tuning). */
  onDistance?: (distance: number, cause: ReadStreamDistanceCause) => void;
  /** Told every read the stream starts (including retries of short reads): first block and number of blocks. */
  onRead?: (block: number, blocks: number) => void;
}

/** One block handed to the consumer. */
export interface ReadStreamItem<T> {
  block: number;
  /** The block's bytes: a page of the stream's pool, the buffer `allocate` returned, or the caller's own buffer for a hit. */
  buffer: Buffer;
  /** What `nextBlock` returned with the block (undefined for a plain number). */
  data: T;
  /** Valid bytes: the block size, or less for the block that holds the end of the file. */
  length: number;
  /** True for a hit: the buffer came from `isCached`, no IO was done. */
  cached: boolean;
}

/** Counters and limits of a stream; see {@link ReadStream#stats}. */
export interface ReadStreamStats {
  /** The look-ahead distance right now, in blocks (0 once the end was reached). */
  distance: number;
  /** The cap of the distance: `(maxIos + 1) × combineBlocks`, at least `2 × maxIos`. */
  maxDistance: number;
  maxIos: number;
  /** The combine limit in blocks. */
  combineBlocks: number;
  blockSize: number;
  /** Blocks handed to the consumer. */
  blocks: number;
  /** Blocks `isCached` supplied. */
  hits: number;
  /** Reads started, retries included. */
  reads: number;
  /** Reads started again for the rest of a short read. */
  retries: number;
  /** Times the consumer had to block for a read still in flight. */
  waits: number;
  /** The most blocks one read covered. */
  largestRead: number;
  /** Buffers `allocate` supplied. */
  allocated: number;
  /** Buffers given back through `discard` (or dropped without it). */
  discarded: number;
  /** Right now: reads not done (in flight, or short and due for a retry); at most maxIos. */
  inFlight: number;
  /** Right now: blocks queued ahead of the consumer (read, being read, or hits). */
  queued: number;
}

// Slot states.
const FREE = 0;
/** In the pending read: block number known, no IO yet. */
const PENDING = 1;
/** A hit: the caller's buffer, ready. */
const HIT = 2;
/** Covered by a read in flight. */
const READING = 3;
/** Read and ready. */
const READY = 4;
/** The read failed for this block; `error` says why. */
const FAILED = 5;

/** One queued block, in a ring of them. */
class Slot<T> {
  state = FREE;
  block = 0;
  data: T = undefined as T;
  buffer: Buffer | null = null;
  /** The answer of isCached: undefined until asked, then the hit buffer or null. */
  cached: Buffer | null | undefined = undefined;
  /** True when `buffer` came from the caller's `allocate` (not the pool, not a hit). */
  allocated = false;
  /** The index of `buffer` in the stream's pool while it is a pool page, else -1. */
  page = -1;
  /** Ring index of the read covering it, or -1 (a hit). */
  io = -1;
  length = 0;
  error: Error | null = null;
}

/**
 * Where a read is: an attempt in flight (`flying`), short and waiting for a
 * handle to read the rest (`retry`), or every block ready or failed (`done`).
 */
type StreamIoState = 'flying' | 'retry' | 'done';

/** One read (and its retries), in a ring of them in stream order. */
class StreamIo {
  state: StreamIoState = 'done';
  /** Whether the consumer reached its first block (the ring entry is freed once it is also done). */
  reached = false;
  readonly ref = new AioWaitRef();
  readonly ret = new AioReturn();
  /** Ring index of its first slot. */
  first = 0;
  /** Blocks it covers. */
  count = 0;
  /** Blocks completed by earlier attempts. */
  done = 0;
  /** Byte offset of the current attempt. */
  offset = 0;
  /** Where the previous attempt stopped (byte offset), or -1. */
  stoppedAt = -1;
}

/**
 * The completion callback every stream read carries: it tells the stream
 * (by the number in the callback data) that a read completed, so that the
 * stream refills the freed slot.  Streams are found through weak references
 * to their hooks, so a stream dropped without `end()` is still collected.
 */
let refillCallbackId = 0;
let nextStreamNumber = 1;
const refillHooks = new Map<number, WeakRef<() => void>>();

function refillCallback(): number {
  if (refillCallbackId === 0) {
    refillCallbackId = defineAioCallbacks({
      name: 'read-stream-refill',
      completeLocal: (_handle, prior, data) => {
        refillHooks.get(data)?.deref()?.();
        return prior;
      },
    });
  }
  return refillCallbackId;
}

const OPTION_KEYS = [
  'nextBlock',
  'blockSize',
  'combineLimit',
  'maxIos',
  'isCached',
  'full',
  'batch',
  'release',
  'pool',
  'onDistance',
  'onRead',
  'allocate',
  'discard',
] as const;

/**
 * A stream of blocks read ahead of the consumer.  Create it with
 * {@link readStream} or {@link blockRangeReadStream}; consume it with
 * `for await (const { block, buffer, data } of stream)` or `await stream.next()`.
 */
export class ReadStream<T = undefined> implements AsyncIterable<ReadStreamItem<T>> {
  readonly aio: Aio;
  readonly file: AioFile;
  readonly blockSize: number;
  readonly combineBlocks: number;
  readonly maxIos: number;
  /** The cap of the distance, in blocks (PostgreSQL's max_pinned_buffers). */
  readonly maxDistance: number;
  #pool: AlignedPagePool | null;
  readonly #nextBlock: () => number | ReadStreamBlock<T> | null | undefined;
  readonly #isCached: ((block: number, data: T) => Buffer | null | undefined) | undefined;
  readonly #onDistance: ((distance: number, cause: ReadStreamDistanceCause) => void) | undefined;
  readonly #onRead: ((block: number, blocks: number) => void) | undefined;
  readonly #allocate: ((block: number, data: T) => Buffer) | undefined;
  readonly #discard: ((block: number, data: T, buffer: Buffer) => void) | undefined;
  /** The buffers from `allocate` the stream holds (not yet handed out), to refuse one supplied twice. */
  readonly #owned = new Set<Buffer>();
  /** Whether the file is opened for direct I/O (allocated buffers must then be aligned). */
  readonly #direct: boolean;
  /** The memory of the last allocated buffer known to be aligned (see #checkAllocated). */
  #alignedMemory: ArrayBufferLike | null = null;
  readonly #full: boolean;
  readonly #batch: boolean;
  readonly #manualRelease: boolean;

  readonly #slots: Slot<T>[];
  /** Ring index of the oldest queued block (the next one the consumer gets). */
  #oldest = 0;
  /** Blocks queued for the consumer: hits, reads in flight, reads done. */
  #pinned = 0;
  /** Blocks of the pending read; they follow the pinned ones in the ring. */
  #pendingCount = 0;
  #pendingBlock = 0;
  /** Reads in stream order, a ring of maxDistance (each covers at least one queued block). */
  readonly #ios: StreamIo[];
  #oldestIo = 0;
  /** Ring entries in use: reads the consumer has not passed yet. */
  #iosQueued = 0;
  /** Reads not done (in flight, or short and due for a retry): at most maxIos. */
  #inFlight = 0;
  /** The most blocks one `nextBatch()` hands out. */
  readonly #batchLimit: number;
  /** This stream's number in the callback data of its reads. */
  readonly #number = nextStreamNumber++;
  /** What the completion callback calls (held here: the registry holds it weakly). */
  readonly #hook = (): void => this.#onReadComplete();
  #refillQueued = false;
  readonly #callbackId: number;
  /** False for the sync method, whose reads complete inside start*. */
  readonly #asynchronous: boolean;
  /** Whether reads carry the `buffered` flag (the file is not opened for direct I/O). */
  readonly #buffered: boolean;
  #draining = false;
  #distance: number;
  /** A block taken from the callback that did not fit; handed out again first. */
  #ungot = false;
  #ungotBlock = 0;
  #ungotData: T = undefined as T;
  /** In 'next' mode, the indexes of the pool pages the consumer holds until its next step (one, or a batch). */
  readonly #lent: Int32Array;
  #lentCount = 0;
  /** In 'manual' mode, which pool pages the consumer holds (by page index). */
  readonly #held: Uint8Array | null;
  #busy = false;
  #ended = false;
  /** An error of the look-ahead that ran after an item was handed out; thrown by the next call. */
  #deferred: unknown = undefined;
  readonly #counters = { blocks: 0, hits: 0, reads: 0, retries: 0, waits: 0, largestRead: 0, allocated: 0, discarded: 0 };

  /** @internal Use {@link readStream} or {@link blockRangeReadStream}. */
  constructor(aio: Aio, file: AioFile, options: ReadStreamOptions<T>) {
    if (!isAioFile(file)) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `file must be an AioFile from aio.open(), got ${describeValue(file)}`);
    }
    if (file.aio !== aio) throw new AioUsageError('AIO_ERR_FOREIGN_FILE', `${file.describe()} belongs to another AIO context`);
    const opts = checkOptions<ReadStreamOptions<T>>(options, 'options', OPTION_KEYS);
    this.aio = aio;
    this.file = file;
    this.#nextBlock = checkFunction(opts.nextBlock, 'options.nextBlock', true) as () => number | ReadStreamBlock<T> | null;
    this.#isCached = checkFunction(opts.isCached, 'options.isCached', false) as ReadStreamOptions<T>['isCached'];
    this.#onDistance = checkFunction(opts.onDistance, 'options.onDistance', false) as ReadStreamOptions<T>['onDistance'];
    this.#onRead = checkFunction(opts.onRead, 'options.onRead', false) as ReadStreamOptions<T>['onRead'];
    this.#allocate = checkFunction(opts.allocate, 'options.allocate', false) as ReadStreamOptions<T>['allocate'];
    this.#discard = checkFunction(opts.discard, 'options.discard', false) as ReadStreamOptions<T>['discard'];
    if (this.#allocate !== undefined && opts.pool !== undefined) {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', 'options.pool and options.allocate exclude each other: with allocate, blocks are read into your buffers');
    }
    if (this.#discard !== undefined && this.#allocate === undefined) {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', 'options.discard needs options.allocate: it takes back buffers allocate supplied');
    }
    this.blockSize = opts.blockSize === undefined ? READ_STREAM_DEFAULT_BLOCK_SIZE : checkInteger(opts.blockSize, 'options.blockSize', 1, 64 * 1024 * 1024);
    const combineLimit =
      opts.combineLimit === undefined ? READ_STREAM_DEFAULT_COMBINE_LIMIT : checkInteger(opts.combineLimit, 'options.combineLimit', 1, 0x7fff_f000);
    this.combineBlocks = Math.min(READ_STREAM_MAX_COMBINE_BLOCKS, Math.max(1, Math.floor(combineLimit / this.blockSize)));
    const maxIos = opts.maxIos === undefined ? READ_STREAM_DEFAULT_MAX_IOS : checkInteger(opts.maxIos, 'options.maxIos', 1, 1024);
    this.maxIos = Math.min(maxIos, aio.maxConcurrency);
    this.maxDistance = Math.max((this.maxIos + 1) * this.combineBlocks, 2 * this.maxIos);
    this.#batchLimit = Math.min(this.maxDistance, Math.max(this.maxIos, this.combineBlocks));
    this.#full = checkBoolean(opts.full, 'options.full', false);
    this.#batch = checkBoolean(opts.batch, 'options.batch', true);
    if (opts.release !== undefined && opts.release !== 'next' && opts.release !== 'manual') {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `options.release must be 'next' or 'manual', got ${describeValue(opts.release)}`);
    }
    this.#manualRelease = opts.release === 'manual';
    // With allocate the pool is never read into; it is made only if asked for.
    this.#pool = this.#allocate === undefined ? this.#choosePool(opts.pool) : null;
    this.#held = this.#manualRelease && this.#pool !== null ? new Uint8Array(this.#pool.count) : null;
    this.#lent = new Int32Array(this.#held === null && this.#pool !== null ? this.#pool.count : 0);
    this.#callbackId = refillCallback();
    // The sync method completes every read inside start*: nothing is ever
    // staged or in flight, so its reads carry no refill callback and the
    // look-ahead does not enter batch mode.
    this.#asynchronous = aio.methodName !== 'sync';
    this.#direct = file.flags.direct;
    this.#buffered = !this.#direct;
    // pinned + pending never exceed the distance, hence maxDistance slots.
    this.#slots = Array.from({ length: this.maxDistance }, () => new Slot<T>());
    this.#ios = Array.from({ length: this.maxDistance }, () => new StreamIo());
    this.#distance = this.#startDistance();
    refillHooks.set(this.#number, new WeakRef(this.#hook));
  }

  #choosePool(pool: AlignedPagePool | undefined): AlignedPagePool {
    // The window's blocks, plus a batch the consumer holds while the window refills.
    if (pool === undefined) return new AlignedPagePool(this.blockSize, this.maxDistance + this.#batchLimit + 1);
    if (!isAlignedPagePool(pool)) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `options.pool must be an AlignedPagePool, got ${describeValue(pool)}`);
    }
    if (pool.pageSize !== this.blockSize) {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `options.pool has ${pool.pageSize}-byte pages; the stream reads ${this.blockSize}-byte blocks`);
    }
    return pool;
  }

  /** The pages reads go into (with `allocate`: a one-page pool no read uses, kept for the type). */
  get pool(): AlignedPagePool {
    this.#pool ??= new AlignedPagePool(this.blockSize, 1);
    return this.#pool;
  }

  #startDistance(): number {
    return this.#full ? Math.min(this.maxDistance, this.combineBlocks) : 1;
  }

  /** Counters, limits and the current distance. */
  stats(): ReadStreamStats {
    return {
      distance: this.#distance,
      maxDistance: this.maxDistance,
      maxIos: this.maxIos,
      combineBlocks: this.combineBlocks,
      blockSize: this.blockSize,
      ...this.#counters,
      inFlight: this.#inFlight,
      queued: this.#pinned,
    };
  }

  /** Whether `end()` ran (or the stream ended itself after an error). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * The next block, or null at the end of the stream.  Waits if its read
   * is still in flight, and retries a short read.  Rejects with the IO's
   * AioIoError if the block could not be read (the stream is then ended),
   * and with AIO_ERR_BUSY if the previous `next()` has not settled.
   *
   * In `'next'` release mode, the buffer of the previous item goes back to
   * the pool when this is called: do not use it after that.
   */
  next(): Promise<ReadStreamItem<T> | null> {
    // The common case takes no async function and no await: the head block
    // is there already, so it is handed over in a resolved Promise.
    if (this.#busy || this.#ended || this.#deferred !== undefined || !this.#headReady()) return this.#nextSlowly();
    try {
      this.#returnLent();
      const item = this.#take();
      this.#refillAfterTake();
      return Promise.resolve(item);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #nextSlowly(): Promise<ReadStreamItem<T> | null> {
    if (this.#busy) throw new AioUsageError('AIO_ERR_BUSY', 'next() while the previous next(), reset() or end() has not settled');
    if (this.#ended) return null;
    this.#busy = true;
    try {
      if (!(await this.#reachHead())) return null;
      const item = this.#take();
      this.#refillAfterTake();
      return item;
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Every block that is ready at the head of the stream, in order, at least
   * one (waiting for the first if its read is in flight), at most
   * `max(maxIos, combine)` blocks; null at the end of the stream.  One Promise
   * per batch instead of one per block: the way to consume a fast stream.
   * Errors as `next()`: blocks before a failed one are handed out first, the
   * failure rejects the next call.  In `'next'` release mode every buffer of
   * the batch stays valid until the next step (`next()`, `nextBatch()`,
   * `reset()`, `end()`).
   */
  async nextBatch(): Promise<ReadStreamItem<T>[] | null> {
    if (this.#busy) throw new AioUsageError('AIO_ERR_BUSY', 'nextBatch() while the previous next(), reset() or end() has not settled');
    if (this.#ended) return null;
    this.#busy = true;
    try {
      if (!(await this.#reachHead())) return null;
      const items = [this.#take()];
      while (items.length < this.#batchLimit && this.#headReady()) items.push(this.#take());
      this.#refillAfterTake();
      return items;
    } finally {
      this.#busy = false;
    }
  }

  /** Whether the head block can be handed out without waiting (read, or a hit). */
  #headReady(): boolean {
    if (this.#pinned === 0) return false;
    const state = this.#slots[this.#oldest].state;
    return state === READY || state === HIT;
  }

  /**
   * Brings the head block to a state it can be handed out in: gives back the
   * lent pages, raises a deferred error, looks ahead if nothing is queued,
   * waits for the head's read.  False at the end of the stream; throws (and
   * ends the stream) if the head block failed.
   */
  async #reachHead(): Promise<boolean> {
    this.#returnLent();
    if (this.#deferred !== undefined) {
      const error = this.#deferred;
      this.#deferred = undefined;
      throw error;
    }
    if (this.#pinned === 0) {
      if (this.#distance === 0 && this.#pendingCount === 0) return false;
      this.#lookAhead();
      if (this.#pinned === 0) return false;
    }
    const slot = this.#slots[this.#oldest];
    if (slot.state === READING) await this.#waitForHead(slot);
    if (slot.state === FAILED) {
      const error = slot.error as Error;
      await this.#shutDown();
      throw error;
    }
    return true;
  }

  /** Hands out the head block (ready or a hit) and moves past it. */
  #take(): ReadStreamItem<T> {
    const slot = this.#slots[this.#oldest];
    const item: ReadStreamItem<T> = {
      block: slot.block,
      buffer: slot.buffer as Buffer,
      data: slot.data,
      length: slot.length,
      cached: slot.state === HIT,
    };
    if (slot.state === READY) {
      if (slot.allocated) this.#owned.delete(item.buffer);
      else this.#lend(slot.page);
      const io = this.#ios[slot.io];
      if (!io.reached && io.first === this.#oldest) this.#reachIo(io);
      this.#freeReachedIos();
    }
    this.#clearSlot(slot);
    this.#oldest = this.#wrap(this.#oldest + 1);
    this.#pinned--;
    this.#counters.blocks++;
    return item;
  }

  /**
   * The consumer reached the first block of a read: the distance doubles
   * (PostgreSQL 18).  Its ring entry is freed once the read is also done (a
   * read still retrying its tail keeps it until then).
   */
  #reachIo(io: StreamIo): void {
    io.reached = true;
    if (this.#distance > 0) this.#setDistance(Math.min(this.#distance * 2, this.maxDistance), 'wait');
  }

  #freeReachedIos(): void {
    while (this.#iosQueued > 0) {
      const io = this.#ios[this.#oldestIo];
      if (!io.reached || io.state !== 'done') return;
      io.reached = false;
      this.#iosQueued--;
      this.#oldestIo = this.#oldestIo + 1 === this.#ios.length ? 0 : this.#oldestIo + 1;
    }
  }

  /**
   * After handing blocks out: collect what completed and start reads for the
   * room it made.  The item is the consumer's now, so an error of the
   * callbacks while looking further ahead surfaces at the next call instead
   * of losing it.
   */
  #refillAfterTake(): void {
    try {
      // While the head is ready the consumer needs nothing collected; reads
      // that completed meanwhile were announced by their callback (onReadComplete).
      if (!this.#headReady()) this.#collect();
      if (this.#canLookAhead()) this.#lookAhead();
    } catch (error) {
      this.#deferred ??= error;
    }
  }

  /** Whether the look-ahead could start something: a free read slot and room in the window (or a pending read to start). */
  #canLookAhead(): boolean {
    return this.#inFlight < this.maxIos && (this.#pendingCount > 0 || this.#pinned + this.#pendingCount < this.#distance);
  }

  /**
   * A read of ours completed (its completion callback runs this, inside the
   * method's delivery of completions, where no IO may start): refill once
   * the delivery is over.
   */
  #onReadComplete(): void {
    if (this.#refillQueued) return;
    this.#refillQueued = true;
    queueMicrotask(() => {
      this.#refillQueued = false;
      if (this.#ended || this.#draining || this.aio.closed) return;
      try {
        this.#collect();
        if (this.#canLookAhead()) this.#lookAhead();
      } catch (error) {
        // Code of the caller's may hold the handed-out handle across this
        // microtask (acquireAsync resolved, its continuation not yet run): the
        // refill then waits for the consumer's next call.  Anything else is
        // the consumer's to see.
        if (!(error instanceof AioUsageError && error.code === 'AIO_ERR_HANDLE_HANDED_OUT')) this.#deferred ??= error;
      }
    });
  }

  /**
   * Gives back a buffer the consumer got from this stream.  Required in
   * `'manual'` release mode; optional (and idempotent for the current
   * buffer) in `'next'` mode.  A hit's buffer belongs to the caller's own
   * pool and is ignored.  Throws AIO_ERR_BUFFER_STATE for a pool page the
   * consumer does not hold.
   */
  release(buffer: Buffer): void {
    if (ArrayBuffer.isView(buffer) && isDetached(buffer)) throw detachedError('buffer');
    // A buffer from allocate is the consumer's once handed out: nothing to give back.
    if (this.#pool === null) return;
    const index = this.pool.indexOf(buffer);
    if (index < 0) return;
    if (this.#held !== null) {
      if (this.#held[index] === 0) throw new AioUsageError('AIO_ERR_BUFFER_STATE', `page ${index} of the stream's pool is not held by the consumer`);
      this.#held[index] = 0;
      this.pool.putIndex(index);
      return;
    }
    const at = this.#lent.subarray(0, this.#lentCount).indexOf(index);
    if (at >= 0) {
      this.pool.putIndex(index);
      this.#lent[at] = this.#lent[--this.#lentCount];
    } else if (this.pool.isLent(index)) {
      // Given back already and now under a read again (or never handed out).
      throw new AioUsageError('AIO_ERR_BUFFER_STATE', `page ${index} of the stream's pool is not the buffer last handed out`);
    }
  }

  /**
   * Forgets every queued block, as PostgreSQL's read_stream_reset(): waits
   * for the reads in flight (their buffers cannot be reused before), drops
   * their results, and sets the distance back to 1.  The next `next()` asks
   * `nextBlock` again.
   */
  async reset(): Promise<void> {
    if (this.#busy) throw new AioUsageError('AIO_ERR_BUSY', 'reset() while next(), reset() or end() has not settled');
    if (this.#ended) return;
    this.#busy = true;
    try {
      await this.#drain();
      this.#setDistance(this.#startDistance(), 'reset');
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Ends the stream: waits for the reads in flight and returns every page
   * to the pool (in 'manual' mode, pages the consumer holds stay its own
   * until released).  `next()` returns null afterwards.  Idempotent; a
   * `for await` loop calls it when it ends or breaks.
   */
  async end(): Promise<void> {
    if (this.#ended) return;
    if (this.#busy) throw new AioUsageError('AIO_ERR_BUSY', 'end() while next() or reset() has not settled');
    this.#busy = true;
    try {
      await this.#shutDown();
    } finally {
      this.#busy = false;
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<ReadStreamItem<T>> {
    const finish = async (): Promise<IteratorResult<ReadStreamItem<T>>> => {
      await this.end();
      return { done: true, value: undefined };
    };
    return {
      next: (): Promise<IteratorResult<ReadStreamItem<T>>> =>
        this.next().then((item) => (item !== null ? { done: false, value: item } : finish())),
      return: finish,
    };
  }

  // ---------------------------------------------------------------------
  // Look-ahead (read_stream_look_ahead).
  // ---------------------------------------------------------------------

  #lookAhead(): void {
    const batching = this.#batch && this.#asynchronous && !this.aio.inBatchMode;
    if (batching) this.aio.enterBatchMode();
    try {
      this.#lookAheadLoop();
    } finally {
      // Our reads must be submitted before anyone waits for them: if the
      // caller had batch mode on already, submit now instead of at its exit.
      if (batching) this.aio.exitBatchMode();
      else if (this.aio.inBatchMode) this.aio.submitStaged();
    }
  }

  #lookAheadLoop(): void {
    while (this.#inFlight < this.maxIos && this.#pinned + this.#pendingCount < this.#distance) {
      if (this.#pendingCount === this.combineBlocks) {
        if (!this.#startPendingRead()) return;
        continue;
      }
      const slot = this.#slots[this.#wrap(this.#oldest + this.#pinned + this.#pendingCount)];
      if (!this.#takeBlock(slot)) {
        this.#setDistance(0, 'end');
        break;
      }
      if (this.#pendingCount > 0 && this.#pendingBlock + this.#pendingCount === slot.block) {
        this.#pendingCount++;
        continue;
      }
      // Not consecutive: the pending read must start before a new one can
      // begin.  Starting moves its slots to the pinned part, so this slot
      // stays where it is, right after the pending read.
      while (this.#pendingCount > 0) {
        if (!this.#startPendingRead() || this.#inFlight === this.maxIos) {
          this.#unget(slot);
          return;
        }
      }
      this.#pendingBlock = slot.block;
      this.#pendingCount = 1;
    }
    // The pending read waits for a chance to grow, unless it is full, or it
    // reached the distance with nothing queued, or the stream ended.
    if (
      this.#pendingCount > 0 &&
      this.#inFlight < this.maxIos &&
      (this.#pendingCount === this.combineBlocks || (this.#pendingCount >= this.#distance && this.#pinned === 0) || this.#distance === 0)
    ) {
      this.#startPendingRead();
    }
  }

  /** Fills `slot` with the next block (the ungotten one first); false at the end of the stream. */
  #takeBlock(slot: Slot<T>): boolean {
    if (this.#ungot) {
      this.#ungot = false;
      slot.block = this.#ungotBlock;
      slot.data = this.#ungotData;
      this.#ungotData = undefined as T;
    } else {
      const next = this.#nextBlock();
      if (next === null || next === undefined) return false;
      if (typeof next === 'number') {
        slot.block = this.#checkBlock(next, 'nextBlock()');
        slot.data = undefined as T;
      } else if (typeof next === 'object') {
        slot.block = this.#checkBlock(next.block, 'nextBlock().block');
        slot.data = next.data;
      } else {
        throw new AioUsageError('AIO_ERR_INVALID_TYPE', `nextBlock() must return a block number, { block, data } or null, got ${describeValue(next)}`);
      }
    }
    slot.state = PENDING;
    slot.cached = undefined;
    return true;
  }

  #checkBlock(block: unknown, name: string): number {
    if (typeof block !== 'number' || !Number.isSafeInteger(block) || block < 0 || block * this.blockSize > Number.MAX_SAFE_INTEGER) {
      throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `${name} must return a block number from 0 to ${Math.floor(Number.MAX_SAFE_INTEGER / this.blockSize)}, got ${describeValue(block)}`);
    }
    return block;
  }

  #unget(slot: Slot<T>): void {
    this.#ungot = true;
    this.#ungotBlock = slot.block;
    this.#ungotData = slot.data;
    this.#clearSlot(slot);
  }

  /**
   * Starts (part of) the pending read (read_stream_start_pending_read): a
   * leading hit is queued alone, else one read covers the run of misses up
   * to the next hit.  Returns false if it could not start for lack of pages
   * or handles; the pending read then stays pending.
   */
  #startPendingRead(): boolean {
    const firstIndex = this.#wrap(this.#oldest + this.#pinned);
    const first = this.#slots[firstIndex];
    const hit = this.#probe(first);
    if (hit !== null) {
      first.state = HIT;
      first.buffer = hit;
      first.length = this.blockSize;
      this.#counters.hits++;
      this.#advancePending(1);
      if (this.#distance > 1) this.#setDistance(this.#distance - 1, 'hit');
      else this.#reportDistance('hit');
      return true;
    }
    let count = 1;
    while (count < this.#pendingCount && this.#probe(this.#slots[this.#wrap(firstIndex + count)]) === null) count++;
    if (this.#allocate !== undefined) {
      // Before the handle: a throwing or wrong allocate leaves no handle
      // handed out, and buffers already supplied stay with their slots.
      this.#allocateBuffers(firstIndex, count);
    } else {
      const pages = this.pool.available;
      if (pages < count) {
        // Wait for the consumer to give pages back, unless it has nothing to
        // consume: then read fewer blocks now, to make progress.
        if (this.#pinned > 0) return false;
        if (pages === 0) {
          throw new AioUsageError('AIO_ERR_BUFFER_STATE', `the consumer holds all ${this.pool.count} pages of the stream's pool; release some`);
        }
        count = pages;
      }
    }
    const pool = this.pool;
    const ioIndex = (this.#oldestIo + this.#iosQueued) % this.#ios.length;
    const io = this.#ios[ioIndex];
    const handle = this.#tryAcquire(io.ret);
    if (handle === null) return false;
    io.first = firstIndex;
    io.count = count;
    io.done = 0;
    io.stoppedAt = -1;
    io.reached = false;
    for (let i = 0; i < count; i++) {
      const slot = this.#slots[this.#wrap(firstIndex + i)];
      slot.state = READING;
      slot.io = ioIndex;
      if (!slot.allocated) {
        const page = pool.takeIndex();
        slot.page = page;
        slot.buffer = pool.pageAt(page);
      }
    }
    this.#iosQueued++;
    this.#inFlight++;
    this.#advancePending(count);
    this.#startAttempt(io, handle);
    return true;
  }

  /** isCached for one slot, asked once per block. */
  #probe(slot: Slot<T>): Buffer | null {
    if (slot.cached !== undefined) return slot.cached;
    let hit: Buffer | null = null;
    if (this.#isCached !== undefined) {
      const answer = this.#isCached(slot.block, slot.data);
      if (answer !== null && answer !== undefined) {
        if (!Buffer.isBuffer(answer)) {
          throw new AioUsageError('AIO_ERR_INVALID_TYPE', `isCached() must return a Buffer, null or undefined, got ${describeValue(answer)}`);
        }
        if (isDetached(answer)) throw detachedError('the Buffer isCached() returned');
        hit = answer;
      }
    }
    slot.cached = hit;
    return hit;
  }

  /**
   * Asks `allocate` for the buffers of `count` slots from `firstIndex` that
   * have none yet (a read that could not start keeps its buffers for the
   * next attempt, so allocate is called once per block).
   */
  #allocateBuffers(firstIndex: number, count: number): void {
    const allocate = this.#allocate as (block: number, data: T) => Buffer;
    for (let i = 0; i < count; i++) {
      const slot = this.#slots[this.#wrap(firstIndex + i)];
      if (slot.allocated) continue;
      const buffer = this.#checkAllocated(allocate(slot.block, slot.data), slot.block);
      slot.buffer = buffer;
      slot.allocated = true;
      this.#counters.allocated++;
    }
  }

  /**
   * Checks a buffer `allocate` returned and records it as held by the stream.
   * This runs once per block, so the common case (a buffer of the right size
   * on the same aligned memory as the previous one) costs a few property
   * reads and one Set insertion; the messages are built only on failure.
   */
  #checkAllocated(answer: unknown, block: number): Buffer {
    if (!Buffer.isBuffer(answer)) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `allocate() must return a Buffer (a view of blockSize bytes), got ${describeValue(answer)} for block ${block}`);
    }
    // A detached view has no bytes, and blockSize is at least 1: a view of the
    // right size is known to be attached without asking isDetached.
    if (answer.byteLength !== this.blockSize) {
      if (isDetached(answer)) throw detachedError(allocatedName(block));
      throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `${allocatedName(block)} has ${answer.byteLength} bytes; the stream reads ${this.blockSize}-byte blocks`);
    }
    // The core's rule for direct I/O: only memory it knows to be 4096-aligned
    // (allocAligned, AlignedPagePool) is sure to satisfy every device.  Memory
    // once known to be aligned stays so, so the last such ArrayBuffer is
    // remembered and a view on it needs only its offset checked.
    if (this.#direct) {
      const memory = answer.buffer;
      if (memory === this.#alignedMemory ? answer.byteOffset % AIO_MAX_ALIGNMENT !== 0 : !isKnownAligned(answer, AIO_MAX_ALIGNMENT)) {
        throw new AioUsageError(
          'AIO_ERR_OUT_OF_RANGE',
          `${allocatedName(block)} is not known to be ${AIO_MAX_ALIGNMENT}-aligned, and ${this.file.describe()} is opened for direct I/O; use allocAligned() or an AlignedPagePool page`,
        );
      }
      this.#alignedMemory = memory;
    }
    // One Set operation instead of has() then add(): a buffer already held
    // leaves the size unchanged, and the set as it was.
    const owned = this.#owned.size;
    this.#owned.add(answer);
    if (this.#owned.size === owned) {
      throw new AioUsageError('AIO_ERR_BUFFER_STATE', `${allocatedName(block)} is already the buffer of another block the stream holds`);
    }
    return answer;
  }

  #advancePending(count: number): void {
    this.#pinned += count;
    this.#pendingCount -= count;
    this.#pendingBlock += count;
  }

  /**
   * A free handle for a read, or null if none is free and reads of ours are
   * in flight or queued (the consumer makes progress with those).  With
   * nothing of ours to wait for, waits for the context's oldest IO.
   */
  #tryAcquire(ret: AioReturn): AioHandle | null {
    const handle = this.aio.tryAcquire(ret);
    if (handle !== null || this.#inFlight > 0 || this.#pinned > 0) return handle;
    return this.aio.acquire(ret);
  }

  /** Starts a read of the io's blocks from `io.done` on, into their pages. */
  #startAttempt(io: StreamIo, handle: AioHandle): void {
    const first = this.#slots[this.#wrap(io.first + io.done)];
    const blocks = io.count - io.done;
    io.offset = first.block * this.blockSize;
    handle.getWaitRef(io.ref);
    try {
      if (this.#asynchronous) handle.registerCallbacks(this.#callbackId, this.#number);
      // PostgreSQL's PGAIO_HF_BUFFERED: a page-cache read that the method may run on kernel workers.
      if (this.#buffered) handle.setFlag('buffered');
      if (blocks === 1) {
        handle.startRead(this.file, first.buffer as Buffer, io.offset);
      } else {
        const runs = this.#joinAdjacent(this.#wrap(io.first + io.done), blocks);
        if (runs.length === 1) handle.startRead(this.file, runs[0], io.offset);
        else handle.startReadv(this.file, runs, io.offset);
      }
    } catch (error) {
      // The IO was never defined: give the handle back and mark the blocks
      // failed, so the consumer sees the error at the first of them.
      if (handle.state === 'handed-out') handle.release();
      io.ret.reset();
      this.#failFrom(io, io.done, error as Error);
      this.#finishIo(io);
      throw error;
    }
    io.state = 'flying';
    this.#counters.reads++;
    if (blocks > this.#counters.largestRead) this.#counters.largestRead = blocks;
    this.#onRead?.(first.block, blocks);
  }

  /**
   * The buffers of `count` slots from ring index `from`, with every run of
   * back-to-back buffers joined into one view of their memory (no copy): a
   * buffer pool whose frames are adjacent gets one plain read, others one
   * iovec per run.  Built straight from the slots, with one array per read.
   */
  #joinAdjacent(from: number, count: number): Buffer[] {
    const slots = this.#slots;
    const runs: Buffer[] = [];
    let first = slots[from].buffer as Buffer;
    let memory = first.buffer;
    let end = first.byteOffset + first.byteLength;
    let joined = 1;
    for (let i = 1, index = this.#wrap(from + 1); i <= count; i++, index = this.#wrap(index + 1)) {
      const next = i < count ? (slots[index].buffer as Buffer) : null;
      if (next !== null && next.buffer === memory && next.byteOffset === end) {
        end += next.byteLength;
        joined++;
        continue;
      }
      runs.push(joined === 1 ? first : Buffer.from(memory, first.byteOffset, end - first.byteOffset));
      if (next === null) break;
      first = next;
      memory = next.buffer;
      end = next.byteOffset + next.byteLength;
      joined = 1;
    }
    return runs;
  }

  // ---------------------------------------------------------------------
  // Consuming (read_stream_next_buffer / WaitReadBuffers).
  // ---------------------------------------------------------------------

  /**
   * Waits until the head block's read has delivered it: waits for the read
   * while it is in flight (counted as a wait), collects it and every other
   * completed read, and retries a short read whose rest had no handle.
   */
  async #waitForHead(slot: Slot<T>): Promise<void> {
    const io = this.#ios[slot.io];
    let waited = false;
    while (slot.state === READING) {
      if (io.state === 'flying') {
        if (!io.ret.done && !io.ref.isDone()) {
          if (!waited) this.#counters.waits++;
          waited = true;
          await io.ref.wait();
        }
        this.#collect();
      } else {
        // 'retry': the read came back short and no handle was free then.
        const handle = await this.#acquireForRetry(io);
        this.#startAttempt(io, handle);
        if (this.aio.inBatchMode) this.aio.submitStaged();
      }
    }
  }

  /**
   * Takes in every read of ours that completed (polling the method once if
   * one has not): marks its blocks ready or failed, or starts the rest of a
   * short read.  Never waits.
   */
  #collect(): void {
    if (this.#inFlight === 0) return;
    let polled = this.aio.closed;
    for (let n = 0, i = this.#oldestIo; n < this.#iosQueued; n++, i = i + 1 === this.#ios.length ? 0 : i + 1) {
      const io = this.#ios[i];
      if (io.state !== 'flying') continue;
      if (!io.ret.done) {
        if (polled) continue;
        polled = true;
        // isDone() collects every completion the method has ready.
        if (!io.ref.isDone() || !io.ret.done) continue;
      }
      this.#settle(io);
    }
    this.#freeReachedIos();
  }

  /** A completed attempt: its blocks ready or failed, or the rest read again (now if a handle is free). */
  #settle(io: StreamIo): void {
    if (!this.#absorb(io)) {
      this.#finishIo(io);
      return;
    }
    this.#counters.retries++;
    io.state = 'retry';
    const handle = this.aio.tryAcquire(io.ret);
    if (handle !== null) this.#startAttempt(io, handle);
  }

  /** A read is done (every block ready or failed): its slot among maxIos is free. */
  #finishIo(io: StreamIo): void {
    if (io.state === 'done') return;
    io.state = 'done';
    this.#inFlight--;
  }

  /**
   * Takes an attempt's result into the io's blocks.  Returns true if the
   * rest must be read again (a short read that made progress).
   */
  #absorb(io: StreamIo): boolean {
    const result = io.ret.result;
    if (result.status === 'error' || result.status === 'unknown') {
      this.#failFrom(io, io.done, io.ret.toError());
      return false;
    }
    if (result.status !== 'partial') {
      this.#readyFrom(io, io.count - io.done, this.blockSize);
      return false;
    }
    const bytes = result.result;
    const stop = io.offset + bytes;
    const whole = Math.floor(bytes / this.blockSize);
    this.#readyFrom(io, whole, this.blockSize);
    if (stop > io.stoppedAt) {
      io.stoppedAt = stop;
      return true;
    }
    // No progress since the previous attempt: the file ends at `stop`.
    const rest = bytes - whole * this.blockSize;
    if (rest > 0) {
      const slot = this.#slots[this.#wrap(io.first + io.done)];
      (slot.buffer as Buffer).fill(0, rest);
      this.#readyFrom(io, 1, rest);
    }
    if (io.done < io.count) this.#failFrom(io, io.done, this.#eofError(io, stop));
    return false;
  }

  /** Marks the next `count` blocks of the io ready with `length` valid bytes. */
  #readyFrom(io: StreamIo, count: number, length: number): void {
    for (let i = 0; i < count; i++) {
      const slot = this.#slots[this.#wrap(io.first + io.done + i)];
      slot.state = READY;
      slot.length = length;
    }
    io.done += count;
  }

  /** Marks blocks `from`.. of the io failed; the first carries the error. */
  #failFrom(io: StreamIo, from: number, error: Error): void {
    for (let i = from; i < io.count; i++) {
      const slot = this.#slots[this.#wrap(io.first + i)];
      slot.state = FAILED;
      slot.error = error;
    }
    io.done = io.count;
  }

  #eofError(io: StreamIo, stop: number): AioIoError {
    const first = this.#slots[this.#wrap(io.first + io.done)];
    const path = this.file.path;
    const where = path === undefined ? 'an unnamed file' : `file ${JSON.stringify(path)}`;
    return new AioIoError({
      code: 'AIO_EOF',
      syscall: 'read',
      path,
      target: `read of block ${first.block} (${this.blockSize} bytes at offset ${first.block * this.blockSize}) in ${where}`,
      method: this.aio.methodName,
      detail: `block ${first.block} is beyond the end of the file (it ends at byte ${stop})`,
    });
  }

  /** A handle for a retry: waits (asynchronously) for our other reads if every handle is busy. */
  async #acquireForRetry(retrying: StreamIo): Promise<AioHandle> {
    for (;;) {
      const handle = this.aio.tryAcquire(retrying.ret);
      if (handle !== null) return handle;
      const other = this.#ios.find((io) => io !== retrying && io.state === 'flying' && !io.ret.done);
      if (other === undefined) return this.aio.acquire(retrying.ret);
      await other.ref.wait();
      this.#collect();
    }
  }

  // ---------------------------------------------------------------------
  // Buffers, distance, shutting down.
  // ---------------------------------------------------------------------

  /** Records that the consumer now holds pool page `page` (an index). */
  #lend(page: number): void {
    if (this.#held !== null) this.#held[page] = 1;
    else this.#lent[this.#lentCount++] = page;
  }

  #returnLent(): void {
    const count = this.#lentCount;
    if (count === 0) return;
    const lent = this.#lent;
    const pool = this.#pool as AlignedPagePool;
    this.#lentCount = 0;
    for (let i = 0; i < count; i++) pool.putIndex(lent[i]);
  }

  #clearSlot(slot: Slot<T>): void {
    slot.state = FREE;
    slot.allocated = false;
    slot.page = -1;
    slot.buffer = null;
    slot.cached = undefined;
    slot.data = undefined as T;
    slot.error = null;
    slot.io = -1;
  }

  #setDistance(distance: number, cause: ReadStreamDistanceCause): void {
    this.#distance = distance;
    this.#reportDistance(cause);
  }

  #reportDistance(cause: ReadStreamDistanceCause): void {
    this.#onDistance?.(this.#distance, cause);
  }

  /**
   * Drops every queued block: waits for the reads in flight (the kernel may
   * still write into their pages), then gives their pages back.
   */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      await this.#dropQueued();
    } finally {
      this.#draining = false;
    }
  }

  async #dropQueued(): Promise<void> {
    this.#distance = 0;
    this.#ungot = false;
    this.#ungotData = undefined as T;
    let discardError: unknown = undefined;
    const dropSlot = (slot: Slot<T>): void => {
      if (slot.allocated) {
        try {
          this.#dropAllocated(slot);
        } catch (error) {
          discardError ??= error;
        }
      } else if (slot.page >= 0) {
        this.pool.putIndex(slot.page);
      }
      this.#clearSlot(slot);
    };
    // Pending blocks have no read: their buffers (if allocated) can go back at once.
    for (let i = 0; i < this.#pendingCount; i++) dropSlot(this.#slots[this.#wrap(this.#oldest + this.#pinned + i)]);
    this.#pendingCount = 0;
    while (this.#iosQueued > 0) {
      const io = this.#ios[this.#oldestIo];
      // Once the context is closed every IO has completed (close waits for them).
      if (io.state === 'flying' && !io.ret.done && !this.#contextClosed() && !io.ref.isDone()) await io.ref.wait();
      if (io.state !== 'done') {
        io.state = 'done';
        this.#inFlight--;
      }
      io.reached = false;
      this.#iosQueued--;
      this.#oldestIo = this.#oldestIo + 1 === this.#ios.length ? 0 : this.#oldestIo + 1;
    }
    for (; this.#pinned > 0; this.#pinned--) {
      dropSlot(this.#slots[this.#oldest]);
      this.#oldest = this.#wrap(this.#oldest + 1);
    }
    this.#returnLent();
    // The stream is consistent now; a throwing discard is reported last.
    if (discardError !== undefined) throw discardError;
  }

  /** Gives an allocated buffer the stream never handed out back to the caller. */
  #dropAllocated(slot: Slot<T>): void {
    const buffer = slot.buffer as Buffer;
    this.#owned.delete(buffer);
    slot.allocated = false;
    this.#counters.discarded++;
    this.#discard?.(slot.block, slot.data, buffer);
  }

  async #shutDown(): Promise<void> {
    this.#deferred = undefined;
    await this.#drain();
    this.#ended = true;
    refillHooks.delete(this.#number);
  }

  #contextClosed(): boolean {
    return this.aio.closed && this.aio.stats().inFlight === 0;
  }

  #wrap(index: number): number {
    return index >= this.#slots.length ? index - this.#slots.length : index;
  }
}

/** How usage errors name a buffer `allocate` returned. */
function allocatedName(block: number): string {
  return `the buffer allocate() returned for block ${block}`;
}

function checkFunction(value: unknown, name: string, required: boolean): ((...args: never[]) => unknown) | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'function') throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be a function, got ${describeValue(value)}`);
  return value as (...args: never[]) => unknown;
}

/**
 * A read stream over the blocks `nextBlock` returns.  See the module
 * comment for the distance rule, combining, buffers and retries.
 */
export function readStream<T = undefined>(aio: Aio, file: AioFile, options: ReadStreamOptions<T>): ReadStream<T> {
  return new ReadStream<T>(aio, file, options);
}

export interface BlockRangeReadStreamOptions extends Omit<ReadStreamOptions<undefined>, 'nextBlock'> {
  /** The first block (default 0). */
  start?: number;
  /** The block after the last (default: every block of the file as long as it is when the stream is created, the last one possibly short). */
  end?: number;
}

/**
 * A read stream over blocks `start` to `end - 1` in order
 * (PostgreSQL's block_range_read_stream_cb).  Without `end`, it reads to the
 * end of the file: the whole file with neither.  `reset()` does not rewind:
 * the range continues after the blocks handed out so far and those dropped.
 */
export function blockRangeReadStream(aio: Aio, file: AioFile, options: BlockRangeReadStreamOptions = {}): ReadStream<undefined> {
  const { start, end, ...rest } = checkOptions<BlockRangeReadStreamOptions>(options, 'options', [...OPTION_KEYS.filter((k) => k !== 'nextBlock'), 'start', 'end']);
  const blockSize = rest.blockSize ?? READ_STREAM_DEFAULT_BLOCK_SIZE;
  let next = start === undefined ? 0 : checkInteger(start, 'options.start', 0, Number.MAX_SAFE_INTEGER);
  const last = end === undefined ? fileBlocks(aio, file, blockSize) : checkInteger(end, 'options.end', 0, Number.MAX_SAFE_INTEGER);
  return new ReadStream<undefined>(aio, file, { ...rest, nextBlock: () => (next < last ? next++ : null) });
}

/** Blocks in the file, the last one possibly short. */
function fileBlocks(aio: Aio, file: AioFile, blockSize: number): number {
  if (!isAioFile(file) || file.closed) {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `file must be an open AioFile from aio.open(), got ${describeValue(file)}`);
  }
  // The Windows methods' files are HANDLEs, which fstat cannot take; they
  // were opened by path (aio.open), so the path is measured instead.
  if (aio.capabilities.fileKind !== 'fd' && file.path === undefined) {
    throw new AioUsageError('AIO_ERR_UNSUPPORTED', `the ${aio.methodName} method's files have no fd to measure; pass options.end`);
  }
  checkInteger(blockSize, 'options.blockSize', 1, 64 * 1024 * 1024);
  const size = aio.capabilities.fileKind === 'fd' ? fs.fstatSync(file.fd).size : fs.statSync(file.path as string).size;
  return Math.ceil(size / blockSize);
}
