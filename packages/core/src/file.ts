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
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AioIoError, AioUsageError, systemErrorCode } from './errors.js';
import type { Aio } from './aio.js';
import type { AioCore } from './internals.js';
import type { AioPromiseQueue } from './promise-api.js';
import { AioWaitRef } from './handle.js';
import { AioReturn } from './result.js';
import {
  checkBoolean,
  checkBuffer,
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
  #closing: Promise<void> | null = null;

  /** @internal Files are created by `aio.open()` and `aio.fromFd()`. */
  constructor(aio: Aio, fd: number, path: string | undefined, flags: Required<AioOpenFlags>, ownsFd: boolean) {
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
  const errno = typeof (error as { errno?: unknown }).errno === 'number' ? ((error as { errno: number }).errno) : undefined;
  return new AioIoError({
    code: errno === undefined ? String((error as { code?: unknown }).code ?? 'EIO') : systemErrorCode(errno),
    errno,
    syscall: 'open',
    path,
    target: `open of file ${JSON.stringify(path)}`,
    method,
    detail: `could not open file ${JSON.stringify(path)}`,
    cause: error,
  });
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
