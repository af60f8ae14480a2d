/**
 * Results, return objects and target descriptions.
 *
 * An IO's outcome is a value.  The raw result (bytes, or -errno) is turned
 * into an {@link AioResult} by the built-in `io` step and then by the
 * handle's callbacks; the final value is what every waiter sees, and the
 * issuer's {@link AioReturn} receives it (after local callbacks) before the
 * handle is reused, together with a copy of the target's description so an
 * error can still be reported after the handle went on to other IO.
 */
import { AioIoError, errnoOf, systemErrorCode } from './errors.js';

// method.js reaches this module again through copies.js (a cycle): AIO_OP is read only inside functions,
// after every module has run, so the live binding is set by then.
import { AIO_OP, type AioOpCode, type AioOpName } from './method.js';

let EFAULT: number | undefined;

/**
 * - `unknown`: not complete yet (the value of a fresh return object);
 * - `ok`: everything asked was done;
 * - `partial`: no error, but fewer bytes than asked (the issuer retries the rest);
 * - `warning`: done, with something to report (set by callbacks);
 * - `error`: failed.
 */
export type AioResultStatus = 'unknown' | 'ok' | 'partial' | 'warning' | 'error';

/**
 * The stable codes the built-in `io` step puts on a result with status
 * `error` (besides Node's errno codes such as `'EIO'`):
 * - `AIO_EOF`: a read (or readv) that asked for bytes found none: the
 *   position is at or past the end of the file;
 * - `AIO_SHORT_WRITE`: a write (or writev) that asked to write bytes wrote none;
 * - `AIO_CALLBACK_FAILED`: a completion callback threw.
 */
export type AioResultCode = 'AIO_EOF' | 'AIO_SHORT_WRITE' | 'AIO_CALLBACK_FAILED';

/**
 * One IO's result.  `result` is bytes transferred for `ok`/`partial`, and for
 * `error` the raw result (-errno, or 0 for a read that found no bytes).
 * `errno` is Node's negative errno when the OS reported one.  `code` says why
 * an `error` is one without building the error: Node's code for an errno
 * (`'ENOENT'`), `AIO_EOF` for a read that found no bytes, `AIO_SHORT_WRITE`,
 * `AIO_CALLBACK_FAILED`; it is undefined for `ok` and `partial`, and it is the
 * same code `toError()` gives.  `id` names the callbacks whose `report`
 * explains the result (0 is the built-in `io` step); `errorData` is that
 * callback's small integer.
 */
export class AioResult {
  status: AioResultStatus = 'unknown';
  result = 0;
  errno: number | undefined = undefined;
  /** Why the result is an error, as a stable code; a callback that rewrites the result may set or clear it. */
  code: string | undefined = undefined;
  id = 0;
  errorData = 0;

  /** Copies every field of `other` into this object. */
  assign(other: Readonly<AioResult>): this {
    this.status = other.status;
    this.result = other.result;
    this.errno = other.errno;
    this.code = other.code;
    this.id = other.id;
    this.errorData = other.errorData;
    return this;
  }

  /** Back to the state of a fresh object. */
  reset(): void {
    this.status = 'unknown';
    this.result = 0;
    this.errno = undefined;
    this.code = undefined;
    this.id = 0;
    this.errorData = 0;
  }
}

/**
 * A copy of what an IO was, kept with its result: enough to describe the IO
 * in an error message long after the handle was reused.  Filled in place
 * (no allocation per IO); `describe()` builds the string only when asked.
 */
export class AioTargetDescription {
  op: AioOpName = 'invalid';
  path: string | undefined = undefined;
  offset = 0;
  length = 0;
  method = '';

  assign(other: Readonly<AioTargetDescription>): void {
    this.op = other.op;
    this.path = other.path;
    this.offset = other.offset;
    this.length = other.length;
    this.method = other.method;
  }

  /** For example `read of 4096 bytes at offset 8192 in file "/data/t1"`. */
  describe(): string {
    return describeIoTarget(this.op, this.path, this.offset, this.length);
  }
}

/**
 * The issuer's return object, passed to `aio.acquire(ret)`.  The core fills
 * `result` (after local callbacks) and `target` when the IO completes, before
 * the handle can be reused.  Reuse one object per in-flight IO slot to avoid
 * allocating per IO.
 */
export class AioReturn {
  readonly result = new AioResult();
  readonly target = new AioTargetDescription();
  /** What a throwing callback threw, kept for the error report. */
  cause: unknown = undefined;
  /** How the result is raised; set by the core from the result's callback id. */
  reporter: AioResultReporter | undefined = undefined;

  /** True once the IO completed (whatever its status). */
  get done(): boolean {
    return this.result.status !== 'unknown';
  }

  /** Throws an {@link AioIoError} if the status is `error`; returns this otherwise. */
  throwIfError(): this {
    if (this.result.status === 'error') throw this.toError();
    return this;
  }

  /** The error this result stands for (whatever its status). */
  toError(): AioIoError {
    const reporter = this.reporter ?? reportIoResult;
    return reporter(this);
  }

  /** Back to the state of a fresh object (the core does this at acquire). */
  reset(): void {
    this.result.reset();
    this.cause = undefined;
    this.reporter = undefined;
  }
}

/** Builds the error for a return object; the `report` callback. */
export type AioResultReporter = (ret: AioReturn) => AioIoError;

/**
 * What an IO is, in words: `read of 4096 bytes at offset 8192 in file "/x"`,
 * `fsync of file "/x"`, `stat of file "/x"`, `truncate of file "/x" to 4096 bytes`.
 */
export function describeIoTarget(op: AioOpName, path: string | undefined, offset: number, length: number): string {
  const where = path === undefined ? 'an unnamed file' : `file ${JSON.stringify(path)}`;
  if (op === 'fsync' || op === 'fdatasync' || op === 'stat') return `${op} of ${where}`;
  if (op === 'truncate') return `truncate of ${where} to ${offset} bytes`;
  return `${op} of ${length} bytes at offset ${offset} in ${where}`;
}

/** The system call an op stands for, in error messages (Node's names: fstat, ftruncate). */
export function syscallOf(op: AioOpName): string {
  switch (op) {
    case 'invalid':
      return 'io';
    case 'stat':
      return 'fstat';
    case 'truncate':
      return 'ftruncate';
    case 'allocate':
      return 'fallocate';
    default:
      return op;
  }
}

/** Whether an op moves bytes (its raw result counts them) rather than reporting 0 or -errno. */
export function movesBytes(op: AioOpName): boolean {
  return op === 'read' || op === 'readv' || op === 'write' || op === 'writev';
}

/**
 * The report of the built-in `io` step: the OS's errno becomes Node's code
 * and message; a read that found no bytes becomes `AIO_EOF`.
 */
export function reportIoResult(ret: AioReturn): AioIoError {
  const { result, target } = ret;
  const errno = result.errno;
  const description = target.describe();
  if (errno !== undefined) {
    const detached = errno === (EFAULT ??= errnoOf('EFAULT')) && (target.op === 'read' || target.op === 'readv');
    return new AioIoError({
      code: systemErrorCode(errno),
      errno,
      syscall: syscallOf(target.op),
      path: target.path,
      target: description,
      method: target.method,
      // The core reports EFAULT when the caller's buffer was detached before the read completed.
      detail: detached ? `the buffer was detached (transferred away) before the ${description} completed; the data read was dropped` : `could not ${description}`,
      result: { ...result },
      cause: ret.cause,
    });
  }
  const isRead = target.op === 'read' || target.op === 'readv';
  const code = ret.cause !== undefined ? 'AIO_CALLBACK_FAILED' : isRead ? 'AIO_EOF' : 'AIO_SHORT_WRITE';
  const detail =
    ret.cause !== undefined
      ? `a completion callback failed for ${description}`
      : `${isRead ? 'read' : 'wrote'} only ${result.result} of ${target.length} bytes: ${description}`;
  return new AioIoError({
    code,
    syscall: syscallOf(target.op),
    path: target.path,
    target: description,
    method: target.method,
    detail,
    result: { ...result },
    cause: ret.cause,
  });
}

/**
 * The built-in `io` step, applied to every raw result before the handle's
 * callbacks: negative is an error with that errno; a sync or file operation
 * (stat, truncate, allocate) that returns 0 or more is `ok`; for reads and writes,
 * zero bytes where bytes were asked is an error (code `AIO_EOF` for a read,
 * `AIO_SHORT_WRITE` for a write) and fewer bytes is partial.
 */
export function encodeRawResult(into: AioResult, op: AioOpName, requested: number, raw: number): void {
  encodeRawResultOf(into, AIO_OP[op], requested, raw);
}

/**
 * {@link encodeRawResult} for an op code: what the core calls per IO (a
 * number compares in one instruction; the op's name would be looked up and
 * compared as strings).
 */
export function encodeRawResultOf(into: AioResult, op: AioOpCode, requested: number, raw: number): void {
  into.id = 0;
  into.errorData = 0;
  if (raw < 0) {
    into.status = 'error';
    into.result = raw;
    into.errno = raw;
    into.code = systemErrorCode(raw);
    return;
  }
  into.errno = undefined;
  into.code = undefined;
  into.result = raw;
  // Ops 1 to 4 (read, readv, write, writev) move bytes; the others report 0 or -errno.
  if (raw === requested || op < 1 || op > 4) {
    into.status = 'ok';
  } else if (raw === 0) {
    // Nothing moved where bytes were asked: for a read the end of the file.
    into.status = 'error';
    into.errorData = requested;
    into.code = op <= 2 ? 'AIO_EOF' : 'AIO_SHORT_WRITE';
  } else {
    into.status = 'partial';
  }
}
