/**
 * @aio/core/testing: the fault-injection point, leak checks and the
 * power-loss simulator (power-loss.ts), for tests.
 *
 * The injection rewrites a completing IO's raw result on any method, as
 * PostgreSQL's test_aio module does at `aio-process-completion-before-shared`.
 */
import { errnoOf } from './errors.js';
import { setInjection, type AioInjection, type AioInjectionInfo } from './injection.js';
import type { Aio } from './aio.js';
import type { AioOpName } from './method.js';

export { setInjection };
export type { AioInjection, AioInjectionInfo };

/** Which completions an injection applies to; all of them by default. */
export interface AioInjectionFilter {
  /** Only these ops. */
  op?: AioOpName | readonly AioOpName[];
  /** Only IO on this path. */
  path?: string;
  /** Only this many completions, then the injection stops matching (default: no limit). */
  times?: number;
}

function matcher(filter: AioInjectionFilter = {}): (info: AioInjectionInfo) => boolean {
  const ops = filter.op === undefined ? undefined : ([] as AioOpName[]).concat(filter.op);
  let remaining = filter.times ?? Infinity;
  return (info) => {
    if (remaining <= 0) return false;
    if (ops !== undefined && !ops.includes(info.op)) return false;
    if (filter.path !== undefined && info.path !== filter.path) return false;
    remaining--;
    return true;
  };
}

/**
 * Makes matching reads return only `bytes` bytes (if they got more); the
 * rest of the buffers is zeroed, so ignoring the short count shows zeroes.
 */
export function injectShortRead(bytes: number, filter: AioInjectionFilter = {}): void {
  const matches = matcher({ op: ['read', 'readv'], ...filter });
  setInjection((info) => (info.raw > bytes && matches(info) ? bytes : undefined));
}

/** Makes matching IOs fail with an errno name such as 'EIO', 'EROFS' or 'ENOSPC'. */
export function injectErrno(code: string, filter: AioInjectionFilter = {}): void {
  const errno = errnoOf(code);
  const matches = matcher(filter);
  setInjection((info) => (matches(info) ? errno : undefined));
}

/** Removes any injection. */
export function clearInjection(): void {
  setInjection(null);
}

/**
 * Throws unless the context is quiet: nothing handed out, staged, queued or
 * in flight, and no handle outside the idle state.
 */
export function assertQuiescent(aio: Aio): void {
  const stats = aio.stats();
  const busy = aio.inspect();
  if (stats.inFlight !== 0 || stats.staged !== 0 || stats.handedOut !== 0 || stats.queued !== 0 || busy.length !== 0) {
    throw new Error(
      `AIO context is not quiescent: ${stats.handedOut} handed out, ${stats.staged} staged, ${stats.inFlight} in flight, ${stats.queued} queued; busy handles: ${JSON.stringify(busy)}`,
    );
  }
}

export { powerLoss } from './power-loss.js';
export type { AioPowerLossOptions, AioPowerLossSimulator, AioCrashState, AioPowerLossWrite, AioPowerLossFate, AioPowerLossRename } from './power-loss.js';
