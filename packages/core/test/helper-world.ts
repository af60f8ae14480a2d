/**
 * The world of one helper test: a temporary directory and the contexts the
 * test creates, on the `sync` method or the deferred one.  After each test
 * every context must be quiet (nothing handed out, staged or in flight: the
 * helpers leak nothing), then it is closed and the directory removed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { Aio, syncMethod } from '../src/index.js';
import { assertQuiescent, clearInjection } from '../src/testing.js';
import { deferred, type DeferredMethod } from './deferred-method.js';

export type MethodKind = 'sync' | 'deferred';

export interface HelperWorld {
  /** A new context; `method` is the deferred method's object, for its counters. */
  context(kind: MethodKind, maxConcurrency?: number): { aio: Aio; method?: DeferredMethod };
  /** A new file in the test's directory holding `content`. */
  file(content: Buffer): string;
}

/** Registers the per-test setup and leak check; call once at the top of a test file. */
export function helperWorld(prefix: string): HelperWorld {
  let dir = '';
  let contexts: Aio[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    contexts = [];
  });
  afterEach(async () => {
    clearInjection();
    for (const aio of contexts) {
      assertQuiescent(aio);
      await aio.close();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    context(kind, maxConcurrency = 64) {
      const factory = kind === 'sync' ? syncMethod() : deferred();
      const aio = new Aio({ method: factory, maxConcurrency });
      contexts.push(aio);
      return { aio, method: (factory as { created?: DeferredMethod }).created };
    },
    file(content) {
      const file = path.join(dir, `f${fs.readdirSync(dir).length}`);
      fs.writeFileSync(file, content);
      return file;
    },
  };
}
