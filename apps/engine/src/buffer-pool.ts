/**
 * The buffer pool: a fixed set of 8 KiB frames in one aligned slab (so direct I/O reads land in them),
 * a page table, clock eviction, pins, and an "IO in progress" state per frame, after PostgreSQL's
 * bufmgr.c.  Pages leave the pool only through write-back, after the WAL is durable up to their LSN.
 */
import {
  AioWaitRef,
  allocAligned,
  defineAioCallbacks,
  readStream,
  writeBack,
  type Aio,
  type AioFile,
  type AioHandle,
  type AioResult,
  type ReadStreamItem,
} from '@aio/core';
import { PAGE_SIZE, decodePage, pageLsn, sealPage, verifyPage, type PageNode, type PageVerdict } from './page.js';

/** What the pool needs of the log: the WAL rule. */
export interface WalFlusher {
  readonly durableLsn: number;
  flush(lsn: number): Promise<void>;
}

export type FrameState = 'free' | 'io-in-progress' | 'valid' | 'io-error';

/** A page read back that fails its checksum (or sits at the wrong offset): PostgreSQL's "invalid page". */
export class TornPageError extends Error {
  readonly code = 'ENGINE_TORN_PAGE';
  constructor(readonly pageNo: number) {
    super(`invalid page in block ${pageNo}: checksum or page number mismatch (torn or misdirected write)`);
  }
}

/** Every frame is pinned or has IO in progress: the pool is too small for the work asked of it. */
export class PoolExhaustedError extends Error {
  readonly code = 'ENGINE_POOL_EXHAUSTED';
  constructor(frames: number) {
    super(`all ${frames} buffer frames are pinned; give the pool more frames`);
  }
}

export class Frame {
  pageNo = -1;
  state: FrameState = 'free';
  pins = 0;
  usage = 0;
  dirty = false;
  /** One more per change: a write-back marks the frame clean only if no change came after its copy. */
  dirtyGen = 0;
  /** The decoded page, kept while the frame holds it (null: decode on next use). */
  node: PageNode | null = null;
  verdict: PageVerdict = 'ok';
  error: Error | null = null;
  /** The first reader's wait reference: later readers of the page wait on it (PostgreSQL's io_wref). */
  readonly ref = new AioWaitRef();
  /** A miss queued for the next batch of reads: no handle, no wait reference yet. */
  queued = false;
  /** A read stream is reading into the frame: no wait reference of ours, waiters use streamDone. */
  streaming = false;
  /** Made only when someone waits for a stream's read (most pages nobody else wants). */
  streamDone: Promise<void> | null = null;
  streamSettle: (() => void) | null = null;
  constructor(
    readonly index: number,
    readonly page: Buffer,
  ) {}
}

export interface PoolStats {
  hits: number;
  misses: number;
  reads: number;
  waitsOnOtherReader: number;
  /** Submissions of queued misses (one batch-mode submission each); reads / readBatches is the batch size. */
  readBatches: number;
  writes: number;
  evictions: number;
  prefetched: number;
}

export type PinMode = 'normal' | 'redo';

/** How a prefetch reads: reads in flight, pages per read; after the run, reads done and the largest. */
export interface PrefetchShape {
  maxIos: number;
  combineBlocks: number;
  reads: number;
  largestRead: number;
}

/**
 * The read stream's shape for a look-ahead of at most `share` of a pool of `frames`: the stream may
 * queue up to (maxIos + 1) × combineBlocks pages, so reads of up to 16 pages first, then as many reads
 * in flight as the share allows (at most 16, at most the context's handles less a few for others).
 */
export function prefetchShape(frames: number, share: number, maxConcurrency: number): PrefetchShape {
  const budget = Math.max(2, Math.floor(frames * share));
  const combineBlocks = Math.max(1, Math.min(16, Math.floor(budget / 2)));
  const maxIos = Math.max(1, Math.min(16, Math.max(1, maxConcurrency - 8), Math.floor(budget / combineBlocks) - 1));
  return { maxIos, combineBlocks, reads: 0, largestRead: 0 };
}

// Completion callbacks are per thread and limited in number, so one definition serves every pool; the
// handle's data names the pool and frame.
const POOL_ID_SPAN = 1 << 20;
const pools = new Map<number, BufferPool>();
let nextPoolId = 1;
const READ_CALLBACKS = defineAioCallbacks({
  name: 'engine-page-read',
  completeShared(_handle: AioHandle, prior: AioResult, data: number): AioResult {
    pools.get(Math.floor(data / POOL_ID_SPAN))?.completeRead(data % POOL_ID_SPAN, prior);
    return prior;
  },
});

/** The frames a scan's stream read and visited, oldest first, each with the page it held then. */
class StreamRing {
  readonly #frames: Frame[] = [];
  readonly #pageNos: number[] = [];
  #head = 0;
  /** The page number the frame last returned by shift() held when it was pushed. */
  lastPageNo = -1;

  push(frame: Frame): void {
    this.#frames.push(frame);
    this.#pageNos.push(frame.pageNo);
  }

  shift(): Frame | null {
    if (this.#head === this.#frames.length) return null;
    const frame = this.#frames[this.#head];
    this.lastPageNo = this.#pageNos[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#frames.length) {
      this.#frames.splice(0, this.#head);
      this.#pageNos.splice(0, this.#head);
      this.#head = 0;
    }
    return frame;
  }
}

export class BufferPool {
  readonly frames: Frame[];
  readonly stats: PoolStats = { hits: 0, misses: 0, reads: 0, waitsOnOtherReader: 0, readBatches: 0, writes: 0, evictions: 0, prefetched: 0 };
  readonly #table = new Map<number, Frame>();
  readonly #id = nextPoolId++;
  readonly #spares: Buffer[] = [];
  #hand = 0;
  readonly #slab: Buffer;
  /** Write-backs in flight: a checkpoint waits for them before its sync so the sync covers them. */
  readonly #writesInFlight = new Set<Promise<unknown>>();
  /** Misses mapped to frames, waiting for the next batch submission (see #queueRead). */
  #queued: Frame[] = [];
  /** Settles when the queued misses were started: their readers then wait on the frames' references. */
  #batchStarted: Promise<void> | null = null;
  #settleBatch: (() => void) | null = null;

  constructor(
    readonly aio: Aio,
    readonly file: AioFile,
    frameCount: number,
    readonly wal: WalFlusher,
  ) {
    if (!Number.isInteger(frameCount) || frameCount < 16 || frameCount >= POOL_ID_SPAN) {
      throw new RangeError(`the pool needs 16 to ${POOL_ID_SPAN - 1} frames, got ${frameCount}`);
    }
    const slab = allocAligned(PAGE_SIZE * frameCount);
    this.#slab = slab;
    this.frames = Array.from({ length: frameCount }, (_, i) => new Frame(i, slab.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE)));
    pools.set(this.#id, this);
  }

  /** Forgets the pool in the callback registry; frames are dropped with it. */
  dispose(): void {
    pools.delete(this.#id);
  }

  get size(): number {
    return this.frames.length;
  }

  /** The frame holding pageNo if it is in the pool and readable now, without IO or pin. */
  lookup(pageNo: number): Frame | null {
    const frame = this.#table.get(pageNo);
    return frame !== undefined && frame.state === 'valid' ? frame : null;
  }

  /**
   * Pins pageNo, reading it if needed.  A page another caller is reading is waited for on that
   * reader's wait reference; a torn page throws TornPageError, except in 'redo' mode, where recovery
   * gets it as a zeroed frame to rebuild from the log.
   */
  async pin(pageNo: number, mode: PinMode = 'normal'): Promise<Frame> {
    let queued: Frame | null = null;
    for (;;) {
      const frame = this.#table.get(pageNo);
      if (frame === undefined) {
        this.stats.misses++;
        queued = this.#queueRead(pageNo);
        if (queued === null) await this.#makeRoom();
        continue;
      }
      if (frame.state === 'io-in-progress') {
        // Another caller's read of this page: wait on its wait reference instead of reading it again.
        if (frame !== queued) {
          this.stats.waitsOnOtherReader++;
          queued = frame;
        }
        await this.#ioDone(frame);
        continue;
      }
      if (frame.state === 'io-error') {
        if (mode === 'redo' && frame.verdict === 'torn') {
          frame.page.fill(0);
          frame.state = 'valid';
          frame.node = null;
          continue;
        }
        // PostgreSQL leaves a failed buffer invalid and lets the next reader try again.
        const error = frame.error ?? new TornPageError(pageNo);
        this.#unmap(frame);
        throw error;
      }
      this.stats.hits++;
      frame.pins++;
      frame.usage = Math.min(frame.usage + 1, 5);
      return frame;
    }
  }

  /**
   * Pins pageNo if the pool holds it readable now (a hit), without a Promise; null otherwise (then
   * `pin`).  Point lookups go through here first: most of their pages (meta, root, inner) are hits, and
   * an await per hit was a good part of a cached lookup's cost.
   */
  pinCached(pageNo: number): Frame | null {
    const frame = this.#table.get(pageNo);
    if (frame === undefined || frame.state !== 'valid') return null;
    this.stats.hits++;
    frame.pins++;
    if (frame.usage < 5) frame.usage++;
    return frame;
  }

  /** Settles when the IO of a frame marked io-in-progress ended (however it ended). */
  #ioDone(frame: Frame): Promise<void> {
    if (frame.streaming) return (frame.streamDone ??= new Promise((resolve) => (frame.streamSettle = resolve)));
    if (frame.queued) return this.#batchStarted ?? Promise.resolve();
    return frame.ref.wait();
  }

  unpin(frame: Frame): void {
    if (frame.pins <= 0) throw new Error(`unpin of page ${frame.pageNo}, which is not pinned`);
    frame.pins--;
  }

  /** The decoded page of a pinned frame (decoded once per load). */
  node(frame: Frame): PageNode {
    frame.node ??= decodePage(frame.page);
    return frame.node;
  }

  /** A frame for a page that does not exist on disk yet: zeroed, valid, pinned. */
  async pinNew(pageNo: number): Promise<Frame> {
    for (;;) {
      const existing = this.#table.get(pageNo);
      if (existing !== undefined && existing.state === 'io-in-progress') {
        await this.#ioDone(existing);
        continue;
      }
      if (existing !== undefined && existing.pins > 0) throw new Error(`page ${pageNo} is new but pinned in the pool`);
      if (existing !== undefined) this.#unmap(existing);
      const frame = this.#claimVictim();
      if (frame === null) {
        await this.#makeRoom();
        continue;
      }
      this.#map(frame, pageNo);
      frame.page.fill(0);
      frame.state = 'valid';
      frame.pins = 1;
      frame.usage = 1;
      return frame;
    }
  }

  /** Records a change to a pinned frame: its bytes already hold it, with its LSN. */
  markDirty(frame: Frame): void {
    frame.dirty = true;
    frame.dirtyGen++;
  }

  dirtyFrames(): Frame[] {
    return this.frames.filter((frame) => frame.dirty && frame.state === 'valid');
  }

  /**
   * Reads pages ahead into frames through the read stream (neighbouring pages in one IO), for scans
   * and recovery.  Calls `visit` with each page in order right after it arrives: its frame (unpinned;
   * use it before returning) or, when no frame was free, the page read aside (frame null).  Pages
   * already in the pool are visited from there; `visit` returning false ends the stream early.
   *
   * The stream's look-ahead may hold `share` of the pool (default a quarter), so readers of other
   * pages still find victims; within it, reads of up to 16 pages (128 KiB, PostgreSQL's
   * io_combine_limit) with as many in flight as fit.  Blocks are taken from the stream a batch at a
   * time (`nextBatch()`: one Promise per batch of ready pages, not per page).
   *
   * With `ring` (scans), the frames this stream read are reused for its next pages as soon as they
   * were visited, instead of going through the clock: PostgreSQL's ring strategy for bulk reads.  A
   * scan of a range much larger than the pool then occupies only its look-ahead, and the pages others
   * use (the inner pages above all) stay cached instead of being swept out by a single pass.
   */
  async prefetch(pageNos: readonly number[], visit?: (page: Buffer, frame: Frame | null) => boolean | void, options: { share?: number; ring?: boolean } = {}): Promise<PrefetchShape> {
    const shape = prefetchShape(this.frames.length, options.share ?? 0.25, this.aio.maxConcurrency);
    const ring = options.ring === true && visit !== undefined ? new StreamRing() : null;
    let i = 0;
    const stream = readStream<number>(this.aio, this.file, {
      blockSize: PAGE_SIZE,
      maxIos: shape.maxIos,
      combineLimit: shape.combineBlocks * PAGE_SIZE,
      // A long list starts at full distance (PostgreSQL's READ_STREAM_FULL): every scan is known to want
      // its pages, and ramping up from one block each time cost a few round trips per scan.
      full: pageNos.length >= 4 * shape.combineBlocks,
      nextBlock: () => (i < pageNos.length ? { block: pageNos[i], data: pageNos[i++] } : null),
      isCached: (block) => this.#table.get(block)?.page ?? null,
      allocate: (block) => this.#claimForStream(block, ring),
      discard: (_block, _data, buffer) => void this.#releaseStreamBuffer(buffer, null),
    });
    let stopped = false;
    try {
      for (let items = await stream.nextBatch(); items !== null; items = await stream.nextBatch()) {
        let next = 0;
        try {
          while (next < items.length) {
            if ((await this.#visitStreamItem(items[next++], visit, ring)) === false) {
              stopped = true;
              break;
            }
          }
        } finally {
          // Blocks handed out but not visited (an early stop, or visit threw): their frames end their IO.
          for (; next < items.length; next++) this.#dropStreamItem(items[next]);
        }
        if (stopped) break;
      }
    } finally {
      await stream.end();
    }
    const stats = stream.stats();
    shape.reads = stats.reads;
    shape.largestRead = stats.largestRead;
    return shape;
  }

  /** One block from the stream: ends its frame's IO, visits it; returns what visit returned. */
  async #visitStreamItem(item: ReadStreamItem<number>, visit: ((page: Buffer, frame: Frame | null) => boolean | void) | undefined, ring: StreamRing | null): Promise<boolean | void> {
    const frame = item.cached ? (this.#table.get(item.block) ?? null) : this.#releaseStreamBuffer(item.buffer, item.length);
    if (frame !== null && frame.state === 'io-in-progress') await this.#ioDone(frame);
    if (visit === undefined) {
      if (frame === null && !item.cached) this.#spares.push(item.buffer);
      return true;
    }
    if (frame !== null && frame.state === 'valid' && frame.pageNo === item.block) {
      if (!item.cached) ring?.push(frame);
      return visit(frame.page, frame);
    }
    // Read aside (no free frame), evicted meanwhile, or failed its check.  Not through pin(): a pin
    // could wait for a frame this very stream holds, which it hands over only when we go on.
    const page = frame === null && !item.cached ? item.buffer : await this.#readAside(item.block);
    try {
      if (verifyPage(page, item.block) === 'torn') throw new TornPageError(item.block);
      return visit(page, null);
    } finally {
      this.#spares.push(page);
    }
  }

  /** A block handed out by the stream that will not be visited: its frame's IO ends as for a visited one. */
  #dropStreamItem(item: ReadStreamItem<number>): void {
    if (item.cached) return;
    const frame = this.#releaseStreamBuffer(item.buffer, item.length);
    if (frame === null && item.buffer.buffer !== this.#slab.buffer) this.#spares.push(item.buffer);
  }

  async #readAside(pageNo: number): Promise<Buffer> {
    const page = this.#spares.pop() ?? allocAligned(PAGE_SIZE);
    const bytes = await this.file.read(page, pageNo * PAGE_SIZE);
    if (bytes < PAGE_SIZE) page.fill(0, Math.max(0, bytes));
    return page;
  }

  /**
   * Writes frames back (copies, so the frames stay usable meanwhile), each only after the WAL is
   * durable up to its LSN; a frame is clean once its write completed, unless it changed since its copy.
   */
  async writeFrames(frames: readonly Frame[], sync: 'none' | 'always'): Promise<void> {
    const run = this.#writeFrames(frames, sync);
    this.#writesInFlight.add(run);
    try {
      await run;
    } finally {
      this.#writesInFlight.delete(run);
    }
  }

  /** Waits for every write-back in flight (a checkpoint's sync must come after them). */
  async drainWrites(): Promise<void> {
    while (this.#writesInFlight.size > 0) await Promise.allSettled([...this.#writesInFlight]);
  }

  async #writeFrames(frames: readonly Frame[], sync: 'none' | 'always'): Promise<void> {
    const spares = this.#spares;
    const file = this.file;
    const pages = (function* () {
      for (const frame of frames) {
        if (!frame.dirty || frame.state !== 'valid') continue;
        const buffer = spares.pop() ?? allocAligned(PAGE_SIZE);
        frame.page.copy(buffer);
        sealPage(buffer, frame.pageNo);
        yield { file, offset: frame.pageNo * PAGE_SIZE, buffer, lsn: pageLsn(buffer), frame, pageNo: frame.pageNo, gen: frame.dirtyGen };
      }
    })();
    const result = await writeBack(this.aio, pages, {
      window: Math.min(16, this.aio.maxConcurrency),
      beforeWrite: async (page) => {
        if (page.lsn > this.wal.durableLsn) await this.wal.flush(page.lsn);
      },
      onClean: (page) => {
        this.stats.writes++;
        if (page.frame.pageNo === page.pageNo && page.frame.dirtyGen === page.gen) page.frame.dirty = false;
        spares.push(page.buffer);
      },
      onError: (page) => spares.push(page.buffer),
      sync,
      syncFiles: sync === 'none' ? undefined : [file],
    });
    if (result.failed.length > 0) throw result.failed[0].error;
    if (result.syncFailed.length > 0) throw result.syncFailed[0].error;
  }

  /**
   * Maps pageNo to a victim frame marked io-in-progress and queues its read for the next batch; null
   * when no frame is free (the caller makes room and retries).  Synchronous, so no one can race it: a
   * second reader finds the frame and waits for it.
   *
   * Misses are read in batches: every miss queued until the event loop's next check phase goes out in
   * one submission in batch mode (one io_uring_enter, one lio_listio, one queue lock for the thread
   * pool).  With 32 concurrent readers, a round of completions wakes many readers; each descends the
   * tree (hits) to its next miss within the same turn, so their misses leave together instead of one
   * system call each.
   */
  #queueRead(pageNo: number): Frame | null {
    const frame = this.#claimVictim();
    if (frame === null) return null;
    this.#map(frame, pageNo);
    frame.state = 'io-in-progress';
    frame.queued = true;
    this.stats.reads++;
    this.#queued.push(frame);
    if (this.#batchStarted === null) {
      this.#batchStarted = new Promise((resolve) => (this.#settleBatch = resolve));
      setImmediate(this.#startQueuedReads);
    }
    return frame;
  }

  /**
   * Starts the queued misses in batch mode.  Handles come from tryAcquire (never a blocking acquire,
   * never acquireAsync: a handle acquireAsync resolves with stays handed out until the caller's
   * continuation runs, and a core helper calling acquire() in that gap fails); when every handle is
   * busy the rest waits for the next turn of the event loop.  Readers waiting for the batch wake once it
   * is submitted and then wait on their frames' wait references.
   */
  readonly #startQueuedReads = (): void => {
    const frames = this.#queued;
    const settle = this.#settleBatch;
    this.#queued = [];
    this.#batchStarted = null;
    this.#settleBatch = null;
    let next = 0;
    if (this.aio.closed) {
      for (const frame of frames) this.#failQueued(frame, new Error(`read of page ${frame.pageNo} not started: the AIO context is closed`));
      next = frames.length;
    } else {
      const batching = !this.aio.inBatchMode;
      try {
        if (batching) this.aio.enterBatchMode();
        for (; next < frames.length; next++) {
          const frame = frames[next];
          const handle = this.aio.tryAcquire();
          if (handle === null) break;
          try {
            handle.getWaitRef(frame.ref);
            handle.registerCallbacks(READ_CALLBACKS, this.#id * POOL_ID_SPAN + frame.index);
          } catch (error) {
            handle.release();
            throw error;
          }
          frame.queued = false;
          try {
            handle.startRead(this.file, frame.page, frame.pageNo * PAGE_SIZE);
          } catch (error) {
            // start* gave the handle back; the frame must not stay "in progress" forever.
            this.#failQueued(frame, error as Error);
          }
        }
      } catch (error) {
        // The context refused (closing, or a usage error): the readers of the rest get the error.
        for (; next < frames.length; next++) this.#failQueued(frames[next], error as Error);
      } finally {
        if (batching && this.aio.inBatchMode && !this.aio.closed) this.aio.exitBatchMode();
      }
      this.stats.readBatches++;
    }
    if (next < frames.length) {
      // Every handle busy: the rest goes first in the next batch (their readers wait for that one).
      this.#queued = frames.slice(next).concat(this.#queued);
      this.#batchStarted ??= new Promise((resolve) => (this.#settleBatch = resolve));
      setImmediate(this.#startQueuedReads);
    }
    settle?.();
  };

  #failQueued(frame: Frame, error: Error): void {
    frame.queued = false;
    frame.ref.clear();
    frame.state = 'io-error';
    frame.verdict = 'ok';
    frame.error = error;
  }

  /** Runs in the shared completion callback, before any waiter wakes: verify the page, end the IO. */
  completeRead(index: number, result: AioResult): void {
    const frame = this.frames[index];
    if (frame === undefined || frame.state !== 'io-in-progress') return;
    this.#finishRead(frame, result.status === 'ok' || result.status === 'partial' ? result.result : result.code === 'AIO_EOF' ? 0 : -1, result);
  }

  #finishRead(frame: Frame, bytes: number, result: AioResult | null): void {
    if (bytes < 0) {
      frame.state = 'io-error';
      frame.verdict = 'ok';
      frame.error = new Error(`read of page ${frame.pageNo} failed: ${result?.code ?? 'error'} (errno ${result?.errno ?? '?'})`);
      return;
    }
    // Past the end of the file the page was never written: it reads as zeros.
    if (bytes < PAGE_SIZE) frame.page.fill(0, bytes);
    frame.verdict = verifyPage(frame.page, frame.pageNo);
    frame.node = null;
    frame.error = frame.verdict === 'torn' ? new TornPageError(frame.pageNo) : null;
    frame.state = frame.verdict === 'torn' ? 'io-error' : 'valid';
  }

  #claimForStream(block: number, ring: StreamRing | null): Buffer {
    const existing = this.#table.get(block);
    let frame: Frame | null = null;
    if (existing === undefined) {
      frame = ring === null ? null : this.#takeFromRing(ring);
      frame ??= this.#claimVictim();
    }
    if (frame === null) return this.#spares.pop() ?? allocAligned(PAGE_SIZE); // no room (or a racing reader): read aside
    this.#map(frame, block);
    frame.state = 'io-in-progress';
    frame.streaming = true;
    this.stats.reads++;
    this.stats.prefetched++;
    return frame.page;
  }

  /** The oldest frame of the ring that still holds the page the stream read into it, unused: evicted for reuse. */
  #takeFromRing(ring: StreamRing): Frame | null {
    for (let frame = ring.shift(); frame !== null; frame = ring.shift()) {
      if (frame.pageNo !== ring.lastPageNo || frame.pins > 0 || frame.state !== 'valid' || frame.dirty) continue;
      this.stats.evictions++;
      this.#unmap(frame);
      return frame;
    }
    return null;
  }

  /** A stream buffer came back (length: bytes read) or was discarded (null). */
  #releaseStreamBuffer(buffer: Buffer, length: number | null): Frame | null {
    const inSlab = buffer.buffer === this.#slab.buffer;
    const frame = inSlab ? this.frames[(buffer.byteOffset - this.#slab.byteOffset) / PAGE_SIZE] : undefined;
    if (!inSlab) {
      // A buffer read aside: the caller uses it, then gives it back.  Discarded ones go back now.
      if (length === null) this.#spares.push(buffer);
      return null;
    }
    if (frame === undefined || !frame.streaming) return null;
    frame.streaming = false;
    if (length === null) this.#unmap(frame);
    else this.#finishRead(frame, length, null);
    const settle = frame.streamSettle;
    frame.streamSettle = null;
    frame.streamDone = null;
    settle?.();
    return frame;
  }

  /** A clean, unpinned frame with nothing in progress, by clock sweep; null if none right now. */
  #claimVictim(): Frame | null {
    const n = this.frames.length;
    for (let step = 0; step < n * 6; step++) {
      const frame = this.frames[this.#hand];
      this.#hand = (this.#hand + 1) % n;
      if (frame.state === 'free') return frame;
      if (frame.pins > 0 || frame.state === 'io-in-progress') continue;
      if (frame.usage > 0) {
        frame.usage--;
        continue;
      }
      if (frame.dirty) continue;
      if (frame.pageNo >= 0) this.stats.evictions++;
      this.#unmap(frame);
      return frame;
    }
    return null;
  }

  /** No clean victim: write a batch of dirty unpinned frames (the background writer's job), or wait for IO. */
  async #makeRoom(): Promise<void> {
    const dirty = this.frames.filter((frame) => frame.dirty && frame.pins === 0 && frame.state === 'valid');
    if (dirty.length > 0) {
      dirty.sort((a, b) => a.usage - b.usage);
      await this.writeFrames(dirty.slice(0, 32), 'none');
      return;
    }
    const busy = this.frames.find((frame) => frame.state === 'io-in-progress');
    if (busy !== undefined) {
      await this.#ioDone(busy);
      return;
    }
    if (this.#writesInFlight.size > 0) {
      await Promise.race(this.#writesInFlight);
      return;
    }
    throw new PoolExhaustedError(this.frames.length);
  }

  #map(frame: Frame, pageNo: number): void {
    frame.pageNo = pageNo;
    frame.node = null;
    frame.dirty = false;
    frame.error = null;
    frame.verdict = 'ok';
    frame.usage = 1;
    this.#table.set(pageNo, frame);
  }

  #unmap(frame: Frame): void {
    if (frame.pageNo >= 0 && this.#table.get(frame.pageNo) === frame) this.#table.delete(frame.pageNo);
    frame.pageNo = -1;
    frame.state = 'free';
    frame.node = null;
    frame.dirty = false;
    frame.pins = 0;
  }
}
