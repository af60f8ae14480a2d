/**
 * The `libuv` method: every IO is one node:fs callback call (fs.read, readv,
 * write, writev, fsync, fdatasync, always with an explicit position; fstat
 * and ftruncate for the file operations `stat` and `truncate`), which
 * Node runs on libuv's thread pool.  It needs no native package, so
 * `@aio/core` alone gives IO that does not block the thread.
 *
 * What must stay true:
 * - an IO handed to `submit` completes exactly once: its fs callback records
 *   the raw result in a table, and the table is handed to the core in one
 *   `processCompletions` call per event-loop turn (a `setImmediate` runs after
 *   the poll phase, where libuv delivered every fs completion of that turn), or
 *   earlier when the core polls;
 * - the buffers are those the core hands over (memory that cannot go away
 *   before the completion is processed), and libuv is done with them when the
 *   callback runs, which is before the completion is reported;
 * - a synchronous wait is impossible: the result of a request on libuv's pool
 *   reaches JavaScript only through its callback, which runs on a later turn
 *   of the event loop that a blocked thread never reaches.  So the method has
 *   no `waitOne`, which is how the interface says "cannot wait synchronously":
 *   `ref.waitSync()`, a blocking `acquire()` on a context whose handles are all
 *   in flight, and `closeSync()` with IO in flight throw `AIO_ERR_CANNOT_WAIT`;
 *   `await ref.wait()`, the Promise API, `tryAcquire()` and `await close()` work;
 * - a request on libuv's pool cannot be cancelled from JavaScript (Node does
 *   not expose `uv_cancel` for fs requests), so `cancel` says `unsupported`.
 */
import * as fs from 'node:fs';
import { errnoOf } from './errors.js';
import { AIO_FLAG_REFERENCES_LOCAL } from './handle.js';
import { fillStatBuffer } from './sync-method.js';
import { AIO_OP, type AioCancelOutcome, type AioIoView, type AioMethod, type AioMethodCapabilities, type AioMethodContext, type AioMethodFactory, type AioMethodHost, type AioProbeResult } from './method.js';

let EIO: number | undefined;

/** The raw result of a failed fs call: Node's negative errno, or EIO if the error carries none. */
function rawOfError(error: NodeJS.ErrnoException): number {
  const errno = error.errno;
  return typeof errno === 'number' && errno < 0 ? errno : (EIO ??= errnoOf('EIO'));
}

type FsCallback = (error: NodeJS.ErrnoException | null, bytes?: number) => void;

class LibuvMethod implements AioMethod {
  readonly name = 'libuv' as const;
  readonly capabilities: AioMethodCapabilities;
  /** An fs request queued on the pool must not find its fd closed (or reused): the core waits for it first. */
  readonly waitOnFileBeforeClose = true;
  readonly #host: AioMethodHost;
  /** Per handle index: the generation of the IO libuv has for it (completions name it). */
  readonly #generations: Int32Array;
  /** Per handle index: the fs callback, made once so that an IO allocates no closure. */
  readonly #callbacks: FsCallback[];
  /** Completions not yet reported: triples [index, generation, raw], as `processCompletions` takes them. */
  #ready: Int32Array;
  #readyCount = 0;
  /** The table being reported; swapped with `#ready` so that completions arriving meanwhile are kept. */
  #reporting: Int32Array;
  #scheduled = false;
  #inFlight = 0;
  #completed = 0;
  #batches = 0;
  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#report();
  };

  constructor(host: AioMethodHost, context: AioMethodContext) {
    this.#host = host;
    const count = context.maxConcurrency;
    this.capabilities = Object.freeze({
      // No `allocate`: node:fs has no allocation call, so it runs synchronously (ENOTSUP, then the core extends).
      ops: Object.freeze(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync', 'stat', 'truncate'] as const),
      direct: fs.constants.O_DIRECT !== undefined,
      vectored: true,
      maxDepth: count,
      completesOnOtherThread: true,
      fileKind: 'fd',
    });
    this.#generations = new Int32Array(count);
    this.#ready = new Int32Array(3 * count);
    this.#reporting = new Int32Array(3 * count);
    this.#callbacks = Array.from({ length: count }, (_, index) => (error, bytes) => this.#onDone(index, error, bytes));
  }

  /**
   * A references-local IO names memory only the issuer's thread may touch
   * (PostgreSQL's PGAIO_HF_REFERENCES_LOCAL), so it runs synchronously here,
   * as on every method whose IO executes on other threads.
   */
  needsSynchronousExecution(io: AioIoView): boolean {
    return (io.flags & AIO_FLAG_REFERENCES_LOCAL) !== 0;
  }

  submit(ios: readonly AioIoView[], count: number): number {
    for (let i = 0; i < count; i++) {
      const io = ios[i];
      this.#host.prepareSubmit(io);
      this.#generations[io.index] = io.generation | 0;
      this.#inFlight++;
      this.#dispatch(io);
    }
    return count;
  }

  /** Hands one IO to node:fs; a call that throws (it validates its arguments) completes the IO as an error. */
  #dispatch(io: AioIoView): void {
    const fd = (io.file as { fd: number }).fd;
    const done = this.#callbacks[io.index];
    try {
      switch (io.op) {
        case AIO_OP.read:
          fs.read(fd, io.buffer as NodeJS.ArrayBufferView, 0, io.length, io.offset, done);
          return;
        case AIO_OP.readv:
          fs.readv(fd, io.buffers as NodeJS.ArrayBufferView[], io.offset, done);
          return;
        case AIO_OP.write:
          fs.write(fd, io.buffer as NodeJS.ArrayBufferView, 0, io.length, io.offset, done);
          return;
        case AIO_OP.writev:
          fs.writev(fd, io.buffers as NodeJS.ArrayBufferView[], io.offset, done);
          return;
        case AIO_OP.fsync:
          fs.fsync(fd, done);
          return;
        case AIO_OP.fdatasync:
          fs.fdatasync(fd, done);
          return;
        case AIO_OP.stat:
          this.#stat(io, fd);
          return;
        case AIO_OP.truncate:
          fs.ftruncate(fd, io.offset, done);
          return;
        default:
          this.#record(io.index, errnoOf('EINVAL'));
      }
    } catch (error) {
      // node:fs refused the call before queueing it; the IO still completes, on the next report.
      this.#record(io.index, rawOfError(error as NodeJS.ErrnoException));
    }
  }

  /**
   * fs.fstat, then the four numbers into the IO's stat slot.  The slot is
   * the core's and stays the IO's until its completion is reported, which
   * comes after this callback.  One closure per stat: not a hot path.
   */
  #stat(io: AioIoView, fd: number): void {
    const index = io.index;
    fs.fstat(fd, (error, stats) => {
      if (error === null) fillStatBuffer(io.buffer as ArrayBufferView, stats);
      this.#onDone(index, error, 0);
    });
  }

  #onDone(index: number, error: NodeJS.ErrnoException | null, bytes: number | undefined): void {
    this.#record(index, error === null ? (bytes ?? 0) : rawOfError(error));
  }

  /** Keeps one raw result for the next report, and makes sure a report comes. */
  #record(index: number, raw: number): void {
    const at = 3 * this.#readyCount++;
    this.#ready[at] = index;
    this.#ready[at + 1] = this.#generations[index];
    this.#ready[at + 2] = raw;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Reports every recorded completion to the core at once; returns how many. */
  #report(): number {
    const count = this.#readyCount;
    if (count === 0) return 0;
    const table = this.#ready;
    this.#ready = this.#reporting;
    this.#reporting = table;
    this.#readyCount = 0;
    this.#inFlight -= count;
    this.#completed += count;
    this.#batches++;
    this.#host.processCompletions(table, count);
    return count;
  }

  /** The completions whose callbacks already ran and that wait for the next report. */
  poll(): number {
    return this.#report();
  }

  cancel(): AioCancelOutcome {
    return 'unsupported';
  }

  stats(): Readonly<Record<string, number>> {
    return { inFlight: this.#inFlight, completed: this.#completed, completionBatches: this.#batches };
  }

  /** The core calls this after every IO completed, so no fs request of this context is left on the pool. */
  close(): void {}
}

/** The `libuv` method's factory: node:fs callbacks on libuv's thread pool (`UV_THREADPOOL_SIZE` threads, 4 by default). */
export function libuvMethod(): AioMethodFactory {
  return {
    name: 'libuv',
    probe(): AioProbeResult {
      const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
      return {
        available: true,
        reason: `always available: node:fs callbacks on libuv's thread pool (${threads} threads, shared with dns.lookup, zlib and crypto); no synchronous wait`,
        details: { threads },
      };
    },
    create(host: AioMethodHost, context: AioMethodContext): AioMethod {
      return new LibuvMethod(host, context);
    },
  };
}
