/**
 * Files as the library opens them, and the convenience Promise API.
 *
 * `aio.open()` opens files itself (node:fs cannot open with O_DIRECT on every
 * platform, nor with FILE_FLAG_NO_BUFFERING on Windows), so an `AioFile`
 * holds whatever the context's method understands: a POSIX fd, or a Windows
 * HANDLE for the Windows methods.  On POSIX, fds opened with node:fs are
 * accepted too (`aio.fromFd`).
 */
import * as fs from 'node:fs';
import { AioIoError, AioUsageError, systemErrorCode } from './errors.js';
import type { Aio } from './aio.js';
import { checkBoolean, checkBuffer, checkBufferList, checkInteger, checkLength, checkOffset, checkOptions, checkSignal } from './validate.js';

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

const IO_OPTION_KEYS = ['signal', 'length'] as const;
const SYNC_OPTION_KEYS = ['signal'] as const;

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
    const opts = checkOptions<AioFileIoOptions>(options, 'options', IO_OPTION_KEYS);
    const buf = checkBuffer(buffer, 'buffer');
    return this.aio._runPromiseIo(1, this, buf, null, checkOffset(position, 'position'), checkLength(opts.length, buf, 'options.length'), checkSignal(opts.signal, 'options.signal'));
  }

  /** Reads into `buffers` in order at `position`; resolves with the bytes read. */
  readv(buffers: readonly ArrayBufferView[], position: number | bigint, options?: Omit<AioFileIoOptions, 'length'>): Promise<number> {
    const opts = checkOptions<AioFileIoOptions>(options, 'options', SYNC_OPTION_KEYS);
    const bufs = checkBufferList(buffers, 'buffers');
    return this.aio._runPromiseIo(2, this, null, bufs, checkOffset(position, 'position'), totalLength(bufs), checkSignal(opts.signal, 'options.signal'));
  }

  /** Writes `buffer` at `position`; resolves with the bytes written. */
  write(buffer: ArrayBufferView, position: number | bigint, options?: AioFileIoOptions): Promise<number> {
    const opts = checkOptions<AioFileIoOptions>(options, 'options', IO_OPTION_KEYS);
    const buf = checkBuffer(buffer, 'buffer');
    return this.aio._runPromiseIo(3, this, buf, null, checkOffset(position, 'position'), checkLength(opts.length, buf, 'options.length'), checkSignal(opts.signal, 'options.signal'));
  }

  /** Writes `buffers` in order at `position`; resolves with the bytes written. */
  writev(buffers: readonly ArrayBufferView[], position: number | bigint, options?: Omit<AioFileIoOptions, 'length'>): Promise<number> {
    const opts = checkOptions<AioFileIoOptions>(options, 'options', SYNC_OPTION_KEYS);
    const bufs = checkBufferList(buffers, 'buffers');
    return this.aio._runPromiseIo(4, this, null, bufs, checkOffset(position, 'position'), totalLength(bufs), checkSignal(opts.signal, 'options.signal'));
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
    this.#closing ??= this.aio._closeFile(this, false) as Promise<void>;
    return this.#closing;
  }

  /** Like {@link close}, but waits for in-flight IO by blocking the thread. */
  closeSync(): void {
    if (this.#closing !== null) return;
    this.#closing = Promise.resolve();
    this.aio._closeFile(this, true);
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
