/**
 * Files as the library opens them, the convenience Promise API's entry
 * points on them, and each context's table of open files.
 *
 * `aio.open()` opens files itself (node:fs cannot open with O_DIRECT on every
 * platform, nor with FILE_FLAG_NO_BUFFERING on Windows), so an `AioFile`
 * holds whatever the context's method understands: a POSIX fd, or a Windows
 * HANDLE for the Windows methods.  On POSIX, fds opened with node:fs are
 * accepted too (`aio.fromFd`).  The file table is built on the context's
 * handle API (internals.ts): closing a file waits for its IO through the
 * same waits a caller would use.
 *
 * The file operations live here too: `stat`, `truncate` and `allocate` on
 * a file are IOs through the method like reads (each with a `...Sync` twin
 * that runs with the synchronous flag), and the table does `aio.rename()`
 * and `aio.syncDirectory()`, whose directory fsync is an IO on a directory
 * fd it opens and closes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { AioIoError, AioUsageError, errnoOf, systemErrorCode } from './errors.js';
import type { Aio } from './aio.js';
import type { AioCore } from './internals.js';
import type { AioPromiseQueue } from './promise-api.js';
import { AioWaitRef, type AioHandle } from './handle.js';
import { AIO_FLAG_KEEP_SIZE } from './method.js';
import { AioReturn } from './result.js';
import {
  checkBoolean,
  checkBuffer,
  checkBufferBytes,
  checkByteRange,
  checkPath,
  checkBufferList,
  checkInteger,
  checkLength,
  checkOffset,
  checkOptions,
  checkSignal,
  describeValue,
  detachedError,
  isDetached,
} from './validate.js';

/** How to open a file. */
export interface AioOpenFlags {
  /** Open for reading (default true). */
  read?: boolean;
  /** Open for writing (default false). */
  write?: boolean;
  /** Create the file if it does not exist (default false). */
  create?: boolean;
  /** With `create`: fail if the file exists (default false). */
  exclusive?: boolean;
  /** Truncate to zero length (default false). */
  truncate?: boolean;
  /** Direct I/O: bypass the page cache (O_DIRECT / FILE_FLAG_NO_BUFFERING). Buffers, offsets and lengths must be aligned. */
  direct?: boolean;
  /** Every write is durable when it completes (O_DSYNC / FILE_FLAG_WRITE_THROUGH). */
  dsync?: boolean;
  /** Permission bits for a created file (default 0o666, minus the umask). */
  mode?: number;
}

const OPEN_FLAG_KEYS = ['read', 'write', 'create', 'exclusive', 'truncate', 'direct', 'dsync', 'mode'] as const;

/** Validates open flags and fills in the defaults. */
export function normalizeOpenFlags(value: unknown): Required<AioOpenFlags> {
  const options = checkOptions<AioOpenFlags>(value, 'flags', OPEN_FLAG_KEYS);
  const flags: Required<AioOpenFlags> = {
    read: checkBoolean(options.read, 'flags.read', true),
    write: checkBoolean(options.write, 'flags.write', false),
    create: checkBoolean(options.create, 'flags.create', false),
    exclusive: checkBoolean(options.exclusive, 'flags.exclusive', false),
    truncate: checkBoolean(options.truncate, 'flags.truncate', false),
    direct: checkBoolean(options.direct, 'flags.direct', false),
    dsync: checkBoolean(options.dsync, 'flags.dsync', false),
    mode: options.mode === undefined ? 0o666 : checkInteger(options.mode, 'flags.mode', 0, 0o7777),
  };
  if (!flags.read && !flags.write) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', 'flags must open the file for reading, writing or both');
  }
  if ((flags.create || flags.truncate) && !flags.write) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', 'flags.create and flags.truncate need flags.write');
  }
  return flags;
}

/** The open(2) flags for node:fs, or throws AIO_ERR_UNSUPPORTED for what this platform lacks. */
export function posixOpenFlags(flags: Required<AioOpenFlags>): number {
  const c = fs.constants;
  let bits = flags.read && flags.write ? c.O_RDWR : flags.write ? c.O_WRONLY : c.O_RDONLY;
  if (flags.create) bits |= c.O_CREAT;
  if (flags.exclusive) bits |= c.O_EXCL;
  if (flags.truncate) bits |= c.O_TRUNC;
  if (flags.direct) {
    if (c.O_DIRECT === undefined) {
      throw new AioUsageError('AIO_ERR_UNSUPPORTED', `direct I/O (O_DIRECT) is not available on ${process.platform} through node:fs`);
    }
    bits |= c.O_DIRECT;
  }
  if (flags.dsync) {
    if (c.O_DSYNC === undefined) throw new AioUsageError('AIO_ERR_UNSUPPORTED', `O_DSYNC is not available on ${process.platform}`);
    bits |= c.O_DSYNC;
  }
  return bits;
}

/** Options of the convenience read/write calls. */
export interface AioFileIoOptions {
  /** Cancels the IO if it has not reached the method yet (and asks the method to cancel it otherwise). */
  signal?: AbortSignal;
  /** Bytes to move (default: the whole buffer). Only for read/write. */
  length?: number;
}

const RESOLVED: Promise<void> = Promise.resolve();

const IO_OPTION_KEYS = ['signal', 'length'] as const;
const LENGTH_OPTION_KEYS = ['length'] as const;
const SYNC_OPTION_KEYS = ['signal'] as const;
const ALLOCATE_OPTION_KEYS = ['keepSize', 'signal'] as const;

/** What `file.stat()` gives: the four numbers a `stat` IO fills (see AIO_STAT_FIELDS). */
export interface AioFileStat {
  /** The file's size in bytes. */
  size: number;
  /** Bytes the filesystem has allocated for it (st_blocks * 512; the size where the OS does not say). */
  allocatedBytes: number;
  /** The preferred IO block size (st_blksize; 4096 where the OS does not say). */
  blockSize: number;
  /** The last modification time, in milliseconds since the epoch (fractional). */
  modifiedMs: number;
}

/** Options of `file.allocate()`. */
export interface AioAllocateOptions {
  /** Reserve the range without changing the file's size (FALLOC_FL_KEEP_SIZE); default false. */
  keepSize?: boolean;
  /** As for the other convenience calls. */
  signal?: AbortSignal;
}

/**
 * What `file.allocate()` did: `'allocated'`, the filesystem reserved the
 * range (fallocate); `'extended'`, the method or filesystem has no
 * allocation call (node:fs has none, tmpfs and ext4 have one), so the file
 * was only made at least `offset + length` long with truncate, sparse: no
 * space is reserved and a later write may still fail with ENOSPC (with
 * `keepSize` nothing changes at all).
 */
export type AioAllocateOutcome = 'allocated' | 'extended';

/** Options of `aio.rename()`. */
export interface AioRenameOptions {
  /** Sync the directories so the new name survives a power cut (POSIX; default true). */
  durable?: boolean;
}

/** The four numbers of a stat buffer as an object. */
function statOf(numbers: Float64Array): AioFileStat {
  return { size: numbers[0], allocatedBytes: numbers[1], blockSize: numbers[2], modifiedMs: numbers[3] };
}

let unsupportedErrnos: Set<number> | undefined;

/**
 * Whether an error says "no allocation call here": EOPNOTSUPP (ENOTSUP in
 * Node's names) as libuv numbers it or as the OS does (a native method
 * reports the OS's -errno; on macOS EOPNOTSUPP and ENOTSUP differ).
 */
function isAllocationUnsupported(error: unknown): boolean {
  if (!(error instanceof AioIoError) || error.errno === undefined) return false;
  if (unsupportedErrnos === undefined) {
    const { EOPNOTSUPP, ENOTSUP } = os.constants.errno as Record<string, number | undefined>;
    unsupportedErrnos = new Set([errnoOf('ENOTSUP')]);
    for (const errno of [EOPNOTSUPP, ENOTSUP]) if (errno !== undefined) unsupportedErrnos.add(-errno);
  }
  return unsupportedErrnos.has(error.errno);
}

/**
 * Runs one IO now, on the issuer's thread: a handle with the synchronous
 * flag (so the method's own synchronous path or node:fs runs it before
 * `start` returns, on every method, also in batch mode), then raises an
 * error result.  A `start` that refuses its arguments gives the handle back.
 */
function runNow(aio: Aio, start: (handle: AioHandle) => void): void {
  const ret = new AioReturn();
  const handle = aio.acquire(ret);
  handle.setFlag('synchronous');
  start(handle);
  ret.throwIfError();
}

/** The part of `buffer` from byte `from` to `length`, as a view on the same memory. */
function restOf(buffer: ArrayBufferView, from: number, length: number): ArrayBufferView {
  if (isDetached(buffer)) throw detachedError('buffer');
  return from === 0 ? buffer : new Uint8Array(buffer.buffer, buffer.byteOffset + from, length - from);
}

/**
 * A file opened through a context.  IO on it goes through that context only.
 *
 * Closing: `close()` first submits the context's staged IO; if the method
 * needs it (`waitOnFileBeforeClose`), it then waits for the in-flight IO on
 * this file; then it closes the fd or HANDLE.  Convenience calls still
 * waiting for a free handle are rejected with AIO_ERR_FILE_CLOSED.
 */
export class AioFile {
  /** The path it was opened with, or undefined for `aio.fromFd` without a path. */
  readonly path: string | undefined;
  /** The flags it was opened with. */
  readonly flags: Readonly<Required<AioOpenFlags>>;
  /** The POSIX fd, or the Windows HANDLE as a number; -1 once closed. */
  fd: number;
  /** Whether closing the file closes the fd (false for `fromFd` unless asked). */
  readonly ownsFd: boolean;
  /** @internal The context; IO on the file goes through it only. */
  readonly aio: Aio;
  /** @internal IOs on this file that are submitted and not yet complete. */
  inflight = 0;
  /**
   * `'directory'` for the directory fd `aio.syncDirectory()` opens for its
   * fsync (the power-loss simulator tells directory syncs apart by it).
   */
  readonly kind: 'file' | 'directory';
  #closing: Promise<void> | null = null;

  /** @internal Files are created by `aio.open()` and `aio.fromFd()`. */
  constructor(aio: Aio, fd: number, path: string | undefined, flags: Required<AioOpenFlags>, ownsFd: boolean, kind: 'file' | 'directory' = 'file') {
    this.kind = kind;
    this.aio = aio;
    this.fd = fd;
    this.path = path;
    this.flags = Object.freeze({ ...flags });
    this.ownsFd = ownsFd;
  }

  /** True once `close()` has started. */
  get closed(): boolean {
    return this.fd < 0 || this.#closing !== null;
  }

  /** For messages and the inspect view. */
  describe(): string {
    const mode = [this.flags.read && 'read', this.flags.write && 'write', this.flags.direct && 'direct', this.flags.dsync && 'dsync'];
    return `${this.path === undefined ? `fd ${this.fd}` : JSON.stringify(this.path)} (${mode.filter(Boolean).join(', ')})`;
  }

  /**
   * Opens the file again by path with the same access and direct/dsync flags
   * (never create or truncate).  Returns a new fd the caller owns.  Used by
   * methods that must run an IO where this file's fd cannot be used.
   */
  reopen(): number {
    if (this.path === undefined) {
      throw new AioUsageError('AIO_ERR_UNSUPPORTED', `cannot reopen ${this.describe()}: it has no path`);
    }
    const flags = posixOpenFlags({ ...this.flags, create: false, exclusive: false, truncate: false });
    try {
      return fs.openSync(this.path, flags);
    } catch (error) {
      throw openError(error, this.path, this.aio.methodName);
    }
  }

  /** Reads into `buffer` at `position`; resolves with the bytes read (0 at end of file, fewer near it). */
  read(buffer: ArrayBufferView, position: number | bigint, options?: AioFileIoOptions): Promise<number> {
    try {
      if (options === undefined) {
        // The common call, checked in the same order with one read of the buffer's byteLength and no options object.
        const bytes = checkBufferBytes(buffer, undefined, 'buffer', 'options.length');
        return this.aio._runPromiseIo(1, this, buffer, null, checkOffset(position, 'position'), bytes, undefined);
      }
      const opts = checkOptions<AioFileIoOptions>(options, 'options', IO_OPTION_KEYS);
      const buf = checkBuffer(buffer, 'buffer');
      return this.aio._runPromiseIo(1, this, buf, null, checkOffset(position, 'position'), checkLength(opts.length, buf, 'options.length'), checkSignal(opts.signal, 'options.signal'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Reads into `buffers` in order at `position`; resolves with the bytes read. */
  readv(buffers: readonly ArrayBufferView[], position: number | bigint, options?: Omit<AioFileIoOptions, 'length'>): Promise<number> {
    try {
      const opts = checkOptions<AioFileIoOptions>(options, 'options', SYNC_OPTION_KEYS);
      const bufs = checkBufferList(buffers, 'buffers');
      return this.aio._runPromiseIo(2, this, null, bufs, checkOffset(position, 'position'), totalLength(bufs), checkSignal(opts.signal, 'options.signal'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Writes `buffer` at `position`; resolves with the bytes written. */
  write(buffer: ArrayBufferView, position: number | bigint, options?: AioFileIoOptions): Promise<number> {
    try {
      if (options === undefined) {
        // The common call, checked in the same order with one read of the buffer's byteLength and no options object.
        const bytes = checkBufferBytes(buffer, undefined, 'buffer', 'options.length');
        return this.aio._runPromiseIo(3, this, buffer, null, checkOffset(position, 'position'), bytes, undefined);
      }
      const opts = checkOptions<AioFileIoOptions>(options, 'options', IO_OPTION_KEYS);
      const buf = checkBuffer(buffer, 'buffer');
      return this.aio._runPromiseIo(3, this, buf, null, checkOffset(position, 'position'), checkLength(opts.length, buf, 'options.length'), checkSignal(opts.signal, 'options.signal'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Writes `buffers` in order at `position`; resolves with the bytes written. */
  writev(buffers: readonly ArrayBufferView[], position: number | bigint, options?: Omit<AioFileIoOptions, 'length'>): Promise<number> {
    try {
      const opts = checkOptions<AioFileIoOptions>(options, 'options', SYNC_OPTION_KEYS);
      const bufs = checkBufferList(buffers, 'buffers');
      return this.aio._runPromiseIo(4, this, null, bufs, checkOffset(position, 'position'), totalLength(bufs), checkSignal(opts.signal, 'options.signal'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Reads until `length` bytes (default: the whole buffer) are in `buffer`,
   * retrying partial reads for the rest; resolves with `length`.  Rejects with
   * an {@link AioIoError} of code `AIO_EOF` if the file ends first (its
   * `result.result` is the number of bytes that were read), or with the
   * error of the read that failed.  On a direct file a retry starts again at
   * the last 4096-byte boundary before the point reached, so it stays aligned.
   */
  async readFully(buffer: ArrayBufferView, position: number | bigint, options?: AioFileIoOptions): Promise<number> {
    return this.#moveFully(1, buffer, position, options);
  }

  /**
   * Writes `length` bytes (default: the whole buffer), retrying short writes
   * for the rest; resolves with `length`.  A write that moves no byte rejects
   * with an {@link AioIoError} of code `AIO_SHORT_WRITE` (`result.result` is
   * the bytes written before it); any other failure with that write's error.
   * Direct files are retried from an aligned point, as for `readFully`.
   */
  async writeFully(buffer: ArrayBufferView, position: number | bigint, options?: AioFileIoOptions): Promise<number> {
    return this.#moveFully(3, buffer, position, options);
  }

  /**
   * The handle-API form of {@link readFully}: each attempt acquires a handle,
   * starts the read, submits it (also in batch mode) and blocks with
   * `waitSync()` until it completed.  Returns `length`; throws what
   * `readFully` rejects with.  On a method that cannot wait synchronously
   * (libuv) it throws `AIO_ERR_CANNOT_WAIT`: use `readFully` there.
   */
  readFullySync(buffer: ArrayBufferView, position: number | bigint, options?: Omit<AioFileIoOptions, 'signal'>): number {
    return this.#moveFullySync(1, buffer, position, options);
  }

  /** The handle-API form of {@link writeFully}, blocking like {@link readFullySync}. */
  writeFullySync(buffer: ArrayBufferView, position: number | bigint, options?: Omit<AioFileIoOptions, 'signal'>): number {
    return this.#moveFullySync(3, buffer, position, options);
  }

  /** The loop of readFully (op 1) and writeFully (op 3): one convenience IO per attempt, each on the rest. */
  async #moveFully(op: 1 | 3, buffer: ArrayBufferView, position: number | bigint, options: AioFileIoOptions | undefined): Promise<number> {
    const opts = checkOptions<AioFileIoOptions>(options, 'options', IO_OPTION_KEYS);
    const buf = checkBuffer(buffer, 'buffer');
    const start = checkOffset(position, 'position');
    const length = checkLength(opts.length, buf, 'options.length');
    const signal = checkSignal(opts.signal, 'options.signal');
    let done = 0;
    while (done < length) {
      const from = this.#retryPoint(done);
      const view = restOf(buf, from, length);
      const moved = await this.aio._runPromiseIo(op, this, view, null, start + from, length - from, signal);
      if (moved === 0) throw this.#fullyError(op, start, length, done);
      done = Math.max(done, from + moved);
    }
    return length;
  }

  #moveFullySync(op: 1 | 3, buffer: ArrayBufferView, position: number | bigint, options: Omit<AioFileIoOptions, 'signal'> | undefined): number {
    const opts = checkOptions<AioFileIoOptions>(options, 'options', LENGTH_OPTION_KEYS);
    const buf = checkBuffer(buffer, 'buffer');
    const start = checkOffset(position, 'position');
    const length = checkLength(opts.length, buf, 'options.length');
    const ret = new AioReturn();
    const ref = new AioWaitRef();
    let done = 0;
    while (done < length) {
      const from = this.#retryPoint(done);
      const view = restOf(buf, from, length);
      const handle = this.aio.acquire(ret);
      handle.getWaitRef(ref);
      if (op === 1) handle.startRead(this, view, start + from, length - from);
      else handle.startWrite(this, view, start + from, length - from);
      // Never wait on our own staged IO: in batch mode the read is only staged.
      this.aio.submitStaged();
      ref.waitSync();
      const result = ret.result;
      if (result.status === 'error' && result.code !== 'AIO_EOF' && result.code !== 'AIO_SHORT_WRITE') throw ret.toError();
      const moved = result.status === 'error' ? 0 : result.result;
      if (moved === 0) throw this.#fullyError(op, start, length, done);
      done = Math.max(done, from + moved);
    }
    return length;
  }

  /** Where a retry starts: where the last attempt stopped, or on a direct file the last 4096-byte boundary before it (direct I/O needs aligned offsets, addresses and lengths). */
  #retryPoint(done: number): number {
    return this.flags.direct ? done - (done % 4096) : done;
  }

  /** The error of a readFully that reached the end of the file, or a writeFully whose write moved nothing. */
  #fullyError(op: 1 | 3, start: number, length: number, done: number): AioIoError {
    const isRead = op === 1;
    const target = `${isRead ? 'read' : 'write'} of ${length} bytes at offset ${start} in ${this.path === undefined ? 'an unnamed file' : `file ${JSON.stringify(this.path)}`}`;
    return new AioIoError({
      code: isRead ? 'AIO_EOF' : 'AIO_SHORT_WRITE',
      syscall: isRead ? 'read' : 'write',
      path: this.path,
      target,
      method: this.aio.methodName,
      detail: isRead
        ? `end of file after ${done} of ${length} bytes: ${target}`
        : `a write moved no byte after ${done} of ${length} bytes: ${target}`,
      result: { status: 'error', result: done, errno: undefined, code: isRead ? 'AIO_EOF' : 'AIO_SHORT_WRITE', id: 0, errorData: length },
    });
  }

  /** fsync: data and metadata reach stable storage. */
  async sync(options?: Omit<AioFileIoOptions, 'length'>): Promise<void> {
    const opts = checkOptions<AioFileIoOptions>(options, 'options', SYNC_OPTION_KEYS);
    await this.aio._runPromiseIo(5, this, null, null, 0, 0, checkSignal(opts.signal, 'options.signal'));
  }

  /** fdatasync: data (and the metadata needed to read it) reach stable storage. */
  async datasync(options?: Omit<AioFileIoOptions, 'length'>): Promise<void> {
    const opts = checkOptions<AioFileIoOptions>(options, 'options', SYNC_OPTION_KEYS);
    await this.aio._runPromiseIo(6, this, null, null, 0, 0, checkSignal(opts.signal, 'options.signal'));
  }

  /**
   * The file's size, allocated bytes, preferred block size and modification
   * time, through the method (fstat; io_uring's statx).  Rejects with
   * AioIoError (syscall `fstat`) as node:fs would.
   */
  async stat(options?: Omit<AioFileIoOptions, 'length'>): Promise<AioFileStat> {
    const opts = checkOptions<AioFileIoOptions>(options, 'options', SYNC_OPTION_KEYS);
    const numbers = new Float64Array(4);
    await this.aio._runPromiseIo(7, this, numbers, null, 0, numbers.byteLength, checkSignal(opts.signal, 'options.signal'));
    return statOf(numbers);
  }

  /** `stat().size`. */
  async size(options?: Omit<AioFileIoOptions, 'length'>): Promise<number> {
    return (await this.stat(options)).size;
  }

  /** Sets the file's length (ftruncate): cut to `length` bytes, or extended with zeros. */
  async truncate(length: number | bigint, options?: Omit<AioFileIoOptions, 'length'>): Promise<void> {
    const opts = checkOptions<AioFileIoOptions>(options, 'options', SYNC_OPTION_KEYS);
    await this.aio._runPromiseIo(8, this, null, null, checkOffset(length, 'length'), 0, checkSignal(opts.signal, 'options.signal'));
  }

  /**
   * Reserves `length` bytes at `offset` so later writes there cannot fail
   * for lack of space (fallocate; the file grows to the range's end unless
   * `keepSize`).  Where the method or filesystem has no allocation call
   * (ENOTSUP), extends the file with truncate instead: see
   * {@link AioAllocateOutcome}.  Other failures reject with AioIoError
   * (syscall `fallocate`, or `fstat`/`ftruncate` of the fallback).
   */
  async allocate(offset: number | bigint, length: number | bigint, options?: AioAllocateOptions): Promise<AioAllocateOutcome> {
    const opts = checkOptions<AioAllocateOptions>(options, 'options', ALLOCATE_OPTION_KEYS);
    const [at, bytes] = checkByteRange(offset, length);
    const keepSize = checkBoolean(opts.keepSize, 'options.keepSize', false);
    const signal = checkSignal(opts.signal, 'options.signal');
    try {
      await this.aio._runPromiseIo(9, this, null, null, at, bytes, signal, keepSize ? AIO_FLAG_KEEP_SIZE : 0);
      return 'allocated';
    } catch (error) {
      if (!isAllocationUnsupported(error)) throw error;
    }
    // Never shrink: only a file shorter than the range is extended (a concurrent writer may extend it meanwhile).
    if (!keepSize && (await this.size({ signal })) < at + bytes) await this.truncate(at + bytes, { signal });
    return 'extended';
  }

  /** {@link stat}, run synchronously on the issuer's thread (every method, also libuv); throws what `stat` rejects with. */
  statSync(): AioFileStat {
    const numbers = new Float64Array(4);
    runNow(this.aio, (handle) => handle.startStat(this, numbers));
    return statOf(numbers);
  }

  /** `statSync().size`. */
  sizeSync(): number {
    return this.statSync().size;
  }

  /** {@link truncate}, run synchronously. */
  truncateSync(length: number | bigint): void {
    runNow(this.aio, (handle) => handle.startTruncate(this, length));
  }

  /** {@link allocate}, run synchronously (the same fallback). */
  allocateSync(offset: number | bigint, length: number | bigint, options?: Omit<AioAllocateOptions, 'signal'>): AioAllocateOutcome {
    const opts = checkOptions<AioAllocateOptions>(options, 'options', ['keepSize']);
    const [at, bytes] = checkByteRange(offset, length);
    const keepSize = checkBoolean(opts.keepSize, 'options.keepSize', false);
    try {
      runNow(this.aio, (handle) => handle.startAllocate(this, at, bytes, keepSize));
      return 'allocated';
    } catch (error) {
      if (!isAllocationUnsupported(error)) throw error;
    }
    if (!keepSize && this.sizeSync() < at + bytes) this.truncateSync(at + bytes);
    return 'extended';
  }

  /** Closes the file (see the class comment for the order of events).  Idempotent. */
  close(): Promise<void> {
    if (this.#closing === null) {
      try {
        this.#closing = this.aio._closeFile(this, false) as Promise<void>;
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#closing;
  }

  /**
   * Like {@link close}, but waits for in-flight IO by blocking the thread.
   * If it throws (a method that cannot wait, a call from a callback), the
   * file stays open and can be closed again.
   */
  closeSync(): void {
    if (this.#closing !== null) return;
    this.#closing = RESOLVED;
    try {
      this.aio._closeFile(this, true);
    } catch (error) {
      if (this.fd >= 0) this.#closing = null;
      throw error;
    }
  }
}

function totalLength(buffers: readonly ArrayBufferView[]): number {
  let total = 0;
  for (const b of buffers) total += b.byteLength;
  return total;
}

/** Turns a node:fs open error into an AioIoError with syscall 'open'. */
export function openError(error: unknown, path: string, method: string): AioIoError {
  return fsCallError(error, 'open', path, `open of file ${JSON.stringify(path)}`, method);
}

/** Turns the error of a node:fs call (open, rename) into an AioIoError: Node's code and errno, our target and method. */
function fsCallError(error: unknown, syscall: string, path: string, target: string, method: string): AioIoError {
  const errno = typeof (error as { errno?: unknown }).errno === 'number' ? ((error as { errno: number }).errno) : undefined;
  return new AioIoError({
    code: errno === undefined ? String((error as { code?: unknown }).code ?? 'EIO') : systemErrorCode(errno),
    errno,
    syscall,
    path,
    target,
    method,
    detail: `could not ${target}`,
    cause: error,
  });
}

/** open(2) flags of a directory opened only to fsync it. */
function directoryOpenFlags(): number {
  return fs.constants.O_RDONLY | (fs.constants.O_DIRECTORY ?? 0);
}

/** Options of `aio.fromFd`. */
type FromFdOptions = AioOpenFlags & { path?: string; ownsFd?: boolean };

/**
 * The files one context opened: opening (by path or from an fd), closing
 * one (after the context's staged IO is submitted and, when the method asks
 * for it, the file's in-flight IO completed), and closing all at context close.
 */
export class AioFileTable {
  readonly #aio: Aio;
  readonly #core: AioCore;
  readonly #promises: AioPromiseQueue;
  readonly #files = new Set<AioFile>();

  constructor(aio: Aio, core: AioCore, promises: AioPromiseQueue) {
    this.#aio = aio;
    this.#core = core;
    this.#promises = promises;
  }

  open(path: string | URL, flags?: AioOpenFlags): AioFile {
    this.#core.checkUsable('open');
    const filePath = path instanceof URL ? fileURLToPath(path) : path;
    if (typeof filePath !== 'string' || filePath.length === 0) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `path must be a non-empty string or file URL, got ${describeValue(path)}`);
    }
    const normalized = normalizeOpenFlags(flags);
    const method = this.#core.method;
    if (normalized.direct && !method.capabilities.direct) {
      throw new AioUsageError('AIO_ERR_UNSUPPORTED', `the ${method.name} method cannot do direct I/O on ${process.platform}`);
    }
    let fd: number;
    if (method.openFile !== undefined) {
      fd = method.openFile(filePath, normalized);
    } else {
      const bits = posixOpenFlags(normalized);
      try {
        fd = fs.openSync(filePath, bits, normalized.mode);
      } catch (error) {
        throw openError(error, filePath, method.name);
      }
    }
    const file = new AioFile(this.#aio, fd, filePath, normalized, true);
    this.#files.add(file);
    return file;
  }

  fromFd(fd: number, options?: FromFdOptions): AioFile {
    this.#core.checkUsable('fromFd');
    checkInteger(fd, 'fd', 0, 0x7fff_ffff);
    const method = this.#core.method;
    if (method.capabilities.fileKind !== 'fd') {
      throw new AioUsageError('AIO_ERR_UNSUPPORTED', `the ${method.name} method uses its own file handles; open files with aio.open()`);
    }
    const { path, ownsFd, ...flags } = checkOptions<FromFdOptions>(options, 'options', ['path', 'ownsFd', 'read', 'write', 'direct', 'dsync']);
    if (path !== undefined && typeof path !== 'string') throw new AioUsageError('AIO_ERR_INVALID_TYPE', 'options.path must be a string');
    const file = new AioFile(this.#aio, fd, path, normalizeOpenFlags({ write: true, ...flags }), ownsFd === true);
    this.#files.add(file);
    return file;
  }

  /**
   * aio.rename(): rename(2) with node:fs (on libuv's pool), then, when
   * durable, an fsync of the destination directory through the method, and
   * of the source directory when it differs.  The method's `beforeRename`
   * (the power-loss simulator's) sees it first.
   */
  async rename(from: unknown, to: unknown, options: unknown): Promise<void> {
    const [source, target, durable] = this.#checkRename(from, to, options);
    const after = this.#core.method.beforeRename?.(nodePath.resolve(source), nodePath.resolve(target));
    try {
      await new Promise<void>((resolve, reject) => fs.rename(source, target, (error) => (error === null ? resolve() : reject(error))));
    } catch (error) {
      after?.(false);
      throw this.#renameError(error, source, target);
    }
    after?.(true);
    if (!durable) return;
    for (const directory of renameDirectories(source, target)) await this.syncDirectory(directory);
  }

  /** aio.renameSync(): the same, synchronously (the directory fsyncs run on the issuer's thread through the method's synchronous path). */
  renameSync(from: unknown, to: unknown, options: unknown): void {
    const [source, target, durable] = this.#checkRename(from, to, options);
    const after = this.#core.method.beforeRename?.(nodePath.resolve(source), nodePath.resolve(target));
    try {
      fs.renameSync(source, target);
    } catch (error) {
      after?.(false);
      throw this.#renameError(error, source, target);
    }
    after?.(true);
    if (!durable) return;
    for (const directory of renameDirectories(source, target)) this.syncDirectorySync(directory);
  }

  #checkRename(from: unknown, to: unknown, options: unknown): [string, string, boolean] {
    this.#core.checkUsable('rename');
    const source = checkPath(from, 'from');
    const target = checkPath(to, 'to');
    const opts = checkOptions<AioRenameOptions>(options, 'options', ['durable']);
    return [source, target, checkBoolean(opts.durable, 'options.durable', true)];
  }

  #renameError(error: unknown, source: string, target: string): AioIoError {
    return fsCallError(error, 'rename', source, `rename ${JSON.stringify(source)} to ${JSON.stringify(target)}`, this.#core.method.name);
  }

  /**
   * aio.syncDirectory(): opens the directory (O_RDONLY | O_DIRECTORY), runs
   * an fsync IO on it through the method, closes it.  On Windows there is no
   * directory fsync (NTFS journals directory entries itself): it resolves.
   */
  async syncDirectory(directory: unknown): Promise<void> {
    this.#core.checkUsable('syncDirectory');
    const dirPath = checkPath(directory, 'path');
    if (process.platform === 'win32') return;
    const fd = await new Promise<number>((resolve, reject) => {
      fs.open(dirPath, directoryOpenFlags(), (error, opened) => (error === null ? resolve(opened) : reject(error)));
    }).catch((error: unknown) => {
      throw fsCallError(error, 'open', dirPath, `open of directory ${JSON.stringify(dirPath)}`, this.#core.method.name);
    });
    const file = this.#adoptDirectory(fd, dirPath);
    try {
      await this.#aio._runPromiseIo(5, file, null, null, 0, 0, undefined);
    } finally {
      await file.close();
    }
  }

  /** aio.syncDirectorySync(): the same, with the fsync run synchronously through the method. */
  syncDirectorySync(directory: unknown): void {
    this.#core.checkUsable('syncDirectory');
    const dirPath = checkPath(directory, 'path');
    if (process.platform === 'win32') return;
    let fd: number;
    try {
      fd = fs.openSync(dirPath, directoryOpenFlags());
    } catch (error) {
      throw fsCallError(error, 'open', dirPath, `open of directory ${JSON.stringify(dirPath)}`, this.#core.method.name);
    }
    const file = this.#adoptDirectory(fd, dirPath);
    try {
      runNow(this.#aio, (handle) => handle.startFsync(file));
    } finally {
      file.closeSync();
    }
  }

  /** A directory fd as a file of this context (closed with it at the latest). */
  #adoptDirectory(fd: number, dirPath: string): AioFile {
    const file = new AioFile(this.#aio, fd, dirPath, normalizeOpenFlags({ read: true }), true, 'directory');
    this.#files.add(file);
    return file;
  }

  /** file.close()/closeSync(). */
  close(file: AioFile, sync: boolean): Promise<void> | void {
    this.#promises.rejectQueued(
      (queued) => queued === file,
      () => new AioUsageError('AIO_ERR_FILE_CLOSED', `${file.describe()} was closed before this IO started`),
    );
    if (this.#core.isOpen()) this.#core.submitStaged();
    if (this.#core.method.waitOnFileBeforeClose && file.inflight > 0) {
      if (sync) {
        this.#waitForFileSync(file);
      } else {
        return this.#waitForFileAsync(file).then(() => this.#closeFd(file));
      }
    }
    this.#closeFd(file);
    return sync ? undefined : RESOLVED;
  }

  /** At context close, after every IO completed. */
  closeAll(): void {
    for (const file of [...this.#files]) this.#closeFd(file);
  }

  #waitForFileSync(file: AioFile): void {
    for (let handle = this.#core.oldestInflightOn(file); handle !== null; handle = this.#core.oldestInflightOn(file)) {
      this.#core.waitSync(handle, handle.generation);
    }
  }

  async #waitForFileAsync(file: AioFile): Promise<void> {
    for (let handle = this.#core.oldestInflightOn(file); handle !== null; handle = this.#core.oldestInflightOn(file)) {
      await this.#aio.waitAsync(handle.index, handle.generation);
    }
  }

  #closeFd(file: AioFile): void {
    if (file.fd < 0) return;
    const method = this.#core.method;
    try {
      if (method.closeFile !== undefined) method.closeFile(file);
      else if (file.ownsFd) fs.closeSync(file.fd);
    } finally {
      file.fd = -1;
      this.#files.delete(file);
    }
  }
}

/** The directories a durable rename syncs: the destination's, and the source's when it differs. */
function renameDirectories(source: string, target: string): string[] {
  const to = nodePath.dirname(nodePath.resolve(target));
  const from = nodePath.dirname(nodePath.resolve(source));
  return from === to ? [to] : [to, from];
}
