/**
 * Errors in three tiers, as PostgreSQL's AIO subsystem has them:
 *
 * 1. Misuse of the API throws an {@link AioUsageError} at once, from the call
 *    that misused it, with a stable string `code`.
 * 2. The failure of an IO is a value (an `AioResult` with status `error`),
 *    never an exception thrown from inside a completion.
 * 3. Raising happens at the edge: `aio.reportResult(ret)`,
 *    `ret.throwIfError()` and the convenience Promises turn an error result
 *    into an {@link AioIoError}, shaped like Node's SystemError.
 */
import { getSystemErrorMap, getSystemErrorName } from 'node:util';

/**
 * Every code an {@link AioUsageError} can carry.  The codes are part of the
 * public API: they never change meaning once released.
 */
export const AIO_USAGE_ERROR_CODES = {
  /** An argument has the wrong type (not a buffer, not a number, ...). */
  AIO_ERR_INVALID_TYPE: 'an argument has the wrong type',
  /** A number is out of its range (negative or huge offset, length beyond the buffer, ...). */
  AIO_ERR_OUT_OF_RANGE: 'an argument is out of range',
  /** An option object holds an unknown key or a bad value. */
  AIO_ERR_INVALID_OPTION: 'an option is unknown or has a bad value',
  /** `acquire()` while another handle is handed out and not yet defined or released. */
  AIO_ERR_HANDLE_HANDED_OUT: 'only one IO can be handed out',
  /** An operation on a handle that is not in the state the operation needs. */
  AIO_ERR_HANDLE_STATE: 'the handle is not in the state this operation needs',
  /** Waiting on one's own IO that was never submitted: it could never complete. */
  AIO_ERR_WAIT_UNSUBMITTED: 'waiting on your own unsubmitted IO',
  /** `enterBatchMode()` inside a batch. */
  AIO_ERR_BATCH_NESTED: 'batch mode cannot be nested',
  /** `exitBatchMode()` outside a batch. */
  AIO_ERR_BATCH_NOT_ACTIVE: 'not in batch mode',
  /** A fifth callback on one handle, or the same callback id twice. */
  AIO_ERR_TOO_MANY_CALLBACKS: 'at most 4 callbacks per handle',
  /** A callback id that was never defined. */
  AIO_ERR_UNKNOWN_CALLBACK: 'unknown callback id',
  /** Handle data set twice or longer than allowed. */
  AIO_ERR_HANDLE_DATA: 'handle data can be set once, with at most 128 values',
  /** Any call on a context after `aio.close()` started. */
  AIO_ERR_CLOSED: 'the AIO context is closed',
  /** IO on an `AioFile` that was closed, or that belongs to another context. */
  AIO_ERR_FILE_CLOSED: 'the file is closed',
  /** IO on an `AioFile` that belongs to another context. */
  AIO_ERR_FOREIGN_FILE: 'the file belongs to another AIO context',
  /** No handle is free and nothing is in flight that could free one. */
  AIO_ERR_NO_FREE_HANDLE: 'no free IO handle despite no IO in flight',
  /** A synchronous wait on a method that cannot block for one IO. */
  AIO_ERR_CANNOT_WAIT: 'this method cannot wait synchronously',
  /** An AIO call from inside a completion callback, where IO must not start. */
  AIO_ERR_IN_CALLBACK: 'this call is not allowed inside a completion callback',
  /** The operation (or option, such as direct I/O) is not supported here. */
  AIO_ERR_UNSUPPORTED: 'not supported by this method or platform',
  /** A method could not be created (not installed, probe failed). */
  AIO_ERR_METHOD_UNAVAILABLE: 'the IO method is not available',
  /** A helper's buffer that is not in the state the call needs (a pool page given back twice, a stream buffer not lent). */
  AIO_ERR_BUFFER_STATE: 'the buffer is not in the state this operation needs',
  /** A buffer whose ArrayBuffer was detached (transferred away) before the call: its memory is gone. */
  AIO_ERR_DETACHED: 'the buffer is detached',
  /** A helper call while the previous one has not finished (two concurrent `next()` on one read stream). */
  AIO_ERR_BUSY: 'the previous call on this object has not finished',
} as const;

export type AioUsageErrorCode = keyof typeof AIO_USAGE_ERROR_CODES;

/**
 * Thrown at once when JavaScript misuses the API.  `code` is one of
 * {@link AIO_USAGE_ERROR_CODES}; the message says what was wrong and, where it
 * helps, what to do instead.
 */
export class AioUsageError extends Error {
  readonly code: AioUsageErrorCode;

  constructor(code: AioUsageErrorCode, message: string) {
    super(`${message} [${code}]`);
    this.code = code;
  }
}
Object.defineProperty(AioUsageError.prototype, 'name', { value: 'AioUsageError' });

/** What an {@link AioIoError} is built from. */
export interface AioIoErrorInit {
  /** Node's code ('EIO', 'ENOSPC', ...) or an aio code such as 'AIO_EOF'. */
  code: string;
  /** Negative errno, as Node reports it, when the failure came from the OS. */
  errno?: number;
  /** The system call the IO stands for: read, write, readv, writev, fsync, fdatasync. */
  syscall: string;
  /** The file's path, when known. */
  path?: string;
  /** What the IO was, e.g. `read of 4096 bytes at offset 8192 in file "/x"`. */
  target: string;
  /** The IO method that executed the IO. */
  method: string;
  /** A sentence added after Node's usual message. */
  detail?: string;
  /** The result value the error was raised from. */
  result?: unknown;
  cause?: unknown;
}

/**
 * An IO that failed, raised by the issuer.  It has the fields of Node's
 * SystemError (`code`, `errno`, `syscall`, `path`) so code that handles
 * node:fs errors handles these too, plus the target description and the
 * method name.
 */
export class AioIoError extends Error {
  readonly code: string;
  readonly errno: number | undefined;
  readonly syscall: string;
  readonly path: string | undefined;
  readonly target: string;
  readonly method: string;
  readonly result: unknown;

  constructor(init: AioIoErrorInit) {
    super(formatIoErrorMessage(init), init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.errno = init.errno;
    this.syscall = init.syscall;
    this.path = init.path;
    this.target = init.target;
    this.method = init.method;
    this.result = init.result;
  }
}
Object.defineProperty(AioIoError.prototype, 'name', { value: 'AioIoError' });

/** Node's own wording: `EIO: i/o error, read '/path'`, then our detail. */
function formatIoErrorMessage(init: AioIoErrorInit): string {
  const description = init.errno === undefined ? undefined : systemErrorDescription(init.errno);
  let message = description === undefined ? `${init.code}` : `${init.code}: ${description}`;
  message += `, ${init.syscall}`;
  if (init.path !== undefined) message += ` '${init.path}'`;
  message += ` (${init.detail ?? init.target}; method ${init.method})`;
  return message;
}

let systemErrors: Map<number, [string, string]> | undefined;

/** The libuv description of an errno ("i/o error"), or undefined if unknown. */
export function systemErrorDescription(errno: number): string | undefined {
  systemErrors ??= getSystemErrorMap();
  return systemErrors.get(errno)?.[1];
}

/** Node's name for a negative errno ('EIO'), or `UNKNOWN_<n>`. */
export function systemErrorCode(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `UNKNOWN_${-errno}`;
  }
}

/** Node's errno for a name: `errnoOf('EIO') === -5` on Linux. */
export function errnoOf(code: string): number {
  systemErrors ??= getSystemErrorMap();
  for (const [errno, [name]] of systemErrors) if (name === code) return errno;
  throw new AioUsageError('AIO_ERR_INVALID_OPTION', `unknown errno name ${JSON.stringify(code)}`);
}

/**
 * The error a convenience Promise rejects with when its AbortSignal fired
 * before the IO reached the kernel (or the kernel cancelled it).  It has the
 * name and code Node uses for aborted operations.
 */
export class AioAbortError extends Error {
  readonly code = 'ABORT_ERR';

  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}
Object.defineProperty(AioAbortError.prototype, 'name', { value: 'AbortError' });
