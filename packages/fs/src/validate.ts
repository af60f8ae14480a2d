/**
 * node:fs's argument checks, with node:fs's errors.  Each function checks
 * what the node:fs function of the same role checks, in the same order, so
 * that the first problem of a bad call is reported the way Node reports it.
 */
import { constants } from 'node:fs';
import { invalidArgType, invalidArgValue, outOfRange } from './errors.js';

export function validateInteger(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number') throw invalidArgType(name, 'number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
}

export function validateInt32(value: unknown, name: string, min = -2147483648, max = 2147483647): asserts value is number {
  validateInteger(value, name, min, max);
}

export function validateBuffer(value: unknown, name = 'buffer'): asserts value is ArrayBufferView {
  if (!ArrayBuffer.isView(value)) throw invalidArgType(name, ['Buffer', 'TypedArray', 'DataView'], value);
}

/** An options object that may also be null or undefined (node:fs's `kValidateObjectAllowNullable`). */
export function validateNullableObject(value: unknown, name: string): void {
  if (value !== null && (Array.isArray(value) || typeof value !== 'object')) throw invalidArgType(name, 'Object', value);
}

export function validateBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'boolean', value);
}

/** writeFile's `flush` option: a boolean, false when absent. */
export function validateFlush(flush: unknown): boolean {
  const value = flush ?? false;
  validateBoolean(value, 'options.flush');
  return value;
}

export function validateAbortSignal(signal: unknown, name: string): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw invalidArgType(name, 'AbortSignal', signal);
  }
}

/** A read's `position`: an integer >= -1 or a bigint in [-1, 2^63 - 1 - length] (Node 24; Node 20 ignored bad positions). */
export function validatePosition(position: unknown, name: string, length: number): asserts position is number | bigint {
  if (typeof position === 'number') {
    validateInteger(position, name, -1);
  } else if (typeof position === 'bigint') {
    const max = 2n ** 63n - 1n - BigInt(length);
    if (!(position >= -1n && position <= max)) throw outOfRange(name, `>= -1 && <= ${max}`, position);
  } else {
    throw invalidArgType(name, ['integer', 'bigint'], position);
  }
}

export function validateOffsetLengthRead(offset: number, length: number, bufferLength: number): void {
  if (offset < 0) throw outOfRange('offset', '>= 0', offset);
  if (length < 0) throw outOfRange('length', '>= 0', length);
  if (offset + length > bufferLength) throw outOfRange('length', `<= ${bufferLength - offset}`, length);
}

export function validateOffsetLengthWrite(offset: number, length: number, byteLength: number): void {
  if (offset > byteLength) throw outOfRange('offset', `<= ${byteLength}`, offset);
  if (length > byteLength - offset) throw outOfRange('length', `<= ${byteLength - offset}`, length);
  if (length < 0) throw outOfRange('length', '>= 0', length);
  validateInt32(length, 'length', 0);
}

export function validateBufferArray(buffers: unknown, name = 'buffers'): asserts buffers is ArrayBufferView[] {
  if (!Array.isArray(buffers)) throw invalidArgType(name, 'ArrayBufferView[]', buffers);
  for (let i = 0; i < buffers.length; i++) {
    if (!ArrayBuffer.isView(buffers[i])) throw invalidArgType(name, 'ArrayBufferView[]', buffers);
  }
}

export function validateStringAfterArrayBufferView(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw invalidArgType(name, ['string', 'Buffer', 'TypedArray', 'DataView'], value);
}

/** Hex strings must have an even length (node:fs's `validateEncoding`). */
export function validateEncoding(data: string, encoding: unknown): void {
  if (typeof encoding === 'string' && encoding.toLowerCase() === 'hex' && data.length % 2 !== 0) {
    throw invalidArgValue('encoding', encoding, `is invalid for data of length ${data.length}`);
  }
}

/**
 * The encoding node:fs's native layer uses for a string write: a known
 * encoding name (any case), otherwise UTF-8.  It never throws: node:fs
 * writes `write('x', 0, 'bogus')` as UTF-8.
 */
export function writeEncoding(encoding: unknown): BufferEncoding {
  return typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8';
}

/** The file position a write uses: a safe integer >= 0, or -1 for "the current position" (node:fs's native `GetOffset`). */
export function nativeWritePosition(position: unknown): number {
  return typeof position === 'number' && Number.isSafeInteger(position) && position >= 0 ? position : -1;
}

/** Options of readFile/writeFile/appendFile, node:fs's `getOptions`. */
export interface FileOptions {
  encoding?: BufferEncoding | 'buffer' | null;
  /** readFile only (Node 24): read into this buffer, or into the one this function returns for the file size. */
  buffer?: ArrayBufferView | ((size: number) => ArrayBufferView);
  flag?: string | number;
  mode?: number | string;
  flush?: boolean;
  signal?: AbortSignal;
}

export function getOptions(options: unknown, defaults: FileOptions): FileOptions {
  if (options == null || typeof options === 'function') return defaults;
  let result: FileOptions;
  if (typeof options === 'string') {
    result = { ...defaults, encoding: options as BufferEncoding };
  } else if (typeof options !== 'object') {
    throw invalidArgType('options', ['string', 'Object'], options);
  } else {
    result = options as FileOptions;
  }
  if (result.encoding !== 'buffer' && result.encoding && !Buffer.isEncoding(result.encoding)) {
    throw invalidArgValue('encoding', result.encoding, 'is invalid encoding');
  }
  if (result.signal !== undefined) validateAbortSignal(result.signal, 'options.signal');
  return result;
}

/** readFile's `buffer` option (Node 24): a buffer or a function, when present. */
export function validateReadFileBuffer(options: FileOptions): FileOptions {
  const { buffer } = options;
  if (buffer !== undefined && typeof buffer !== 'function' && !ArrayBuffer.isView(buffer)) {
    throw invalidArgType('options.buffer', ['Buffer', 'TypedArray', 'DataView', 'Function'], buffer);
  }
  return options;
}

/** node:fs's string open flags, as open(2) bits (`stringToFlags`). */
export function stringToFlags(flags: unknown, name = 'flags'): number {
  const { O_RDONLY, O_RDWR, O_WRONLY, O_SYNC, O_TRUNC, O_CREAT, O_EXCL, O_APPEND } = constants;
  if (typeof flags === 'number') {
    validateInt32(flags, name);
    return flags + 0;
  }
  if (flags == null) return O_RDONLY;
  switch (flags) {
    case 'r': return O_RDONLY;
    case 'rs': case 'sr': return O_RDONLY | O_SYNC;
    case 'r+': return O_RDWR;
    case 'rs+': case 'sr+': return O_RDWR | O_SYNC;
    case 'w': return O_TRUNC | O_CREAT | O_WRONLY;
    case 'wx': case 'xw': return O_TRUNC | O_CREAT | O_WRONLY | O_EXCL;
    case 'w+': return O_TRUNC | O_CREAT | O_RDWR;
    case 'wx+': case 'xw+': return O_TRUNC | O_CREAT | O_RDWR | O_EXCL;
    case 'a': return O_APPEND | O_CREAT | O_WRONLY;
    case 'ax': case 'xa': return O_APPEND | O_CREAT | O_WRONLY | O_EXCL;
    case 'as': case 'sa': return O_APPEND | O_CREAT | O_WRONLY | O_SYNC;
    case 'a+': return O_APPEND | O_CREAT | O_RDWR;
    case 'ax+': case 'xa+': return O_APPEND | O_CREAT | O_RDWR | O_EXCL;
    case 'as+': case 'sa+': return O_APPEND | O_CREAT | O_RDWR | O_SYNC;
  }
  throw invalidArgValue('flags', flags);
}

/** An object that `for await` can walk and that is not a buffer or a string (node:fs's `isCustomIterable`). */
export function isCustomIterable(value: unknown): value is Iterable<unknown> | AsyncIterable<unknown> {
  if (value == null || ArrayBuffer.isView(value) || typeof value === 'string') return false;
  const candidate = value as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown };
  return typeof candidate[Symbol.asyncIterator] === 'function' || typeof candidate[Symbol.iterator] === 'function';
}
