/**
 * Write-back: a checkpoint on AIO handles.
 *
 * Given dirty pages (a file, an offset, a buffer and optionally the LSN of
 * the last log record that changed the page), `writeBack()` writes them with
 * at most `window` writes in flight, the way the seeds' checkpointer does
 * (`__memp_sync_int` with MEMP_AIO_WINDOW):
 *
 * 1. For each page it first calls `beforeWrite(page)`: the WAL rule, flush
 *    the log up to the page's LSN before the page may go out.  The hook may
 *    return a Promise; the page is not written before it settles (writes
 *    already in flight keep going meanwhile).
 * 2. It starts the write; pages that fit in the window together are started
 *    in one batch (one submission).
 * 3. A page is reported clean (`onClean(page)` and `result.clean`) only once
 *    its write has completed in full.  A failed write is reported
 *    (`onError(page, error)` and `result.failed`) and the page is never
 *    reported clean: it stays dirty.
 * 4. When every write has completed (the window has drained), it syncs each
 *    file that received a complete write, once (fsync, fdatasync, or none),
 *    all files together.  `sync: 'always'` fsyncs every file the call was
 *    given a page of, also when none of its writes succeeded (writes made
 *    earlier, outside the call, become durable too), and `syncFiles` adds
 *    files to sync that no page of the call names.
 *
 * Overlapping pages (the overlap rule): a page whose bytes overlap a write
 * in flight on the same AioFile, of this call or of another write-back
 * running at the same time, waits until that write is reported (clean or
 * failed) before its own write starts; the writes of other pages go on
 * meanwhile.  So the later page's bytes are the ones on disk, as they would
 * be with blocking writes in the same order.  Two overlapping writes in
 * flight at once could land in either order (the kernel and the device
 * reorder them), and a torn mix of both is possible with direct I/O; waiting
 * costs nothing when there is no overlap, and refusing the call instead
 * would push the coordination onto every caller (a checkpointer and an
 * evicting buffer pool write the same pages by design).  The rule sees
 * writes through the same AioFile object only, not through another open of
 * the path.
 *
 * Handles: the run never blocks the thread for one.  A write starts on a
 * free handle of the context (`tryAcquire`); when every handle is busy
 * (with other IO of the context, or the window is larger than the handles
 * left), the page waits in its slot until one of the run's own writes
 * completes, or, with none of them in flight, for `acquireAsync` (FIFO with
 * the context's other waiting callers).  So it works the same on methods
 * that cannot wait synchronously (`libuv`) and never holds the event loop.
 *
 * Short writes are retried: the rest of the page is written again, from the
 * byte where the write stopped (on a direct file, from the last 4096-byte
 * boundary before it, so the retry stays aligned).  A write that moves no
 * byte is an error (AIO_SHORT_WRITE), and after `maxRetries` short writes in
 * a row the page is reported failed with AIO_SHORT_WRITE.
 *
 * IO failures are values: the returned Promise resolves with the lists of
 * clean and failed pages and of synced and failed files.  It rejects only
 * for misuse (a malformed page) or when a hook throws; then no new write
 * starts, the writes in flight are waited for (and still reported), no
 * file is synced, and the Promise rejects with the first error.
 */
import type { Aio } from './aio.js';
import { defineAioCallbacks, type AioCallbackId } from './callbacks.js';
import { AioIoError, AioUsageError } from './errors.js';
import { AioFile } from './file.js';
import { AioWaitRef, type AioHandle } from './handle.js';
import { AioReturn } from './result.js';
import { checkBoolean, checkBuffer, checkInteger, checkOffset, checkOptions, describeValue } from './validate.js';
import { isAioFile } from './copies.js';

/** The default window: the seeds' MEMP_AIO_WINDOW. */

/**
 * Writes per submission while a refill is started in batch mode.  Measured
 * with io_uring on this project's machine (8 KiB O_DIRECT writes, window 32):
 * one submission per 8 writes beats one per refill of 32, as it does for
 * reads (see apps/bench's --batch).
 */
const SUBMIT_CHUNK = 8;
export const WRITE_BACK_DEFAULT_WINDOW = 16;
/** The default number of short writes retried per page. */
export const WRITE_BACK_DEFAULT_MAX_RETRIES = 8;

/** A page to write. Extra fields of your own are passed back to the hooks untouched. */
export interface DirtyPage {
  file: AioFile;
  /** Byte offset in the file. */
  offset: number;
  /** The page's bytes; all of them are written.  Must stay unchanged until the page is reported. */
  buffer: ArrayBufferView;
  /** The LSN of the last change, for `beforeWrite` (the library does not interpret it). */
  lsn?: number | bigint;
}

export interface WriteBackOptions<P extends DirtyPage = DirtyPage> {
  /** The most writes in flight (default 16; at most the context's maxConcurrency). */
  window?: number;
  /** Called before each page's write; the write waits for a returned Promise. */
  beforeWrite?: (page: P) => void | Promise<void>;
  /** Called when a page's write completed in full: the page is clean (not yet synced). */
  onClean?: (page: P) => void;
  /** Called when a page's write failed: the page stays dirty. */
  onError?: (page: P, error: AioIoError) => void;
  /**
   * How to make the files durable after the window drained (default 'fsync'):
   * 'fsync' or 'fdatasync' each file that received a complete write, 'always'
   * fsync every file the call had a page of (even when nothing was written),
   * 'none' sync nothing.
   */
  sync?: 'fsync' | 'fdatasync' | 'always' | 'none';
  /** More files to sync (the same way) after the window drained, even if no page of the call names them.  Not with sync: 'none'. */
  syncFiles?: Iterable<AioFile>;
  /** Start the writes that fit in the window together, in batch mode (default true). */
  batch?: boolean;
  /** Short writes retried per page before it is reported failed (default 8). */
  maxRetries?: number;
}

export interface WriteBackResult<P extends DirtyPage = DirtyPage> {
  /** Pages whose write completed, in completion order. */
  clean: P[];
  /** Pages whose write failed, with the error; they are still dirty. */
  failed: { page: P; error: AioIoError }[];
  /** Files synced successfully. */
  synced: AioFile[];
  /** Files whose sync failed: their clean pages may not be durable. */
  syncFailed: { file: AioFile; error: AioIoError }[];
  /** Write IOs started, retries included. */
  writes: number;
  /** Write IOs started again for the rest of a short write. */
  retries: number;
  /** The most writes of this call in flight at once. */
  maxInFlight: number;
}

const OPTION_KEYS = ['window', 'beforeWrite', 'onClean', 'onError', 'sync', 'syncFiles', 'batch', 'maxRetries'] as const;
const DIRECT_ALIGNMENT = 4096;

/**
 * Runs waiting for a completion, by the number their writes carry as
 * callback data.  Each write registers the `write-back` callbacks, whose
 * local completion wakes its run: the run refills its window as soon as any
 * write completes, not only the oldest (a slow write would otherwise hold
 * the whole window back, head-of-line).
 */
const waitingRuns = new Map<number, { wake(): void }>();
let nextRunId = 1;
let callbackId: AioCallbackId | undefined;

function writeBackCallbacks(): AioCallbackId {
  callbackId ??= defineAioCallbacks({
    name: 'write-back',
    completeLocal(_handle, prior, data) {
      waitingRuns.get(data)?.wake();
      return prior;
    },
  });
  return callbackId;
}

/**
 * A page write of some run, from its first attempt until it is reported:
 * what the overlap rule waits for.  The Promise is made only when a page
 * waits for it (no allocation per page when nothing overlaps).
 */
class PageWrite {
  #wakes: (() => void)[] | null = null;

  constructor(
    readonly file: AioFile,
    readonly offset: number,
    readonly end: number,
  ) {}

  overlaps(file: AioFile, offset: number, end: number): boolean {
    return this.file === file && this.offset < end && offset < this.end;
  }

  reported(): Promise<void> {
    return new Promise<void>((resolve) => (this.#wakes ??= []).push(resolve));
  }

  finish(): void {
    const wakes = this.#wakes;
    this.#wakes = null;
    if (wakes !== null) for (const wake of wakes) wake();
  }
}

/** Page writes in flight, per file, of every run in the process (the overlap rule). */
const pageWrites = new Map<AioFile, Set<PageWrite>>();

function registerPageWrite(page: DirtyPage): PageWrite {
  const write = new PageWrite(page.file, page.offset, page.offset + page.buffer.byteLength);
  let writes = pageWrites.get(page.file);
  if (writes === undefined) pageWrites.set(page.file, (writes = new Set()));
  writes.add(write);
  return write;
}

function unregisterPageWrite(write: PageWrite): void {
  const writes = pageWrites.get(write.file);
  writes?.delete(write);
  if (writes?.size === 0) pageWrites.delete(write.file);
  write.finish();
}

/** Resolves once every page write in flight that overlaps `page` is reported; null if none does. */
function overlapOf(page: DirtyPage): Promise<void> | null {
  const writes = pageWrites.get(page.file);
  if (writes === undefined) return null;
  const end = page.offset + page.buffer.byteLength;
  let waits: Promise<void>[] | null = null;
  for (const write of writes) if (write.overlaps(page.file, page.offset, end)) (waits ??= []).push(write.reported());
  if (waits === null) return null;
  return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined);
}

function overlapsAny(page: DirtyPage, pages: readonly DirtyPage[]): boolean {
  const end = page.offset + page.buffer.byteLength;
  return pages.some((other) => other.file === page.file && other.offset < end && page.offset < other.offset + other.buffer.byteLength);
}

/** One write in flight. */
class WriteSlot<P> {
  readonly ret = new AioReturn();
  readonly ref = new AioWaitRef();
  page: P | null = null;
  /** The page's entry for the overlap rule, from its first attempt until it is reported. */
  write: PageWrite | null = null;
  /** Bytes of the page written so far (by earlier attempts). */
  written = 0;
  /** Where the current attempt starts, in the page. */
  from = 0;
  retries = 0;
}

/**
 * Writes `pages` with at most `window` writes in flight, then syncs each
 * file once.  See the module comment for the order of events and errors.
 */
export function writeBack<P extends DirtyPage>(
  aio: Aio,
  pages: Iterable<P> | AsyncIterable<P>,
  options?: WriteBackOptions<P>,
): Promise<WriteBackResult<P>> {
  try {
    return new WriteBackRun<P>(aio, pages, options).run();
  } catch (error) {
    // Bad options reject like every other Promise of the convenience API.
    return Promise.reject(error);
  }
}

class WriteBackRun<P extends DirtyPage> {
  readonly #aio: Aio;
  readonly #pages: Iterator<P> | AsyncIterator<P>;
  readonly #window: number;
  readonly #beforeWrite: ((page: P) => void | Promise<void>) | undefined;
  readonly #onClean: ((page: P) => void) | undefined;
  readonly #onError: ((page: P, error: AioIoError) => void) | undefined;
  readonly #sync: 'fsync' | 'fdatasync' | 'always' | 'none';
  /** Files to sync whatever the pages did (`syncFiles`). */
  readonly #extraSyncFiles: AioFile[];
  /** Every file the call had a page of (for sync: 'always'). */
  readonly #touchedFiles = new Set<AioFile>();
  /** The next page, taken and hooked, waiting for an overlapping write in flight to be reported. */
  #held: { page: P; until: Promise<void> } | null = null;
  readonly #batch: boolean;
  readonly #maxRetries: number;
  readonly #slots: WriteSlot<P>[];
  /** Free slot indexes, as a stack. */
  readonly #free: number[] = [];
  /** Slot indexes in flight, oldest first. */
  #inflight: number[] = [];
  /**
   * Slot indexes whose page (or the rest of it) is ready to write but got no
   * handle yet, oldest first.  They hold their place in the window and their
   * overlap-rule entry; they start before any new page.
   */
  #waiting: number[] = [];
  #spare: number[] = [];
  /** Files with at least one clean page, to sync. */
  readonly #dirtyFiles = new Set<AioFile>();
  #failure: { error: unknown } | null = null;
  readonly #runId = nextRunId++ & 0x7fff_ffff;
  readonly #callbacks = writeBackCallbacks();
  /** Resolves the run's wait for a completion; set while it waits. */
  #wake: (() => void) | null = null;
  readonly #result: WriteBackResult<P> = { clean: [], failed: [], synced: [], syncFailed: [], writes: 0, retries: 0, maxInFlight: 0 };

  constructor(aio: Aio, pages: Iterable<P> | AsyncIterable<P>, options: WriteBackOptions<P> | undefined) {
    const opts = checkOptions<WriteBackOptions<P>>(options, 'options', OPTION_KEYS);
    this.#aio = aio;
    this.#pages = iteratorOf(pages);
    const window = opts.window === undefined ? WRITE_BACK_DEFAULT_WINDOW : checkInteger(opts.window, 'options.window', 1, 1024);
    this.#window = Math.min(window, aio.maxConcurrency);
    this.#beforeWrite = checkHook(opts.beforeWrite, 'options.beforeWrite');
    this.#onClean = checkHook(opts.onClean, 'options.onClean');
    this.#onError = checkHook(opts.onError, 'options.onError');
    const sync = opts.sync ?? 'fsync';
    if (sync !== 'fsync' && sync !== 'fdatasync' && sync !== 'always' && sync !== 'none') {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `options.sync must be 'fsync', 'fdatasync', 'always' or 'none', got ${describeValue(sync)}`);
    }
    this.#sync = sync;
    this.#extraSyncFiles = checkSyncFiles(aio, opts.syncFiles);
    if (sync === 'none' && this.#extraSyncFiles.length > 0) {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', "options.syncFiles cannot be used with sync: 'none' (there is no sync to make them durable)");
    }
    this.#batch = checkBoolean(opts.batch, 'options.batch', true);
    this.#maxRetries = opts.maxRetries === undefined ? WRITE_BACK_DEFAULT_MAX_RETRIES : checkInteger(opts.maxRetries, 'options.maxRetries', 0, 1_000_000);
    this.#slots = Array.from({ length: this.#window }, () => new WriteSlot<P>());
    for (let i = this.#window - 1; i >= 0; i--) this.#free.push(i);
  }

  async run(): Promise<WriteBackResult<P>> {
    waitingRuns.set(this.#runId, this);
    try {
      await this.#writePages();
    } finally {
      waitingRuns.delete(this.#runId);
    }
    if (this.#failure !== null) {
      await this.#closePages();
      throw this.#failure.error;
    }
    if (this.#sync !== 'none') await this.#syncFiles();
    return this.#result;
  }

  async #writePages(): Promise<void> {
    let exhausted = false;
    for (;;) {
      if (this.#failure !== null) this.#dropWaiting();
      else this.#startWaiting();
      if (!exhausted && this.#failure === null && this.#waiting.length === 0) exhausted = await this.#refill();
      // A page held by the overlap rule waits while this run's own writes go on (and are reported).
      const held = this.#failure === null ? this.#held : null;
      if (this.#inflight.length === 0) {
        if (this.#waiting.length > 0 && this.#failure === null) {
          await this.#startWaitingAsync();
          continue;
        }
        if (held !== null) {
          await held.until;
          continue;
        }
        if (exhausted || this.#failure !== null) return;
        continue;
      }
      if (held !== null) await Promise.race([this.#waitAny(), held.until]);
      else await this.#waitAny();
      this.#sweep();
    }
  }

  /** Called by the completion callback of any of this run's writes. */
  wake(): void {
    const wake = this.#wake;
    if (wake === null) return;
    this.#wake = null;
    wake();
  }

  /**
   * Takes pages while the window has room, calls beforeWrite for each, and
   * starts them together.  A hook that returns a Promise first gets the
   * pages gathered so far started, so they do not wait for it.  Returns
   * true once the pages are exhausted.
   */
  async #refill(): Promise<boolean> {
    const batch: P[] = [];
    let exhausted = false;
    try {
      while (this.#free.length > batch.length) {
        let page: P;
        if (this.#held !== null) {
          page = this.#held.page;
          this.#held = null;
        } else {
          const step = this.#pages.next();
          const next = isThenable(step) ? await step : step;
          if (next.done === true) {
            exhausted = true;
            break;
          }
          page = checkPage(next.value);
          this.#touchedFiles.add(page.file);
          const ready = this.#beforeWrite?.(page);
          if (isThenable(ready)) {
            this.#start(batch);
            batch.length = 0;
            await ready;
          }
        }
        // The overlap rule: an overlapping page of this refill is started first (so it is in flight and
        // registered), then this page waits for every overlapping write in flight to be reported.
        if (overlapsAny(page, batch)) {
          this.#start(batch);
          batch.length = 0;
        }
        const until = overlapOf(page);
        if (until !== null) {
          this.#held = { page, until };
          break;
        }
        batch.push(page);
      }
    } catch (error) {
      this.#fail(error);
    }
    // After a failure no new write starts: pages gathered and not started stay dirty, unreported.
    if (this.#failure === null) this.#start(batch);
    return exhausted;
  }

  /**
   * Starts the writes of `pages`, together in batch mode when there are
   * several, handed to the method {@link SUBMIT_CHUNK} at a time: the first
   * writes reach the device while the rest are being prepared, instead of
   * the device idling until the whole refill is ready.
   */
  #start(pages: readonly P[]): void {
    if (pages.length === 0) return;
    const aio = this.#aio;
    const batching = this.#batch && pages.length > 1 && !aio.inBatchMode;
    if (batching) aio.enterBatchMode();
    try {
      let started = 0;
      for (const page of pages) {
        this.#startPage(page);
        if (batching && ++started % SUBMIT_CHUNK === 0) aio.submitStaged();
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      // We wait for these writes: they must not stay staged in a batch of the caller's.
      if (batching) aio.exitBatchMode();
      else if (aio.inBatchMode) aio.submitStaged();
    }
    if (this.#inflight.length > this.#result.maxInFlight) this.#result.maxInFlight = this.#inflight.length;
  }

  #startPage(page: P): void {
    const index = this.#free.pop() as number;
    const slot = this.#slots[index];
    slot.page = page;
    slot.written = 0;
    slot.retries = 0;
    slot.write = registerPageWrite(page);
    try {
      // Pages keep their order: once one waits for a handle, the later ones wait behind it.
      if (this.#waiting.length > 0 || !this.#startAttempt(slot)) this.#waiting.push(index);
      else this.#inflight.push(index);
    } catch (error) {
      slot.page = null;
      unregisterPageWrite(slot.write);
      slot.write = null;
      this.#free.push(index);
      throw error;
    }
  }

  /** Starts the waiting slots, oldest first, while handles are free. */
  #startWaiting(): void {
    if (this.#waiting.length === 0) return;
    const aio = this.#aio;
    const batching = this.#batch && this.#waiting.length > 1 && !aio.inBatchMode;
    if (batching) aio.enterBatchMode();
    try {
      while (this.#waiting.length > 0) {
        const index = this.#waiting[0];
        if (!this.#startWaitingSlot(index)) break;
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      if (batching) aio.exitBatchMode();
      else if (aio.inBatchMode) aio.submitStaged();
    }
  }

  /**
   * With none of the run's writes in flight, waits without blocking for a
   * handle for the oldest waiting slot, and starts it at once (a handle
   * handed out by acquireAsync must get its IO right after the await).
   */
  async #startWaitingAsync(): Promise<void> {
    const index = this.#waiting[0];
    try {
      const handle = await this.#aio.acquireAsync(this.#slots[index].ret);
      this.#startWaitingSlot(index, handle);
    } catch (error) {
      this.#fail(error);
    }
  }

  /** Starts one waiting slot (on `handle`, else a free one); false if no handle is free. */
  #startWaitingSlot(index: number, handle?: AioHandle): boolean {
    const slot = this.#slots[index];
    try {
      if (!this.#startAttempt(slot, handle)) return false;
    } catch (error) {
      // As when starting at once: a retry is reported failed, a first attempt stays dirty, unreported.
      this.#waiting.shift();
      if (slot.retries > 0) this.#report(slot, error as AioIoError);
      else {
        slot.page = null;
        this.#finishWrite(slot);
      }
      this.#free.push(index);
      throw error;
    }
    this.#waiting.shift();
    this.#inflight.push(index);
    return true;
  }

  /** After a failure: waiting pages are not written; they stay dirty, unreported, like pages never taken. */
  #dropWaiting(): void {
    for (const index of this.#waiting) {
      const slot = this.#slots[index];
      slot.page = null;
      this.#finishWrite(slot);
      this.#free.push(index);
    }
    this.#waiting.length = 0;
  }

  /**
   * Writes the rest of the slot's page, from `written` (aligned down on a
   * direct file), on `handle` or a free handle of the context.  Returns false,
   * starting nothing, if no handle is free.
   */
  #startAttempt(slot: WriteSlot<P>, given?: AioHandle): boolean {
    const page = slot.page as P;
    const from = page.file.flags.direct ? slot.written - (slot.written % DIRECT_ALIGNMENT) : slot.written;
    const buffer = checkBuffer(page.buffer, 'page.buffer');
    const view = from === 0 ? buffer : new Uint8Array(buffer.buffer, buffer.byteOffset + from, buffer.byteLength - from);
    const handle = given ?? this.#aio.tryAcquire(slot.ret);
    if (handle === null) return false;
    slot.from = from;
    handle.getWaitRef(slot.ref);
    try {
      handle.registerCallbacks(this.#callbacks, this.#runId);
      handle.startWrite(page.file, view, page.offset + from);
    } catch (error) {
      if (handle.state === 'handed-out') handle.release();
      throw error;
    }
    this.#result.writes++;
    return true;
  }

  /** Waits until at least one write in flight has completed. */
  async #waitAny(): Promise<void> {
    for (const index of this.#inflight) if (this.#slots[index].ret.done) return;
    // Collect what the method has ready without waiting (isDone polls it).
    const oldest = this.#slots[this.#inflight[0]];
    if (oldest.ref.isDone()) return;
    for (const index of this.#inflight) if (this.#slots[index].ret.done) return;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
  }

  /**
   * Reports every completed write (in flight order) and frees its slot, or
   * starts the rest of a short one again.
   */
  #sweep(): void {
    const still = this.#spare;
    still.length = 0;
    const retried: number[] = [];
    for (const index of this.#inflight) {
      const slot = this.#slots[index];
      if (!slot.ret.done) still.push(index);
      else if (this.#complete(slot)) retried.push(index);
      else this.#free.push(index);
    }
    this.#spare = this.#inflight;
    this.#inflight = still;
    for (const index of retried) {
      try {
        this.#result.retries++;
        if (this.#waiting.length > 0 || !this.#startAttempt(this.#slots[index])) this.#waiting.push(index);
        else this.#inflight.push(index);
      } catch (error) {
        this.#fail(error);
        this.#report(this.#slots[index], error as AioIoError);
        this.#free.push(index);
      }
    }
    if (retried.length > 0 && this.#aio.inBatchMode) this.#aio.submitStaged();
  }

  /** Takes a completed write's result; returns true if the rest of the page must be written again. */
  #complete(slot: WriteSlot<P>): boolean {
    const result = slot.ret.result;
    const page = slot.page as P;
    if (result.status === 'ok' || result.status === 'warning') {
      this.#clean(slot);
      return false;
    }
    if (result.status === 'partial') {
      slot.written = slot.from + result.result;
      if (slot.retries < this.#maxRetries) {
        slot.retries++;
        return true;
      }
      this.#report(slot, shortWriteError(slot.ret, page, slot.written, this.#aio.methodName));
      return false;
    }
    this.#report(slot, slot.ret.toError());
    return false;
  }

  #clean(slot: WriteSlot<P>): void {
    const page = slot.page as P;
    slot.page = null;
    this.#finishWrite(slot);
    this.#dirtyFiles.add(page.file);
    this.#result.clean.push(page);
    this.#callHook(() => this.#onClean?.(page));
  }

  #report(slot: WriteSlot<P>, error: AioIoError): void {
    const page = slot.page as P;
    slot.page = null;
    this.#finishWrite(slot);
    this.#result.failed.push({ page, error });
    this.#callHook(() => this.#onError?.(page, error));
  }

  /** Runs a hook; its throw stops the write-back (the first failure is kept). */
  #callHook(hook: () => void): void {
    try {
      hook();
    } catch (error) {
      this.#fail(error);
    }
  }

  /** The page is reported: pages waiting for it by the overlap rule may go. */
  #finishWrite(slot: WriteSlot<P>): void {
    if (slot.write === null) return;
    unregisterPageWrite(slot.write);
    slot.write = null;
  }

  #fail(error: unknown): void {
    this.#failure ??= { error };
  }

  /**
   * Syncs every file that got a clean page (with 'always': every file the
   * call had a page of), and the `syncFiles`, all at once (at most `window`
   * in flight).
   */
  async #syncFiles(): Promise<void> {
    const files = [...new Set([...(this.#sync === 'always' ? this.#touchedFiles : this.#dirtyFiles), ...this.#extraSyncFiles])];
    for (let at = 0; at < files.length; at += this.#window) {
      const group = files.slice(at, at + this.#window);
      const slots = this.#slots.slice(0, group.length);
      const aio = this.#aio;
      const batching = this.#batch && group.length > 1 && !aio.inBatchMode;
      if (batching) aio.enterBatchMode();
      try {
        for (let i = 0; i < group.length; i++) {
          // Without blocking: a busy context makes this wait its turn (acquireAsync submits what is staged first).
          const handle = aio.tryAcquire(slots[i].ret) ?? (await aio.acquireAsync(slots[i].ret));
          handle.getWaitRef(slots[i].ref);
          if (this.#sync === 'fdatasync') handle.startFdatasync(group[i]);
          else handle.startFsync(group[i]);
        }
      } finally {
        if (batching) aio.exitBatchMode();
        else if (aio.inBatchMode) aio.submitStaged();
      }
      for (let i = 0; i < group.length; i++) {
        if (!slots[i].ret.done && !slots[i].ref.isDone()) await slots[i].ref.wait();
        const ret = slots[i].ret;
        if (ret.result.status === 'error') this.#result.syncFailed.push({ file: group[i], error: ret.toError() });
        else this.#result.synced.push(group[i]);
      }
    }
  }

  /** After a failure: tells the page iterator we stop early (a generator's finally blocks run). */
  async #closePages(): Promise<void> {
    try {
      const done = this.#pages.return?.();
      if (isThenable(done)) await done;
    } catch {
      // The first failure is what the caller hears about.
    }
  }
}

function iteratorOf<P>(pages: Iterable<P> | AsyncIterable<P>): Iterator<P> | AsyncIterator<P> {
  const source = pages as Partial<Iterable<P> & AsyncIterable<P>> | null;
  if (source !== null && typeof source === 'object') {
    const asyncIterator = source[Symbol.asyncIterator];
    if (typeof asyncIterator === 'function') return asyncIterator.call(source);
    const iterator = source[Symbol.iterator];
    if (typeof iterator === 'function') return iterator.call(source);
  }
  throw new AioUsageError('AIO_ERR_INVALID_TYPE', `pages must be an iterable or async iterable of dirty pages, got ${describeValue(pages)}`);
}

function checkSyncFiles(aio: Aio, value: Iterable<AioFile> | undefined): AioFile[] {
  if (value === undefined) return [];
  const iterator = (value as Partial<Iterable<AioFile>> | null)?.[Symbol.iterator];
  if (typeof value !== 'object' || value === null || typeof iterator !== 'function') {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `options.syncFiles must be an iterable of AioFile, got ${describeValue(value)}`);
  }
  const files = [...new Set(value)];
  for (const file of files) {
    if (!isAioFile(file)) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `options.syncFiles must hold AioFile objects from aio.open(), got ${describeValue(file)}`);
    }
    if (file.aio !== aio) throw new AioUsageError('AIO_ERR_FOREIGN_FILE', `options.syncFiles: ${file.describe()} belongs to another AIO context`);
    if (file.closed) throw new AioUsageError('AIO_ERR_FILE_CLOSED', `options.syncFiles: ${file.describe()} is closed`);
  }
  return files;
}

function checkHook<F>(value: F | undefined, name: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be a function, got ${describeValue(value)}`);
  }
  return value;
}

function checkPage<P extends DirtyPage>(page: P): P {
  if (page === null || typeof page !== 'object') {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `each page must be an object { file, offset, buffer }, got ${describeValue(page)}`);
  }
  if (!isAioFile(page.file)) {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `page.file must be an AioFile from aio.open(), got ${describeValue(page.file)}`);
  }
  checkOffset(page.offset, 'page.offset');
  // A detached page (AIO_ERR_DETACHED) stops the run before its write: it is
  // never reported clean and no file is synced for it.
  checkBuffer(page.buffer, 'page.buffer');
  return page;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

function shortWriteError(ret: AioReturn, page: DirtyPage, written: number, method: string): AioIoError {
  return new AioIoError({
    code: 'AIO_SHORT_WRITE',
    syscall: 'write',
    path: page.file.path,
    target: ret.target.describe(),
    method,
    detail: `wrote only ${written} of ${page.buffer.byteLength} bytes of the page at offset ${page.offset} after retrying short writes`,
    result: { ...ret.result },
  });
}
