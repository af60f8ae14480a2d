/**
 * An asynchronous IO method for the helpers' tests: the scripted method of
 * `fake-method.ts`, except that it really does the IO (with node:fs, through
 * the host) and completes it by itself on a later turn of the event loop
 * (setImmediate), so reads and writes are in flight for a while, the way
 * they are on io_uring or a thread pool.  `waitOne` completes everything
 * queued at once.  It records how many IOs were in flight at each submit.
 */
import type { AioIoView, AioMethodFactory } from '../src/index.js';
import { ScriptedMethod } from './fake-method.js';

export class DeferredMethod extends ScriptedMethod {
  /** The most IOs in flight right after a submit. */
  peakInFlight = 0;
  /** The op of every submitted IO with the number in flight before it, in order. */
  readonly submitted: { op: string; inFlightBefore: number }[] = [];
  #scheduled = false;

  override submit(ios: readonly AioIoView[], count: number): number {
    for (let i = 0; i < count; i++) this.submitted.push({ op: ios[i].opName, inFlightBefore: this.inFlight.length + i });
    super.submit(ios, count);
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight.length);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.completeAll();
      });
    }
    return count;
  }

  override waitOne(): void {
    this.completeAll();
  }

  /** Runs and completes the IOs queued now, oldest first. */
  completeAll(): void {
    for (let n = this.inFlight.length; n > 0 && this.inFlight.length > 0; n--) {
      const io = this.inFlight[0];
      this.complete(io, this.host.executeSynchronously(io));
    }
  }
}

/** A factory for the deferred method that exposes the method it created. */
export function deferred(): AioMethodFactory & { created?: DeferredMethod } {
  const factory: AioMethodFactory & { created?: DeferredMethod } = {
    name: 'threadpool',
    probe: () => ({ available: true, reason: 'test method' }),
    create(host) {
      factory.created = new DeferredMethod(host);
      return factory.created;
    },
  };
  return factory;
}
