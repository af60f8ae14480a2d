/**
 * The per-test lifecycle shared by the core tests: a fresh temporary
 * directory before each test, and after it the leak check on every context
 * the test made (nothing handed out, staged or in flight), their close and the
 * directory's removal.  What a test file checks beyond that (open file
 * descriptors, injections cleared, contexts the test closed itself) is an
 * option, so that each file keeps checking exactly what it checked before.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { Aio } from '../src/index.js';
import { assertQuiescent, clearInjection } from '../src/testing.js';

export interface TempWorldOptions {
  /** Clear any injection before the leak check (tests that inject faults). */
  clearInjection?: boolean;
  /** A context the test closed itself is only closed again, not leak-checked. */
  allowClosed?: boolean;
  /** Every file descriptor the test opened must be closed after it. */
  checkFds?: boolean;
}

export interface TempWorld {
  /** The current test's directory. */
  readonly dir: string;
  /** The contexts registered in the current test, in the order they were. */
  readonly contexts: readonly Aio[];
  /** Registers a context for the leak check and close after the test; returns it. */
  track(aio: Aio): Aio;
  /** A new file in the test's directory holding `content`. */
  file(content: Buffer): string;
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Registers the per-test setup and checks; call once at the top of a test file. */
export function tempWorld(prefix: string, options: TempWorldOptions = {}): TempWorld {
  let dir = '';
  let contexts: Aio[] = [];
  let fdsBefore = 0;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    contexts = [];
    if (options.checkFds) fdsBefore = openFds();
  });
  afterEach(async () => {
    if (options.clearInjection) clearInjection();
    for (const aio of contexts) {
      if (!(options.allowClosed && aio.closed)) assertQuiescent(aio);
      await aio.close();
    }
    fs.rmSync(dir, { recursive: true, force: true });
    if (options.checkFds) assert.equal(openFds(), fdsBefore, 'every file descriptor the test opened is closed');
  });
  return {
    get dir() {
      return dir;
    },
    get contexts() {
      return contexts;
    },
    track(aio) {
      contexts.push(aio);
      return aio;
    },
    file(content) {
      const file = path.join(dir, `f${fs.readdirSync(dir).length}`);
      fs.writeFileSync(file, content);
      return file;
    },
  };
}
