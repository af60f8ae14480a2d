/**
 * The world of one helper test: a temporary directory and the contexts the
 * test creates, on the `sync` method or the deferred one.  After each test
 * every context must be quiet (nothing handed out, staged or in flight: the
 * helpers leak nothing), then it is closed and the directory removed.
 */
import { Aio, syncMethod } from '../src/index.js';
import { deferred, type DeferredMethod } from './deferred-method.js';
import { tempWorld } from './temp-world.js';

export type MethodKind = 'sync' | 'deferred';

export interface HelperWorld {
  /** A new context; `method` is the deferred method's object, for its counters. */
  context(kind: MethodKind, maxConcurrency?: number): { aio: Aio; method?: DeferredMethod };
  /** A new file in the test's directory holding `content`. */
  file(content: Buffer): string;
}

/** Registers the per-test setup and leak check; call once at the top of a test file. */
export function helperWorld(prefix: string): HelperWorld {
  const world = tempWorld(prefix, { clearInjection: true });
  return {
    context(kind, maxConcurrency = 64) {
      const factory = kind === 'sync' ? syncMethod() : deferred();
      const aio = world.track(new Aio({ method: factory, maxConcurrency }));
      return { aio, method: (factory as { created?: DeferredMethod }).created };
    },
    file: (content) => world.file(content),
  };
}
