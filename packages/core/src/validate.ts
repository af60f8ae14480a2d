/**
 * Validation of everything JavaScript hands the library.  Every public entry
 * point checks its arguments here before touching any state, so a bad
 * argument throws an AioUsageError and never reaches a backend (where it
 * could become a crash or a write to the wrong memory).
 */
import { fileURLToPath } from 'node:url';
import { AioUsageError } from './errors.js';

/** The largest byte count one IO may move: what Linux moves in one call. */
export const MAX_IO_BYTES = 0x7fff_f000;

/** The most buffers one vectored IO may have (IOV_MAX on Linux). */
export const MAX_IOVECS = 1024;

/**
 * Whether `view`'s ArrayBuffer was detached (transferred away with
 * `postMessage` or `structuredClone(..., { transfer })`, or `transfer()`ed).
 * A detached view reads as 0 bytes long, so only a 0-byte view needs the
 * check; Node 20 has no `ArrayBuffer.prototype.detached`, and constructing a
 * view on a detached buffer is the portable test (it throws).
 */
export function isDetached(view: ArrayBufferView): boolean {
  if (view.byteLength !== 0) return false;
  const buffer = view.buffer as ArrayBuffer & { detached?: boolean };
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  if (buffer.byteLength !== 0) return false;
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * Throws unless `value` is an ArrayBufferView (Buffer, typed array,
 * DataView) whose memory is still there: a detached view would otherwise
 * pass as a 0-byte IO (a read "at end of file", a write that "succeeded").
 */
export function checkBuffer(value: unknown, name: string): ArrayBufferView {
  if (!ArrayBuffer.isView(value)) {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be a Buffer, TypedArray or DataView, got ${describeValue(value)}`);
  }
  if (value.byteLength === 0 && isDetached(value)) throw detachedError(name);
  return value;
}

/**
 * {@link checkBuffer} and {@link checkLength} in one, for the IO paths:
 * throws unless `value` is a view whose memory is still there and `length`
 * (when given) is an integer within it; returns the number of bytes the IO
 * moves (`value` is then the checked view).  It reads `byteLength` once: on
 * Node 20 every read of it is a generic property load plus a builtin call
 * (TurboFan does not inline it for typed arrays), about 10 ns each.
 */
export function checkBufferBytes(value: unknown, length: unknown, name: string, lengthName: string): number {
  if (!ArrayBuffer.isView(value)) {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be a Buffer, TypedArray or DataView, got ${describeValue(value)}`);
  }
  const size = value.byteLength;
  if (size === 0 && isDetached(value)) throw detachedError(name);
  if (length === undefined) {
    if (size > MAX_IO_BYTES) {
      throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `the buffer holds ${size} bytes; one IO moves at most ${MAX_IO_BYTES}`);
    }
    return size;
  }
  return checkLengthWithin(length, size, lengthName);
}

/** The usage error for a view whose ArrayBuffer was detached. */
export function detachedError(name: string): AioUsageError {
  return new AioUsageError('AIO_ERR_DETACHED', `${name} is a view on a detached ArrayBuffer (it was transferred away); its memory is gone`);
}

/** Throws unless `value` is a non-empty array of ArrayBufferViews within the limits. */
export function checkBufferList(value: unknown, name: string): ArrayBufferView[] {
  if (!Array.isArray(value)) {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be an array of buffers, got ${describeValue(value)}`);
  }
  if (value.length === 0 || value.length > MAX_IOVECS) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `${name} must hold 1 to ${MAX_IOVECS} buffers, got ${value.length}`);
  }
  const copy = new Array<ArrayBufferView>(value.length);
  let total = 0;
  for (let i = 0; i < value.length; i++) {
    copy[i] = checkBuffer(value[i], `${name}[${i}]`);
    total += copy[i].byteLength;
  }
  if (total > MAX_IO_BYTES) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `${name} hold ${total} bytes; one IO moves at most ${MAX_IO_BYTES}`);
  }
  return copy;
}

/**
 * Throws unless `value` is a file offset: a non-negative safe integer number,
 * or a bigint in the same range.  Returns it as a number.
 */
export function checkOffset(value: unknown, name: string): number {
  if (typeof value === 'bigint') {
    if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `${name} must be between 0 and ${Number.MAX_SAFE_INTEGER}, got ${value}`);
    }
    return Number(value);
  }
  if (typeof value !== 'number') {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be a number or bigint, got ${describeValue(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `${name} must be a non-negative safe integer, got ${value}`);
  }
  return value;
}

/**
 * Throws unless `length` (when given) is an integer within the buffer.
 * Returns the number of bytes the IO moves.
 */
export function checkLength(length: unknown, buffer: ArrayBufferView, name: string): number {
  if (length === undefined) {
    if (buffer.byteLength > MAX_IO_BYTES) {
      throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `the buffer holds ${buffer.byteLength} bytes; one IO moves at most ${MAX_IO_BYTES}`);
    }
    return buffer.byteLength;
  }
  return checkLengthWithin(length, buffer.byteLength, name);
}

/** Throws unless `length` is an integer within a buffer of `size` bytes (and one IO's limit); returns it. */
function checkLengthWithin(length: unknown, size: number, name: string): number {
  if (typeof length !== 'number') {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be a number, got ${describeValue(length)}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `${name} must be a non-negative integer, got ${length}`);
  }
  if (length > size) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `${name} ${length} is beyond the buffer's ${size} bytes`);
  }
  if (length > MAX_IO_BYTES) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `${name} ${length}; one IO moves at most ${MAX_IO_BYTES}`);
  }
  return length;
}

/** Throws unless `value` is an integer in [min, max]. */
export function checkInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be a number, got ${describeValue(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/** Throws unless `value` is undefined or a plain object whose keys are all in `allowed`. */
export function checkOptions<T extends object>(value: unknown, name: string, allowed: readonly string[]): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be an object, got ${describeValue(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `unknown option ${name}.${key}; known: ${allowed.join(', ')}`);
    }
  }
  return value as Partial<T>;
}

/** Throws unless `value` is undefined or a boolean; returns it or the default. */
export function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be a boolean, got ${describeValue(value)}`);
  }
  return value;
}

/** Throws unless `value` is undefined or an AbortSignal. */
export function checkSignal(value: unknown, name: string): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be an AbortSignal, got ${describeValue(value)}`);
  }
  return value;
}

/** A short description of a value for error messages, never its whole content. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'function') return 'a function';
  return `${typeof value} ${String(value)}`;
}

/**
 * Throws unless `value` can receive a `stat`: a view of at least 32 bytes
 * (four float64) starting at a multiple of 8, so a Float64Array over it
 * reads the four numbers.
 */
export function checkStatBuffer(value: unknown, name: string): ArrayBufferView {
  const view = checkBuffer(value, name);
  if (view.byteLength < 32 || view.byteOffset % 8 !== 0) {
    throw new AioUsageError(
      'AIO_ERR_OUT_OF_RANGE',
      `${name} must hold at least 32 bytes starting at a multiple of 8 (four float64), got ${view.byteLength} bytes at byte offset ${view.byteOffset}`,
    );
  }
  return view;
}

/**
 * Throws unless `offset` and `length` make a byte range to allocate: both
 * non-negative safe integers, `length` at least 1 (fallocate refuses an
 * empty range with EINVAL), the end still a safe integer.  Returns the pair.
 */
export function checkByteRange(offset: unknown, length: unknown): [number, number] {
  const at = checkOffset(offset, 'offset');
  const bytes = checkOffset(length, 'length');
  if (bytes === 0) throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', 'length must be at least 1 byte');
  if (at + bytes > Number.MAX_SAFE_INTEGER) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `offset ${at} + length ${bytes} is beyond ${Number.MAX_SAFE_INTEGER}`);
  }
  return [at, bytes];
}

/** Throws unless `value` is a non-empty string or a file: URL; returns the path as a string. */
export function checkPath(value: unknown, name: string): string {
  const path = value instanceof URL ? (value.protocol === 'file:' ? fileURLToPath(value) : '') : value;
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `${name} must be a non-empty path string or file URL, got ${describeValue(value)}`);
  }
  return path;
}
