/**
 * A fresh world for each case: a temporary directory on a real disk, the
 * contexts the case creates, and the leak check that runs after it.
 *
 * The leak check (PostgreSQL warns "leaked AIO handle"; liburing scans dmesg
 * after each test) fails the case if, when it ends, any context it created
 * still has a handle handed out, IO staged, queued or in flight, or if the
 * process has a different number of open file descriptors than before.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Aio, syncMethod, type AioOptions } from '@aio/core';
import { assertQuiescent, clearInjection } from '@aio/core/testing';
import { SkipCase, announceSkip, type CaseContext, type Harness } from './harness.js';
import type { MethodUnderTest } from './methods.js';
import { pattern } from './util.js';

/** Open file descriptors of this process, where the OS lets us count them. */
export function openFdCount(): number | undefined {
  // Windows has no /proc.  Under Wine, Windows Node does find one (Z:\proc
  // is the Unix /proc), but /proc/self/fd there lists Wine's own Unix
  // descriptors, whose number changes with Wine's internal caching rather
  // than with the program's files: not a count of the process's handles.
  if (process.platform === 'win32') return undefined;
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/** The directory cases put files in: the OS temp dir, or AIO_CONFORMANCE_DIR. */
export function baseDir(): string {
  return process.env.AIO_CONFORMANCE_DIR ?? os.tmpdir();
}

/** The filesystem type of `dir` on Linux (from /proc/mounts), or undefined elsewhere. */
export function filesystemOf(dir: string): string | undefined {
  let mounts: string;
  try {
    mounts = fs.readFileSync('/proc/mounts', 'utf8');
  } catch {
    return undefined;
  }
  const real = fs.realpathSync(dir);
  let best = { point: '', type: undefined as string | undefined };
  for (const line of mounts.split('\n')) {
    const [, point, type] = line.split(' ');
    if (point === undefined) continue;
    const within = real === point || real.startsWith(point.endsWith('/') ? point : `${point}/`);
    if (within && point.length >= best.point.length) best = { point, type };
  }
  return best.type;
}

export class Fixture {
  readonly dir: string;
  readonly method: MethodUnderTest;
  readonly #contexts: Aio[] = [];
  #files = 0;

  constructor(method: MethodUnderTest) {
    this.method = method;
    this.dir = fs.mkdtempSync(path.join(baseDir(), `aio-${method.name}-`));
  }

  /** A context on the method under test; closed (after the leak check) when the case ends. */
  aio(options: Omit<AioOptions, 'method'> = {}): Aio {
    const aio = new Aio({ ...options, method: this.method.factory });
    this.#contexts.push(aio);
    return aio;
  }

  /** A context on the sync method: the oracle. */
  oracle(options: Omit<AioOptions, 'method'> = {}): Aio {
    const aio = new Aio({ ...options, method: syncMethod() });
    this.#contexts.push(aio);
    return aio;
  }

  /** A new file path in the case's directory, created with `content` (bytes, or a size for a pattern) if given. */
  path(content?: Uint8Array | number, seed = 1): string {
    const file = path.join(this.dir, `f${this.#files++}`);
    if (content !== undefined) fs.writeFileSync(file, typeof content === 'number' ? pattern(content, seed) : content);
    return file;
  }

  /** The whole content of a file. */
  read(file: string): Buffer {
    return fs.readFileSync(file);
  }

  /** Checks for leaks, closes every context, removes the directory. */
  async dispose(failed: boolean): Promise<void> {
    clearInjection();
    const problems: string[] = [];
    for (const aio of this.#contexts) {
      if (aio.closed) continue;
      try {
        assertQuiescent(aio);
      } catch (error) {
        problems.push((error as Error).message);
      }
      await aio.close();
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (!failed && problems.length > 0) assert.fail(`leak check: ${problems.join('; ')}`);
  }
}

/**
 * Defines one case for a method: the name is "<method>: <behaviour>"; a
 * method that cannot run here skips every case with its reason; the fixture
 * and the leak check (including the open-fd count) wrap the body.
 */
export function defineCase(
  harness: Harness,
  method: MethodUnderTest,
  behaviour: string,
  body: (fx: Fixture, context: CaseContext) => Promise<void>,
  timeoutMs?: number,
): void {
  const name = `${method.name}: ${behaviour}`;
  harness.test(
    name,
    async (context) => {
      if (method.skip !== undefined) context.skip(method.skip);
      const fdsBefore = openFdCount();
      const fx = new Fixture(method);
      let failed = true;
      try {
        await body(fx, context);
        failed = false;
      } catch (error) {
        if (error instanceof SkipCase) failed = false;
        throw error;
      } finally {
        await fx.dispose(failed);
      }
      const fdsAfter = openFdCount();
      if (fdsBefore !== undefined && fdsAfter !== undefined) {
        assert.equal(fdsAfter, fdsBefore, `leak check: open file descriptors went from ${fdsBefore} to ${fdsAfter}`);
      }
    },
    timeoutMs,
  );
}

const announced = new Set<string>();

/**
 * For harness adapters: turns a CaseContext.skip into the runner's skip.
 * The reason is printed once per method and reason (a method that cannot run
 * here would otherwise print the same line for every case).
 */
export function skipper(name: string, runnerSkip: (reason: string) => void): CaseContext {
  return {
    skip(reason: string): never {
      const method = name.split(':')[0];
      const key = `${method}\0${reason}`;
      if (!announced.has(key)) {
        announced.add(key);
        announceSkip(name, reason);
      }
      runnerSkip(reason);
      throw new SkipCase(reason);
    },
  };
}
