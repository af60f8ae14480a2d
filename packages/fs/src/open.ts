/**
 * open(), readFile(), writeFile() and appendFile(): node:fs/promises'
 * signatures, returning FileHandles whose IO runs on aio.
 *
 * The fd is opened by node:fs itself (`fs.open`), so every check of the path,
 * the flags and the mode, and every open error (ENOENT, EEXIST, EISDIR, ...),
 * is node:fs's own, with node:fs's message.  The fd is then handed to the
 * context with `aio.fromFd`, which owns it from then on.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Aio } from '@aio/core';
import { getContext, retainContext } from './context.js';
import { AbortError, invalidArgType } from './errors.js';
import { FileHandle } from './file-handle.js';
import { getOptions, isCustomIterable, stringToFlags, validateAbortSignal, validateFlush, validateReadFileBuffer, validateStringAfterArrayBufferView, type FileOptions } from './validate.js';

/** The one deliberate addition to open(): how aio opens the file. */
export interface AioOpenOptions {
  /** Direct I/O (O_DIRECT): bypass the page cache.  Buffers, positions and lengths must then be aligned (see allocAligned). */
  direct?: boolean;
  /** The context to run this handle's IO on, instead of this thread's default one. */
  aio?: Aio;
}

const { O_ACCMODE = 3, O_APPEND, O_DIRECT, O_DSYNC, O_RDONLY, O_WRONLY } = fs.constants as typeof fs.constants & { O_ACCMODE?: number };

/**
 * Opens a file, exactly as node:fs/promises' open(path, flags, mode) does;
 * the handle's IO runs on this thread's aio context.  `aioOptions` is the
 * one addition (direct I/O, an explicit context).
 */
export function open(path: fs.PathLike, flags?: string | number, mode?: fs.Mode, aioOptions?: AioOpenOptions): Promise<FileHandle> {
  try {
    const { direct, aio } = checkAioOptions(aioOptions);
    let bits = stringToFlags(flags);
    if (direct) {
      if (O_DIRECT === undefined) throw invalidArgType('aioOptions.direct', 'false', direct);
      bits |= O_DIRECT;
    }
    const fdPromise = new Promise<number>((resolve, reject) => {
      // fs.open validates path, flags and mode synchronously, with node:fs's errors.
      fs.open(path, direct ? bits : (flags as string | number), mode, (error, fd) => (error ? reject(error) : resolve(fd)));
    });
    const contextPromise = aio === undefined ? getContext() : Promise.resolve(aio);
    return Promise.all([fdPromise, contextPromise.catch((error: unknown) => closeAfter(fdPromise, error))]).then(([fd, context]) =>
      wrapFd(context, fd, bits, path),
    );
  } catch (error) {
    return Promise.reject(error);
  }
}

function checkAioOptions(options: unknown): AioOpenOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') throw invalidArgType('aioOptions', 'Object', options);
  const { direct, aio } = options as AioOpenOptions;
  if (direct !== undefined && typeof direct !== 'boolean') throw invalidArgType('aioOptions.direct', 'boolean', direct);
  if (aio !== undefined && (aio === null || typeof aio !== 'object' || typeof (aio as Aio).fromFd !== 'function')) {
    throw invalidArgType('aioOptions.aio', 'Aio', aio);
  }
  return { direct, aio };
}

/** When the context cannot be had, the fd that node:fs opened is closed before rejecting. */
async function closeAfter(fdPromise: Promise<number>, error: unknown): Promise<never> {
  const fd = await fdPromise.catch(() => -1);
  if (fd >= 0) fs.close(fd, () => {});
  throw error;
}

function wrapFd(aio: Aio, fd: number, bits: number, path: fs.PathLike): FileHandle {
  const access = bits & O_ACCMODE;
  try {
    const file = aio.fromFd(fd, {
      path: pathText(path),
      ownsFd: true,
      read: access !== O_WRONLY,
      write: access !== O_RDONLY,
      direct: O_DIRECT !== undefined && (bits & O_DIRECT) !== 0,
      dsync: O_DSYNC !== undefined && (bits & O_DSYNC) !== 0,
    });
    retainContext(aio);
    return new FileHandle({ aio, file, fd, append: (bits & O_APPEND) !== 0 });
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}

/** The path as text, for aio's messages and its reopen-by-path. */
function pathText(path: fs.PathLike): string {
  if (typeof path === 'string') return path;
  if (path instanceof URL) return fileURLToPath(path);
  return Buffer.from(path).toString();
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

/** node:fs's handleFdClose: close after the operation, and report both errors if both fail. */
async function closeAfterUse<T>(handle: FileHandle, operation: Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await operation;
  } catch (operationError) {
    try {
      await handle.close();
    } catch (closeError) {
      if (closeError === operationError) throw operationError;
      const both = new AggregateError([operationError, closeError], (operationError as Error | undefined)?.message);
      throw Object.assign(both, { code: (operationError as { code?: unknown } | undefined)?.code });
    }
    throw operationError;
  }
  await handle.close();
  return result;
}

/** Reads a whole file, as node:fs/promises' readFile does (a FileHandle reads from its current position). */
export function readFile(path: fs.PathLike | FileHandle, options?: (FileOptions & { encoding?: null }) | null): Promise<Buffer>;
export function readFile(path: fs.PathLike | FileHandle, options: (FileOptions & { encoding: BufferEncoding }) | BufferEncoding): Promise<string>;
export function readFile(path: fs.PathLike | FileHandle, options?: FileOptions | BufferEncoding | null): Promise<string | Buffer>;
export async function readFile(path: fs.PathLike | FileHandle, options?: FileOptions | BufferEncoding | null): Promise<string | Buffer> {
  const opts = validateReadFileBuffer(getOptions(options, { flag: 'r' }));
  const flag = opts.flag || 'r';
  if (path instanceof FileHandle) return path._readFileFromCurrent(opts);
  checkAborted(opts.signal);
  const handle = await open(path, flag as string, 0o666);
  return closeAfterUse(handle, handle._readFileFromCurrent(opts));
}

/** Writes a whole file, as node:fs/promises' writeFile does (flag 'w'; a FileHandle writes at its current position). */
export async function writeFile(
  path: fs.PathLike | FileHandle,
  data: string | ArrayBufferView | Iterable<unknown> | AsyncIterable<unknown>,
  options?: FileOptions | BufferEncoding | null,
): Promise<void> {
  const opts = getOptions(options, { encoding: 'utf8', mode: 0o666, flag: 'w', flush: false });
  const flag = opts.flag || 'w';
  const flush = validateFlush(opts.flush);
  let payload: unknown = data;
  if (!ArrayBuffer.isView(payload) && !isCustomIterable(payload)) {
    validateStringAfterArrayBufferView(payload, 'data');
    payload = Buffer.from(payload, (opts.encoding as BufferEncoding) || 'utf8');
  }
  validateAbortSignal(opts.signal, 'options.signal');
  const bytes = payload as ArrayBufferView | Iterable<unknown> | AsyncIterable<unknown>;
  if (path instanceof FileHandle) return path._writeAll(bytes, opts.signal, opts.encoding);
  checkAborted(opts.signal);
  const handle = await open(path, flag as string, opts.mode as fs.Mode);
  let operation = handle._writeAll(bytes, opts.signal, opts.encoding);
  if (flush) operation = operation.then(() => handle.sync());
  return closeAfterUse(handle, operation);
}

/** Appends to a file, as node:fs/promises' appendFile does (flag 'a'). */
export async function appendFile(
  path: fs.PathLike | FileHandle,
  data: string | ArrayBufferView | Iterable<unknown> | AsyncIterable<unknown>,
  options?: FileOptions | BufferEncoding | null,
): Promise<void> {
  const opts = { ...getOptions(options, { encoding: 'utf8', mode: 0o666, flag: 'a' }) };
  opts.flag ||= 'a';
  return writeFile(path, data, opts);
}
