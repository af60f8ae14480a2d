/**
 * Errors in node:fs's shapes.
 *
 * A program written against node:fs/promises tests `error.code`, sometimes
 * the class (`TypeError`, `RangeError`) and, in its tests, the message.  So
 * every error this package raises is built the way Node builds it: the same
 * base class, the same `code`, the same message text (Node 24's wording), and
 * for system errors the same `errno`, `code` and `syscall` own properties.
 * The message builders below are written from Node's documented formats;
 * the comparison suite (test/parity.ts, run by every test file) checks them against the
 * real node:fs on every run.
 */
import { getSystemErrorMap, inspect } from 'node:util';

/** Node's errors carry their code as an own, enumerable property, and print it in `toString()`. */
export type NodeStyleError = Error & { code: string };

function withCode<E extends Error>(error: E, code: string): E & { code: string } {
  Object.defineProperty(error, 'toString', {
    value(this: Error) {
      return `${this.name} [${code}]: ${this.message}`;
    },
    enumerable: false,
    writable: true,
    configurable: true,
  });
  return Object.assign(error, { code });
}

/** The primitive types Node names in lower case in ERR_INVALID_ARG_TYPE. */
const PRIMITIVE_TYPES = ['string', 'function', 'number', 'object', 'Function', 'Object', 'boolean', 'bigint', 'symbol'];
const CLASS_NAME = /^([A-Z][a-z0-9]*)+$/;

/** `a`, `a or b`, `a, b, or c`: Node's list wording. */
function formatList(items: readonly string[], word: string): string {
  if (items.length <= 1) return items.join('');
  if (items.length === 2) return `${items[0]} ${word} ${items[1]}`;
  return `${items.slice(0, -1).join(', ')}, ${word} ${items[items.length - 1]}`;
}

/** How Node describes a received value: `type number (5)`, `an instance of Object`, `undefined`. */
export function describeReceived(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'bigint':
      return `type bigint (${value}n)`;
    case 'number':
      if (value === 0) return 1 / value === -Infinity ? 'type number (-0)' : 'type number (0)';
      return `type number (${value})`;
    case 'boolean':
      return `type boolean (${value})`;
    case 'symbol':
      return `type symbol (${String(value)})`;
    case 'function':
      return `function ${value.name}`;
    case 'object': {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      if (typeof name === 'string' && name !== '') return `an instance of ${name}`;
      return inspect(value, { depth: -1 });
    }
    case 'string': {
      const text = value.length > 28 ? `${value.slice(0, 25)}...` : value;
      return text.includes("'") ? `type string (${JSON.stringify(text)})` : `type string ('${text}')`;
    }
    default:
      return `type ${typeof value}`;
  }
}

/** ERR_INVALID_ARG_TYPE (a TypeError): `The "buffer" argument must be ... Received ...`. */
export function invalidArgType(name: string, expected: string | readonly string[], actual: unknown): NodeStyleError {
  const list = typeof expected === 'string' ? [expected] : expected;
  const types: string[] = [];
  const instances: string[] = [];
  const other: string[] = [];
  for (const value of list) {
    if (PRIMITIVE_TYPES.includes(value)) types.push(value.toLowerCase());
    else if (CLASS_NAME.test(value)) instances.push(value);
    else other.push(value);
  }
  if (instances.length > 0) {
    const at = types.indexOf('object');
    if (at !== -1) {
      types.splice(at, 1);
      instances.push('Object');
    }
  }
  let message = name.endsWith(' argument') ? `The ${name} ` : `The "${name}" ${name.includes('.') ? 'property' : 'argument'} `;
  message += 'must be ';
  if (types.length > 0) {
    message += `${types.length > 1 ? 'one of type' : 'of type'} ${formatList(types, 'or')}`;
    if (instances.length > 0 || other.length > 0) message += ' or ';
  }
  if (instances.length > 0) {
    message += `an instance of ${formatList(instances, 'or')}`;
    if (other.length > 0) message += ' or ';
  }
  if (other.length > 0) {
    if (other.length > 1) message += `one of ${formatList(other, 'or')}`;
    else message += `${other[0].toLowerCase() !== other[0] ? 'an ' : ''}${other[0]}`;
  }
  message += `. Received ${describeReceived(actual)}`;
  return withCode(new TypeError(message), 'ERR_INVALID_ARG_TYPE');
}

/** `4_294_967_296`: Node's digit grouping for large numbers in ERR_OUT_OF_RANGE. */
function groupDigits(text: string): string {
  let grouped = '';
  let end = text.length;
  const start = text[0] === '-' ? 1 : 0;
  for (; end >= start + 4; end -= 3) grouped = `_${text.slice(end - 3, end)}${grouped}`;
  return `${text.slice(0, end)}${grouped}`;
}

/** ERR_OUT_OF_RANGE (a RangeError): `The value of "offset" is out of range. It must be >= 0. Received -1`. */
export function outOfRange(name: string, range: string, input: unknown): NodeStyleError {
  let received: string;
  if (Number.isInteger(input) && Math.abs(input as number) > 2 ** 32) {
    received = groupDigits(String(input));
  } else if (typeof input === 'bigint') {
    received = String(input);
    if (input > 2n ** 32n || input < -(2n ** 32n)) received = groupDigits(received);
    received += 'n';
  } else {
    received = inspect(input);
  }
  return withCode(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${received}`), 'ERR_OUT_OF_RANGE');
}

/** ERR_INVALID_ARG_VALUE (a TypeError): `The argument 'flags' is invalid. Received 'q'`. */
export function invalidArgValue(name: string, value: unknown, reason = 'is invalid'): NodeStyleError {
  let inspected = inspect(value);
  if (inspected.length > 128) inspected = `${inspected.slice(0, 128)}...`;
  const kind = name.includes('.') ? 'property' : 'argument';
  return withCode(new TypeError(`The ${kind} '${name}' ${reason}. Received ${inspected}`), 'ERR_INVALID_ARG_VALUE');
}

/** ERR_FS_FILE_TOO_LARGE (a RangeError), from readFile of a file over 2 GiB. */
export function fileTooLarge(size: number): NodeStyleError {
  return withCode(new RangeError(`File size (${size}) is greater than 2 GiB`), 'ERR_FS_FILE_TOO_LARGE');
}

/** ERR_INVALID_STATE (an Error). */
export function invalidState(what: string): NodeStyleError {
  return withCode(new Error(`Invalid state: ${what}`), 'ERR_INVALID_STATE');
}

/**
 * What a FileHandle method rejects with once `close()` was called: a plain
 * Error, message `file closed`, code EBADF, and the name of the operation as
 * `syscall` (node:fs's `fsCall` does exactly this).
 */
export function fileClosedError(syscall: string): Error & { code: 'EBADF'; syscall: string } {
  return Object.assign(new Error('file closed'), { code: 'EBADF' as const, syscall });
}

/** The AbortError node:fs rejects with when a signal is aborted (name AbortError, code ABORT_ERR). */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}
Object.defineProperty(AbortError.prototype, 'name', { value: 'AbortError', configurable: true, writable: true });

let systemErrors: Map<number, [string, string]> | undefined;

/**
 * A libuv error as node:fs reports it for an fd operation: `new Error('EIO:
 * i/o error, read')` with own `errno` (negative), `code` and `syscall`, and no
 * path (node:fs does not know the path of an fd).
 */
export function systemError(errno: number, syscall: string, path?: string): Error & { errno: number; code: string; syscall: string } {
  systemErrors ??= getSystemErrorMap();
  const [code, description] = systemErrors.get(errno) ?? [`Unknown system error ${errno}`, `Unknown system error ${errno}`];
  const message = `${code}: ${description}, ${syscall}${path === undefined ? '' : ` '${path}'`}`;
  const error = Object.assign(new Error(message), { errno, code, syscall });
  if (path !== undefined) Object.assign(error, { path });
  return error;
}
