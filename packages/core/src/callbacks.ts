/**
 * Completion callbacks, named by id (PostgreSQL's `PgAioHandleCallbacks`).
 *
 * Callbacks are defined once per thread with {@link defineAioCallbacks}, which
 * returns a small integer id, and registered on a handle by that id before
 * the IO starts: `handle.registerCallbacks(id, data)`.  At most 4 per handle.
 *
 * All phases run **last registered first**: upper layers register first and
 * pass the handle down, so by the time an upper layer's callback runs, the
 * lower layers' callbacks have already turned the raw result into their
 * terms (bytes into blocks, say).  Before any of them, the built-in `io` step
 * (id 0) encodes the raw result (see `encodeRawResult`).
 *
 * - `stage(handle, data)` runs when the IO is staged, before submission.
 * - `completeShared(handle, prior, data)` runs when the raw result arrives and
 *   returns the transformed result.  Its final value is what every waiter
 *   sees (and `aio.inspect()` shows).
 * - `completeLocal(handle, prior, data)` runs after all shared callbacks, only
 *   for the issuer; its result goes only to the issuer's return object.
 * - `report(ret, data)` turns an error or warning result into an AioIoError,
 *   when the issuer chooses to raise it.
 *
 * Completion callbacks must not start IO and must not throw.  If one throws
 * anyway, the IO's result becomes an error (`id` = that callback's id, the
 * thrown value kept as the return object's `cause`); the completion is never
 * lost and the process never crashes.
 */
import { AioUsageError, type AioIoError } from './errors.js';
import type { AioHandle } from './handle.js';
import type { AioResult, AioReturn } from './result.js';

export interface AioCallbacks {
  /** A name for inspection and messages, e.g. 'buffer-readv'. */
  readonly name: string;
  stage?(handle: AioHandle, data: number): void;
  completeShared?(handle: AioHandle, prior: AioResult, data: number): AioResult;
  completeLocal?(handle: AioHandle, prior: AioResult, data: number): AioResult;
  report?(ret: AioReturn, data: number): AioIoError;
}

/** A callback id, as returned by {@link defineAioCallbacks}. */
export type AioCallbackId = number;

/** The most callbacks one handle can have (PostgreSQL's PGAIO_HANDLE_MAX_CALLBACKS). */
export const AIO_MAX_CALLBACKS_PER_HANDLE = 4;

/** The most callback definitions per thread; ids are 1..255 (0 is the built-in io step). */
export const AIO_MAX_CALLBACK_IDS = 255;

const table: (AioCallbacks | undefined)[] = [undefined];

/**
 * The completion functions of every id, in arrays indexed by id (undefined where
 * a definition has none).  The completion path reads these instead of
 * `callbacks[phase]`: a property load keyed by a phase name is a
 * megamorphic lookup, about 20 ns per IO and callback on Node 20.
 */
export const sharedCallbacks: (AioCallbacks['completeShared'] | undefined)[] = [undefined];
export const localCallbacks: (AioCallbacks['completeLocal'] | undefined)[] = [undefined];

/**
 * Defines a set of callbacks and returns its id.  Throws if neither
 * `completeShared` nor `completeLocal` is given (a callback that never runs
 * at completion has no business on a handle).
 */
export function defineAioCallbacks(callbacks: AioCallbacks): AioCallbackId {
  if (typeof callbacks !== 'object' || callbacks === null || typeof callbacks.name !== 'string') {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', 'callbacks must be an object with a name');
  }
  for (const key of ['stage', 'completeShared', 'completeLocal', 'report'] as const) {
    if (callbacks[key] !== undefined && typeof callbacks[key] !== 'function') {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `callbacks.${key} must be a function`);
    }
  }
  if (callbacks.completeShared === undefined && callbacks.completeLocal === undefined) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', `callbacks ${JSON.stringify(callbacks.name)} need completeShared or completeLocal`);
  }
  if (table.length > AIO_MAX_CALLBACK_IDS) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `at most ${AIO_MAX_CALLBACK_IDS} callback definitions per thread`);
  }
  const frozen = Object.freeze({ ...callbacks });
  table.push(frozen);
  sharedCallbacks.push(frozen.completeShared);
  localCallbacks.push(frozen.completeLocal);
  return table.length - 1;
}

/** The callbacks for an id, or throws AIO_ERR_UNKNOWN_CALLBACK. */
export function callbacksOf(id: unknown): AioCallbacks {
  const callbacks = typeof id === 'number' && Number.isInteger(id) && id > 0 ? table[id] : undefined;
  if (callbacks === undefined) {
    throw new AioUsageError('AIO_ERR_UNKNOWN_CALLBACK', `no callbacks defined with id ${String(id)}`);
  }
  return callbacks;
}

/** The callbacks for an id known to be valid (used on the completion path). */
export function callbacksAt(id: number): AioCallbacks {
  return table[id] as AioCallbacks;
}
