/**
 * @aio/threadpool/testing: hooks for tests, never for production code.
 *
 * Pausing holds every IO that reaches the pool in its queue (workers finish
 * what they run and take nothing new), so a test can observe queued IO:
 * cancellation of a queued IO, the queue-full fallback.  The pool is
 * process-wide: a paused pool stalls every context of every thread until
 * {@link resumeWorkers}, and a synchronous wait (`ref.waitSync()`, a blocking
 * `acquire()`) on a queued IO never returns while it is paused.
 */
import { loadBinding, poolInfo, type ThreadpoolInfo } from './index.js';

function binding() {
  const addon = loadBinding();
  if (!('binding' in addon)) throw new Error(`threadpool addon unavailable: ${addon.reason}`);
  return addon.binding;
}

/** Workers take no new IO until {@link resumeWorkers}. */
export function pauseWorkers(): void {
  binding().setPaused(true);
}

/** Workers take queued IO again. */
export function resumeWorkers(): void {
  binding().setPaused(false);
}

export { poolInfo };
export type { ThreadpoolInfo };
