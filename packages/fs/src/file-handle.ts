/**
 * FileHandle: node:fs/promises' FileHandle, with the IO running on an aio
 * context.
 *
 * What must stay true:
 * - Every method that returns a Promise rejects and never throws: each body
 *   runs inside try/catch (or is an async function).
 * - Argument forms, results (null-prototype `{ bytesRead, buffer }` objects),
 *   errors and positions are node:fs's (Node 24's where Node versions differ).
 * - The current file position is kept here, not in the kernel: aio IO is
 *   positional (pread/pwrite), so an IO "at the current position" is given
 *   `#position` and advances it by the bytes moved.  Such IOs run one after
 *   the other (`#sequence`), so each sees the position the previous one left,
 *   exactly as consecutive read(2)/write(2) calls would.
 * - close() waits for the operations already started (reference counting as
 *   node:fs does), then closes the fd; operations after close() reject with
 *   EBADF "file closed".
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type { Aio, AioFile } from '@aio/core';
import { AbortError, fileClosedError, fileTooLarge, invalidArgValue, systemError } from './errors.js';
import { releaseContext } from './context.js';
import {
  getOptions,
  isCustomIterable,
  nativeWritePosition,
  validateAbortSignal,
  validateBuffer,
  validateBufferArray,
  validateEncoding,
  validateReadFileBuffer,
  validateInteger,
  validateNullableObject,
  validateOffsetLengthRead,
  validateOffsetLengthWrite,
  validatePosition,
  validateStringAfterArrayBufferView,
  writeEncoding,
  type FileOptions,
} from './validate.js';

/** What read() resolves with (a null-prototype object, as in node:fs). */
export interface FileReadResult<T extends ArrayBufferView = Buffer> {
  bytesRead: number;
  buffer: T;
}

/** What write() resolves with (a null-prototype object, as in node:fs). */
export interface FileWriteResult<T extends ArrayBufferView | string = Buffer> {
  bytesWritten: number;
  buffer: T;
}

export interface ReadVResult {
  bytesRead: number;
  buffers: ArrayBufferView[];
}

export interface WriteVResult {
  bytesWritten: number;
  buffers: ArrayBufferView[];
}

/** The options-object form of read(). */
export interface FileReadOptions<T extends ArrayBufferView = Buffer> {
  buffer?: T;
  offset?: number | null;
  length?: number | null;
  position?: number | bigint | null;
}

/** The options-object form of write(). */
export interface FileWriteOptions {
  offset?: number | null;
  length?: number | null;
  position?: number | null;
}

/** An options object as user code passes it: anything may be in it. */
interface LooseOptions {
  buffer?: ArrayBufferView;
  offset?: unknown;
  length?: unknown;
  position?: unknown;
}

/** node:fs reads at most this much per readFile step and writes at most this much per writeFile step. */
const READ_FILE_CHUNK = 512 * 1024;
const READ_FILE_UNKNOWN_CHUNK = 64 * 1024;
const WRITE_FILE_CHUNK = 512 * 1024;
/** The largest file readFile accepts (node:fs's kIoMaxLength). */
const IO_MAX_LENGTH = 2 ** 31 - 1;
/** Linux moves at most this many bytes per read/write call (MAX_RW_COUNT); @aio/core refuses larger IOs. */
const MAX_IO_BYTES = 0x7ffff000;
/** At most this many buffers per readv/writev (IOV_MAX), as libuv does. */
const MAX_IOVECS = 1024;
/** Marks `#position` as "the end of the file": the kernel moves an O_APPEND fd's position there after each write. */
const AT_END = -1;

/**
 * Linux ignores the position of a positioned write on an O_APPEND fd (pwrite(2), BUGS) and so does every aio
 * method there; elsewhere a positioned write lands at its position, so appends at the current position are
 * given the end of the file.
 */
const APPEND_IGNORES_POSITION = process.platform === 'linux';

const RESOLVED: Promise<void> = Promise.resolve();
const noop = (): void => {};

/** @internal What FileHandle needs to know about how its fd was opened. */
export interface FileHandleInit {
  aio: Aio;
  file: AioFile;
  fd: number;
  append: boolean;
}

function readResult<T extends ArrayBufferView>(bytesRead: number, buffer: T): FileReadResult<T> {
  return { __proto__: null, bytesRead, buffer } as unknown as FileReadResult<T>;
}

function writeResult<T extends ArrayBufferView | string>(bytesWritten: number, buffer: T): FileWriteResult<T> {
  return { __proto__: null, bytesWritten, buffer } as unknown as FileWriteResult<T>;
}

/** A byte view of `length` bytes at `offset` of `buffer`, or `buffer` itself when that is all of it. */
function byteView(buffer: ArrayBufferView, offset: number, length: number): ArrayBufferView {
  if (offset === 0 && length === buffer.byteLength) return buffer;
  return new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length);
}

/** `a - b` with JavaScript's coercion, as node:fs's destructuring defaults compute it. */
function minus(a: number, b: unknown): number {
  return a - (b as number);
}

function totalBytes(buffers: readonly ArrayBufferView[]): number {
  let total = 0;
  for (let i = 0; i < buffers.length; i++) total += buffers[i].byteLength;
  return total;
}

/** The syscall name node:fs reports for each aio op (readv is libuv's `read`, writev its `write`). */
const SYSCALL_OF: Record<string, string> = { read: 'read', readv: 'read', write: 'write', writev: 'write', fsync: 'fsync', fdatasync: 'fdatasync' };

/**
 * Turns what @aio/core rejects with into what node:fs rejects with: an
 * AioIoError becomes libuv's `EIO: i/o error, read` Error; a closed context
 * or file becomes EBADF "file closed"; anything else (an AbortError, a bug)
 * passes unchanged.
 */
function toNodeError(error: unknown, op: string): unknown {
  const e = error as { name?: unknown; code?: unknown; errno?: unknown; syscall?: unknown } | null;
  if (e === null || typeof e !== 'object') return error;
  if (e.name === 'AioIoError' && typeof e.errno === 'number') return systemError(e.errno, SYSCALL_OF[op] ?? String(e.syscall ?? op));
  if (e.code === 'AIO_ERR_CLOSED' || e.code === 'AIO_ERR_FILE_CLOSED') return fileClosedError(op);
  return error;
}

/** Runs a node:fs callback API on the fd and resolves with its result. */
function viaNodeFs<T>(start: (callback: (error: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value as T))));
}

export class FileHandle extends EventEmitter {
  readonly #aio: Aio;
  readonly #file: AioFile;
  readonly #append: boolean;
  #fd: number;
  /** 1 for the open handle itself, plus 1 per operation running (node:fs's kRefs). */
  #refs = 1;
  #closePromise: Promise<void> | null = null;
  #closeSettle: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  /** The current file position for IO without a position, or AT_END after an append. */
  #position = 0;
  /** The last IO at the current position; the next one starts after it settles. */
  #sequence: Promise<unknown> = RESOLVED;
  /** Shared rejection handlers, so the hot path allocates one closure per IO, not three. */
  readonly #failRead = (error: unknown): never => this.#fail(error, 'read');
  readonly #failWrite = (error: unknown): never => this.#fail(error, 'write');

  /** @internal FileHandles come from open(). */
  constructor(init: FileHandleInit) {
    super();
    this.#aio = init.aio;
    this.#file = init.file;
    this.#fd = init.fd;
    this.#append = init.append;
  }

  /** The numeric file descriptor; -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** The aio context this handle's IO runs on (an addition of @aio/fs). */
  get aio(): Aio {
    return this.#aio;
  }

  /** The underlying @aio/core file, for the handle API (an addition of @aio/fs). */
  get aioFile(): AioFile {
    return this.#file;
  }

  // -------------------------------------------------------------------
  // Reads.
  // -------------------------------------------------------------------

  read<T extends ArrayBufferView = Buffer>(buffer: T, offset?: number | null, length?: number | null, position?: number | bigint | null): Promise<FileReadResult<T>>;
  read<T extends ArrayBufferView = Buffer>(buffer: T, options?: FileReadOptions<T>): Promise<FileReadResult<T>>;
  read<T extends ArrayBufferView = Buffer>(options?: FileReadOptions<T>): Promise<FileReadResult<T>>;
  read(bufferOrOptions?: unknown, offsetOrOptions?: unknown, lengthArg?: unknown, positionArg?: unknown): Promise<FileReadResult<ArrayBufferView>> {
    if (this.#fd === -1) return Promise.reject(fileClosedError('read'));
    try {
      let buffer: ArrayBufferView = bufferOrOptions as ArrayBufferView;
      const isView = ArrayBuffer.isView(bufferOrOptions);
      let offset: unknown = offsetOrOptions;
      let length: unknown = lengthArg;
      let position: unknown = positionArg;
      if (!isView) {
        // read(options): destructuring defaults, as node:fs has them, apply to undefined only.
        if (bufferOrOptions !== undefined) validateNullableObject(bufferOrOptions, 'options');
        ({ buffer = Buffer.alloc(16384), offset = 0, length = minus(buffer.byteLength, offset), position = null } = (bufferOrOptions ?? {}) as LooseOptions);
        validateBuffer(buffer);
      }
      if (offset !== null && typeof offset === 'object') {
        // read(buffer, options)
        ({ offset = 0, length = minus(buffer.byteLength, offset), position = null } = offset as LooseOptions);
      }
      if (offset == null) offset = 0;
      else validateInteger(offset, 'offset', 0);
      length ??= buffer.byteLength - (offset as number);
      const len = (length as number) | 0;
      if (position == null) position = -1;
      else validatePosition(position, 'position', len);
      if (len === 0) return Promise.resolve(readResult(0, buffer));
      if (buffer.byteLength === 0) throw invalidEmptyBuffer(buffer);
      validateOffsetLengthRead(offset as number, len, buffer.byteLength);
      const view = byteView(buffer, offset as number, Math.min(len, MAX_IO_BYTES));
      const result = position === -1 || position === -1n ? this.#atCurrent(view, false) : this.#file.read(view, position as number | bigint);
      return this.#track(result, buffer);
    } catch (error) {
      return Promise.reject(toNodeError(error, 'read'));
    }
  }

  /** Counts the IO as running until it settles, and shapes its result as node:fs does. */
  #track<T extends ArrayBufferView>(io: Promise<number>, buffer: T): Promise<FileReadResult<T>> {
    this.#refs++;
    return io.then((bytesRead) => {
      this.#unref();
      return readResult(bytesRead, buffer);
    }, this.#failRead);
  }

  #fail(error: unknown, op: string): never {
    this.#unref();
    throw toNodeError(error, op);
  }

  readv(buffers: readonly ArrayBufferView[], position?: number | null): Promise<ReadVResult> {
    if (this.#fd === -1) return Promise.reject(fileClosedError('readv'));
    try {
      validateBufferArray(buffers);
      const list = buffers.length > MAX_IOVECS ? buffers.slice(0, MAX_IOVECS) : buffers;
      const at = nativeWritePosition(position);
      this.#refs++;
      return this.#vectored('readv', list, at).then((bytesRead) => {
        this.#unref();
        return { __proto__: null, bytesRead, buffers } as unknown as ReadVResult;
      }, (error: unknown) => this.#fail(error, 'readv'));
    } catch (error) {
      return Promise.reject(toNodeError(error, 'readv'));
    }
  }

  /** One readv or writev; an empty readv is EINVAL as in libuv, zero bytes move nothing. */
  #vectored(op: 'readv' | 'writev', buffers: ArrayBufferView[], position: number): Promise<number> {
    if (buffers.length === 0) return Promise.reject(systemError(-22, op === 'readv' ? 'read' : 'write'));
    if (totalBytes(buffers) === 0) return Promise.resolve(0);
    if (position >= 0) return op === 'readv' ? this.#file.readv(buffers, position) : this.#file.writev(buffers, position);
    return this.#sequenced((at) => (op === 'readv' ? this.#file.readv(buffers, at) : this.#file.writev(buffers, at)), op === 'writev');
  }

  // -------------------------------------------------------------------
  // Writes.
  // -------------------------------------------------------------------

  write<T extends ArrayBufferView>(buffer: T, offset?: number | null, length?: number | null, position?: number | null): Promise<FileWriteResult<T>>;
  write<T extends ArrayBufferView>(buffer: T, options?: FileWriteOptions): Promise<FileWriteResult<T>>;
  write(data: string, position?: number | null, encoding?: BufferEncoding | null): Promise<FileWriteResult<string>>;
  write(bufferOrString: unknown, offsetOrOptions?: unknown, lengthArg?: unknown, positionArg?: unknown): Promise<FileWriteResult<ArrayBufferView | string>> {
    if (this.#fd === -1) return Promise.reject(fileClosedError('write'));
    try {
      return this.#write(bufferOrString, offsetOrOptions, lengthArg, positionArg);
    } catch (error) {
      return Promise.reject(toNodeError(error, 'write'));
    }
  }

  #write(bufferOrString: unknown, offsetOrOptions: unknown, lengthArg: unknown, positionArg: unknown): Promise<FileWriteResult<ArrayBufferView | string>> {
    const data = bufferOrString as ArrayBufferView | string;
    if ((data as { byteLength?: unknown } | null | undefined)?.byteLength === 0) return Promise.resolve(writeResult(0, data));
    if (ArrayBuffer.isView(data)) {
      let offset = offsetOrOptions;
      let length = lengthArg;
      let position = positionArg;
      if (typeof offset === 'object') {
        // write(buffer, options) and write(buffer, null)
        ({ offset = 0, length = minus(data.byteLength, offset), position = null } = (offsetOrOptions ?? {}) as LooseOptions);
      }
      if (offset == null) offset = 0;
      else validateInteger(offset, 'offset', 0);
      if (typeof length !== 'number') length = data.byteLength - (offset as number);
      validateOffsetLengthWrite(offset as number, length as number, data.byteLength);
      const view = byteView(data, offset as number, Math.min(length as number, MAX_IO_BYTES));
      return this.#trackWrite(this.#writeAt(view, nativeWritePosition(position)), data);
    }
    validateStringAfterArrayBufferView(data, 'buffer');
    validateEncoding(data, lengthArg);
    const bytes = Buffer.from(data, writeEncoding(lengthArg));
    if (bytes.byteLength === 0) return this.#trackWrite(Promise.resolve(0), data);
    return this.#trackWrite(this.#writeAt(bytes, nativeWritePosition(offsetOrOptions)), data);
  }

  #trackWrite<T extends ArrayBufferView | string>(io: Promise<number>, buffer: T): Promise<FileWriteResult<T>> {
    this.#refs++;
    return io.then((bytesWritten) => {
      this.#unref();
      return writeResult(bytesWritten, buffer);
    }, this.#failWrite);
  }

  /** A write at `position`, or at the current position for -1. */
  #writeAt(view: ArrayBufferView, position: number): Promise<number> {
    if (view.byteLength === 0) return Promise.resolve(0);
    return position >= 0 ? this.#file.write(view, position) : this.#atCurrent(view, true);
  }

  writev(buffers: readonly ArrayBufferView[], position?: number | null): Promise<WriteVResult> {
    if (this.#fd === -1) return Promise.reject(fileClosedError('writev'));
    try {
      validateBufferArray(buffers);
      if (buffers.length === 0) return Promise.resolve({ __proto__: null, bytesWritten: 0, buffers } as unknown as WriteVResult);
      const at = nativeWritePosition(position);
      this.#refs++;
      return this.#writevAll(buffers, at).then((bytesWritten) => {
        this.#unref();
        return { __proto__: null, bytesWritten, buffers } as unknown as WriteVResult;
      }, (error: unknown) => this.#fail(error, 'writev'));
    } catch (error) {
      return Promise.reject(toNodeError(error, 'writev'));
    }
  }

  /** libuv writes more than IOV_MAX buffers in several writes, stopping at the first short one. */
  async #writevAll(buffers: ArrayBufferView[], position: number): Promise<number> {
    if (buffers.length <= MAX_IOVECS) return this.#vectored('writev', buffers, position);
    let written = 0;
    for (let start = 0; start < buffers.length; start += MAX_IOVECS) {
      const part = buffers.slice(start, start + MAX_IOVECS);
      const n = await this.#vectored('writev', part, position < 0 ? -1 : position + written);
      written += n;
      if (n < totalBytes(part)) break;
    }
    return written;
  }

  // -------------------------------------------------------------------
  // The current position.
  // -------------------------------------------------------------------

  /** A read or write of `view` at the current position. */
  #atCurrent(view: ArrayBufferView, write: boolean): Promise<number> {
    return this.#sequenced((at) => (write ? this.#file.write(view, at) : this.#file.read(view, at)), write);
  }

  /**
   * Runs `io` at the current position once every earlier IO at the current
   * position has settled, then advances the position by what it moved.  On an
   * O_APPEND fd the kernel puts every write at the end and leaves the position
   * there, so after a write the position becomes AT_END, which the next read
   * resolves with fstat.
   */
  #sequenced(io: (position: number) => Promise<number>, write: boolean): Promise<number> {
    const run = async (): Promise<number> => {
      if (write && this.#append && APPEND_IGNORES_POSITION) return this.#appendAnywhere(io);
      if (this.#position === AT_END) this.#position = await this.#fileSize();
      const moved = await io(this.#position);
      if (write && this.#append) this.#position = AT_END;
      else this.#position += moved;
      return moved;
    };
    const result = this.#sequence.then(run);
    this.#sequence = result.then(noop, noop);
    return result;
  }

  /** On Linux an O_APPEND write lands at the end whatever position it is given, so no fstat is needed first. */
  async #appendAnywhere(io: (position: number) => Promise<number>): Promise<number> {
    const moved = await io(0);
    this.#position = AT_END;
    return moved;
  }

  #fileSize(): Promise<number> {
    return viaNodeFs<fs.Stats>((callback) => fs.fstat(this.#file.fd, callback)).then((stats) => stats.size);
  }

  // -------------------------------------------------------------------
  // Whole-file helpers.
  // -------------------------------------------------------------------

  readFile(options?: (FileOptions & { encoding?: null }) | null): Promise<Buffer>;
  readFile(options: (FileOptions & { encoding: BufferEncoding }) | BufferEncoding): Promise<string>;
  readFile(options?: FileOptions | BufferEncoding | null): Promise<string | Buffer>;
  readFile(options?: FileOptions | BufferEncoding | null): Promise<string | Buffer> {
    return this.#call('readFile', () => this._readFileFromCurrent(validateReadFileBuffer(getOptions(options, { flag: 'r' }))));
  }

  writeFile(data: unknown, options?: FileOptions | BufferEncoding | null): Promise<void> {
    return this.#call('writeFile', () => this._writeFileAtCurrent(data, options, 'w'));
  }

  /** node:fs's FileHandle.appendFile is its writeFile: the fd's O_APPEND is what appends. */
  appendFile(data: unknown, options?: FileOptions | BufferEncoding | null): Promise<void> {
    return this.#call('writeFile', () => this._writeFileAtCurrent(data, options, 'w'));
  }

  /** @internal readFile of an open handle: from the current position to the end of the file. */
  async _readFileFromCurrent(options: FileOptions): Promise<string | Buffer> {
    const { signal } = options;
    const encoding = options.encoding === 'buffer' ? undefined : (options.encoding ?? undefined);
    checkAborted(signal);
    const stats = await viaNodeFs<fs.Stats>((callback) => fs.fstat(this.#file.fd, callback));
    checkAborted(signal);
    const size = stats.isFile() ? stats.size : 0;
    if (size > IO_MAX_LENGTH) throw fileTooLarge(size);
    if (options.buffer !== undefined) return this.#readIntoUserBuffer(options, size, encoding);
    const data = size === 0 ? await this.#readUnknownLength(signal) : await this.#readKnownLength(size, signal);
    return encoding ? data.toString(encoding) : data;
  }

  /**
   * Node 24's readFile into a caller's buffer (`options.buffer`: a buffer, or
   * a function of the file size returning one): the file must fit, the
   * result is a view of that buffer, and a file of unknown size that does not
   * fit is ERR_INVALID_ARG_VALUE "is too small to contain the entire file".
   */
  async #readIntoUserBuffer(options: FileOptions, size: number, encoding: BufferEncoding | undefined): Promise<string | Buffer> {
    const { signal } = options;
    const name = typeof options.buffer === 'function' ? 'options.buffer().byteLength' : 'options.buffer.byteLength';
    const target: unknown = typeof options.buffer === 'function' ? options.buffer(size) : options.buffer;
    if (typeof options.buffer === 'function') validateBuffer(target, 'options.buffer()');
    const view = target as ArrayBufferView;
    const buffer = Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    if (size > buffer.byteLength) throw invalidArgValue(name, buffer.byteLength, `is smaller than the file size of ${size} bytes`);
    let total = 0;
    while (total < buffer.byteLength) {
      checkAborted(signal);
      const length = size === 0 ? buffer.byteLength - total : Math.min(size - total, READ_FILE_CHUNK);
      const n = await this.#readChunk(buffer.subarray(total, total + length));
      total += n;
      if (n === 0 || total === size) {
        const result = buffer.subarray(0, total);
        return encoding ? result.toString(encoding) : result;
      }
    }
    if (size === 0) {
      checkAborted(signal);
      if ((await this.#readChunk(Buffer.allocUnsafeSlow(1))) !== 0) {
        throw invalidArgValue(name, buffer.byteLength, 'is too small to contain the entire file');
      }
    }
    return encoding ? buffer.toString(encoding) : buffer.subarray(0, total);
  }

  async #readKnownLength(size: number, signal: AbortSignal | undefined): Promise<Buffer> {
    const buffer = Buffer.allocUnsafeSlow(size);
    let total = 0;
    while (total < size) {
      checkAborted(signal);
      const length = Math.min(size - total, READ_FILE_CHUNK);
      const n = await this.#readChunk(buffer.subarray(total, total + length));
      total += n;
      if (n < length) break;
    }
    return total === size ? buffer : buffer.subarray(0, total);
  }

  async #readUnknownLength(signal: AbortSignal | undefined): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      checkAborted(signal);
      const chunk = Buffer.allocUnsafeSlow(READ_FILE_UNKNOWN_CHUNK);
      const n = await this.#readChunk(chunk);
      if (n === 0) break;
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      total += n;
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  }

  #readChunk(view: Buffer): Promise<number> {
    return this.#atCurrent(view, false).catch((error: unknown) => {
      throw toNodeError(error, 'read');
    });
  }

  /** @internal writeFile/appendFile of an open handle: at the current position, in 512 KiB steps. */
  async _writeFileAtCurrent(data: unknown, rawOptions: unknown, flag: string): Promise<void> {
    const options = getOptions(rawOptions, { encoding: 'utf8', mode: 0o666, flag, flush: false });
    let payload = data;
    if (!ArrayBuffer.isView(payload) && !isCustomIterable(payload)) {
      validateStringAfterArrayBufferView(payload, 'data');
      payload = Buffer.from(payload, (options.encoding as BufferEncoding) || 'utf8');
    }
    validateAbortSignal(options.signal, 'options.signal');
    await this._writeAll(payload as ArrayBufferView | Iterable<unknown> | AsyncIterable<unknown>, options.signal, options.encoding);
  }

  /** @internal node:fs's writeFileHandle: every byte of `data` at the current position. */
  async _writeAll(data: ArrayBufferView | Iterable<unknown> | AsyncIterable<unknown>, signal: AbortSignal | undefined, encoding: FileOptions['encoding']): Promise<void> {
    checkAborted(signal);
    if (!ArrayBuffer.isView(data)) {
      for await (const item of data as AsyncIterable<unknown>) {
        checkAborted(signal);
        const chunk = ArrayBuffer.isView(item) ? item : Buffer.from(item as string, (encoding as BufferEncoding) || 'utf8');
        await this.#writeFully(chunk, signal);
      }
      return;
    }
    if (data.byteLength === 0) return;
    await this.#writeFully(data, signal);
  }

  async #writeFully(chunk: ArrayBufferView, signal: AbortSignal | undefined): Promise<void> {
    let done = 0;
    while (done < chunk.byteLength) {
      checkAborted(signal);
      const view = byteView(chunk, done, Math.min(WRITE_FILE_CHUNK, chunk.byteLength - done));
      done += await this.#atCurrent(view, true).catch((error: unknown) => {
        throw toNodeError(error, 'write');
      });
    }
  }

  // -------------------------------------------------------------------
  // Durability, metadata, size.
  // -------------------------------------------------------------------

  sync(): Promise<void> {
    return this.#call('fsync', () => this.#file.sync().catch((error: unknown) => Promise.reject(toNodeError(error, 'fsync'))));
  }

  datasync(): Promise<void> {
    return this.#call('fdatasync', () => this.#file.datasync().catch((error: unknown) => Promise.reject(toNodeError(error, 'fdatasync'))));
  }

  stat(options?: { bigint?: false }): Promise<fs.Stats>;
  stat(options: { bigint: true }): Promise<fs.BigIntStats>;
  stat(options?: { bigint?: boolean }): Promise<fs.Stats | fs.BigIntStats>;
  stat(options?: { bigint?: boolean }): Promise<fs.Stats | fs.BigIntStats> {
    return this.#call('fstat', () => {
      const bigint = (options === undefined ? { bigint: false } : options).bigint;
      return viaNodeFs<fs.Stats | fs.BigIntStats>((callback) => fs.fstat(this.#file.fd, { bigint: bigint === true }, callback));
    });
  }

  truncate(len: number = 0): Promise<void> {
    return this.#call('ftruncate', () => {
      validateInteger(len, 'len');
      return viaNodeFs<void>((callback) => fs.ftruncate(this.#file.fd, Math.max(0, len), callback));
    });
  }

  chmod(mode: fs.Mode): Promise<void> {
    return this.#call('fchmod', () => viaNodeFs<void>((callback) => fs.fchmod(this.#file.fd, mode, callback)));
  }

  chown(uid: number, gid: number): Promise<void> {
    return this.#call('fchown', () => viaNodeFs<void>((callback) => fs.fchown(this.#file.fd, uid, gid, callback)));
  }

  utimes(atime: fs.TimeLike, mtime: fs.TimeLike): Promise<void> {
    return this.#call('futimes', () => viaNodeFs<void>((callback) => fs.futimes(this.#file.fd, atime, mtime, callback)));
  }

  /** Runs an operation as node:fs's `fsCall` does: EBADF once closed, counted while it runs, never a synchronous throw. */
  #call<T>(syscall: string, operation: () => Promise<T>): Promise<T> {
    if (this.#fd === -1) return Promise.reject(fileClosedError(syscall));
    this.#refs++;
    let promise: Promise<T>;
    try {
      promise = operation();
    } catch (error) {
      promise = Promise.reject(error);
    }
    return promise.finally(() => this.#unref());
  }

  // -------------------------------------------------------------------
  // Streams, as node:fs builds them on a FileHandle.
  // -------------------------------------------------------------------

  /**
   * A ReadStream over this handle, as node:fs's `createReadStream` on a
   * FileHandle: node:fs's own ReadStream, given the fd and, as its `fs`, this
   * handle's read and close (so the stream's IO runs on aio).  Without
   * `start` it reads from the current position.
   */
  createReadStream(options?: Parameters<typeof fs.createReadStream>[1] & object): fs.ReadStream {
    const stream = fs.createReadStream(undefined as unknown as string, { ...options, ...this.#streamOptions() } as Parameters<typeof fs.createReadStream>[1]);
    this.on('close', () => stream.close());
    return stream;
  }

  /** A WriteStream over this handle, as node:fs's `createWriteStream` on a FileHandle (see createReadStream). */
  createWriteStream(options?: Parameters<typeof fs.createWriteStream>[1] & object): fs.WriteStream {
    const stream = fs.createWriteStream(undefined as unknown as string, { ...options, ...this.#streamOptions() } as Parameters<typeof fs.createWriteStream>[1]);
    this.on('close', () => stream.close());
    return stream;
  }

  /** Lines of the file, as node:fs's `readLines`: a readline Interface over createReadStream(options). */
  readLines(options?: Parameters<typeof fs.createReadStream>[1] & object): Interface {
    return createInterface({ input: this.createReadStream(options), crlfDelay: Infinity });
  }

  /**
   * The fd and the `fs` operations node:fs's streams use for a FileHandle
   * (its FileHandleOperations): the stream holds a reference on the handle
   * until it closes it, and closing the handle closes the stream.
   */
  #streamOptions(): { fd: number; fs: object } {
    if (this.#fd === -1) throw fileClosedError('open');
    this.#refs++;
    const operations = {
      open: () => {
        throw new Error('open() is not implemented for a FileHandle stream');
      },
      close: (_fd: number, callback: (error?: unknown) => void) => {
        this.#unref();
        this.close().then(() => callback(), callback);
      },
      fsync: (_fd: number, callback: (error?: unknown) => void) => {
        this.sync().then(() => callback(), callback);
      },
      read: (_fd: number, buffer: Buffer, offset: number, length: number, position: number | null, callback: (error: unknown, n: number, b: Buffer) => void) => {
        this.read(buffer, offset, length, position).then((r) => callback(null, r.bytesRead, r.buffer), (error: unknown) => callback(error, 0, buffer));
      },
      write: (_fd: number, buffer: Buffer, offset: number, length: number, position: number | null, callback: (error: unknown, n: number, b: Buffer) => void) => {
        this.write(buffer, offset, length, position).then((r) => callback(null, r.bytesWritten, r.buffer), (error: unknown) => callback(error, 0, buffer));
      },
      writev: (_fd: number, buffers: Buffer[], position: number | null, callback: (error: unknown, n: number, b: Buffer[]) => void) => {
        this.writev(buffers, position).then((r) => callback(null, r.bytesWritten, buffers), (error: unknown) => callback(error, 0, buffers));
      },
    };
    return { fd: this.#fd, fs: operations };
  }

  // -------------------------------------------------------------------
  // Closing.
  // -------------------------------------------------------------------

  /**
   * Closes the file once the operations already running have finished; emits
   * 'close' at once.  An own property, as in node:fs (`const { close } = handle` works).
   */
  close = (): Promise<void> => {
    if (this.#fd === -1) return RESOLVED;
    if (this.#closePromise !== null) return this.#closePromise;
    this.#refs--;
    if (this.#refs === 0) {
      this.#fd = -1;
      this.#closePromise = this.#closeFile().finally(() => (this.#closePromise = null));
    } else {
      this.#closePromise = new Promise<void>((resolve, reject) => (this.#closeSettle = { resolve, reject })).finally(() => {
        this.#closePromise = null;
        this.#closeSettle = null;
      });
    }
    this.emit('close');
    return this.#closePromise;
  };

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #unref(): void {
    if (--this.#refs !== 0) return;
    this.#fd = -1;
    const settle = this.#closeSettle;
    this.#closeFile().then(settle?.resolve, settle?.reject);
  }

  #closeFile(): Promise<void> {
    releaseContext(this.#aio);
    return this.#sequence.then(() => this.#file.close());
  }
}

function invalidEmptyBuffer(buffer: ArrayBufferView): Error {
  return invalidArgValue('buffer', buffer, 'is empty and cannot be written');
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}
