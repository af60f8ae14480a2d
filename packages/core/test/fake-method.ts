/**
 * A scripted IO method for core tests: `submit` keeps IOs in flight until
 * the test completes them (in any order) with `complete(io, raw)` (the IO's
 * view, or its handle: they are matched by index); `waitOne` completes the
 * waited IO with a result chosen by the test.
 */
import type { AioIoView, AioMethod, AioMethodFactory, AioMethodHost } from '../src/index.js';

export class ScriptedMethod implements AioMethod {
  readonly name = 'threadpool' as const;
  readonly capabilities = {
    ops: ['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync'] as const,
    direct: true,
    vectored: true,
    maxDepth: 1024,
    completesOnOtherThread: true,
    fileKind: 'fd' as const,
  };
  readonly waitOnFileBeforeClose = true;
  /** What the method was given: the IOs' views, not their handles. */
  readonly inFlight: AioIoView[] = [];
  readonly submitCalls: number[] = [];
  /** What waitOne completes the waited IO with. */
  waitResult: (io: AioIoView) => number = (io) => io.length;
  closed = false;

  constructor(readonly host: AioMethodHost) {}

  needsSynchronousExecution(): boolean {
    return false;
  }

  submit(ios: readonly AioIoView[], count: number): number {
    this.submitCalls.push(count);
    for (let i = 0; i < count; i++) {
      this.host.prepareSubmit(ios[i]);
      this.inFlight.push(ios[i]);
    }
    return count;
  }

  waitOne(io: AioIoView): void {
    this.complete(io, this.waitResult(io));
  }

  /** Completes one in-flight IO (given by its view or its handle) with `raw`. */
  complete(target: { readonly index: number }, raw: number): void {
    const at = this.inFlight.findIndex((io) => io.index === target.index);
    if (at < 0) throw new Error(`handle ${target.index} is not in flight`);
    const [io] = this.inFlight.splice(at, 1);
    this.host.processCompletion(io, raw);
  }

  close(): void {
    this.closed = true;
  }
}

/** A factory that exposes the method it created. */
export function scripted(): AioMethodFactory & { created?: ScriptedMethod } {
  const factory: AioMethodFactory & { created?: ScriptedMethod } = {
    name: 'threadpool',
    probe: () => ({ available: true, reason: 'test method' }),
    create(host) {
      factory.created = new ScriptedMethod(host);
      return factory.created;
    },
  };
  return factory;
}
