/**
 * A scripted IO method for core tests: `submit` keeps IOs in flight until
 * the test completes them (in any order) with `complete(handle, raw)`;
 * `waitOne` completes the waited IO with a result chosen by the test.
 */
import type { AioHandle, AioMethod, AioMethodFactory, AioMethodHost } from '../src/index.js';

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
  readonly inFlight: AioHandle[] = [];
  readonly submitCalls: number[] = [];
  /** What waitOne completes the waited IO with. */
  waitResult: (handle: AioHandle) => number = (handle) => handle.length;
  closed = false;

  constructor(readonly host: AioMethodHost) {}

  needsSynchronousExecution(): boolean {
    return false;
  }

  submit(handles: readonly AioHandle[], count: number): number {
    this.submitCalls.push(count);
    for (let i = 0; i < count; i++) {
      this.host.prepareSubmit(handles[i]);
      this.inFlight.push(handles[i]);
    }
    return count;
  }

  waitOne(handle: AioHandle): void {
    this.complete(handle, this.waitResult(handle));
  }

  /** Completes one in-flight IO with `raw`. */
  complete(handle: AioHandle, raw: number): void {
    const at = this.inFlight.indexOf(handle);
    if (at < 0) throw new Error(`handle ${handle.index} is not in flight`);
    this.inFlight.splice(at, 1);
    this.host.processCompletion(handle, raw);
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
