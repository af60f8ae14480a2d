/**
 * The comparison harness: every scenario runs once against node:fs/promises
 * and once against @aio/fs on each IO method, each time in a fresh directory
 * with the same files, and the two observations must be equal: results
 * (values, null prototypes, which buffer came back), errors (class, code,
 * message, errno, syscall, path), whether a call threw synchronously instead
 * of rejecting, and the bytes of every file afterwards.
 */
import * as nodeFs from 'node:fs';
import * as nodeFsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Aio, syncMethod, type AioMethodFactory } from '@aio/core';
import { assertQuiescent } from '@aio/core/testing';
import * as aioFs from '../src/index.js';

/**
 * A FileHandle as the scenarios call it: every argument form of Node 24,
 * including wrong ones on purpose, so the parameters are loose (the
 * @types/node of this repository describes Node 20's narrower forms).
 */
export interface TestHandle {
  readonly fd: number;
  on(event: 'close', listener: () => void): unknown;
  read(...args: unknown[]): Promise<{ bytesRead: number; buffer: Buffer }>;
  write(...args: unknown[]): Promise<{ bytesWritten: number; buffer: Buffer | string }>;
  readv(...args: unknown[]): Promise<{ bytesRead: number; buffers: ArrayBufferView[] }>;
  writev(...args: unknown[]): Promise<{ bytesWritten: number; buffers: ArrayBufferView[] }>;
  readFile(...args: unknown[]): Promise<Buffer>;
  writeFile(...args: unknown[]): Promise<void>;
  appendFile(...args: unknown[]): Promise<void>;
  sync(): Promise<void>;
  datasync(): Promise<void>;
  stat(...args: unknown[]): Promise<nodeFs.Stats>;
  truncate(...args: unknown[]): Promise<void>;
  chmod(...args: unknown[]): Promise<void>;
  utimes(...args: unknown[]): Promise<void>;
  close(): Promise<void>;
}

/** The part of node:fs/promises the scenarios use; @aio/fs provides the same. */
export interface FsApi {
  open(...args: unknown[]): Promise<TestHandle>;
  readFile(...args: unknown[]): Promise<Buffer>;
  writeFile(...args: unknown[]): Promise<void>;
  appendFile(...args: unknown[]): Promise<void>;
}

export const NODE_API = nodeFsp as unknown as FsApi;
export const AIO_API = aioFs as unknown as FsApi;

/** The Node major version running the tests; where Node versions differ, @aio/fs follows the newest (24). */
export const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

export interface Scenario {
  /** A sentence: what node:fs does and @aio/fs must do too. */
  name: string;
  /** Files created in the scenario's directory before it runs (name → contents). */
  files?: Record<string, string | Buffer>;
  /** Runs the scenario; returns what it observed (use `settle` for each call). */
  run(api: FsApi, dir: string): Promise<unknown>;
}

interface MethodUnderTest {
  name: string;
  factory: AioMethodFactory | null;
  reason: string;
}

/**
 * Every method of this repository: sync from @aio/core and the native
 * backends' own factories, each with its live probe.  A backend that is not
 * installed or fails its probe is listed with the reason, and its tests are
 * skipped with that reason in their names.
 */
async function methodsUnderTest(): Promise<MethodUnderTest[]> {
  const methods: MethodUnderTest[] = [{ name: 'sync', factory: syncMethod(), reason: '' }];
  const backends: [string, string, string][] = [
    ['io_uring', '@aio/io-uring', 'ioUring'],
    ['threadpool', '@aio/threadpool', 'threadpool'],
    ['posix_aio', '@aio/posix-aio', 'posixAio'],
  ];
  for (const [name, specifier, exportName] of backends) {
    try {
      const module = (await import(specifier)) as Record<string, () => AioMethodFactory>;
      const factory = module[exportName]();
      const probe = factory.probe();
      methods.push({ name, factory: probe.available ? factory : null, reason: probe.reason });
    } catch (error) {
      methods.push({ name, factory: null, reason: `${specifier} did not load: ${(error as Error).message.split('\n')[0]}` });
    }
  }
  return methods;
}

export const METHODS = await methodsUnderTest();

let scratchRoot: string | undefined;
let scratchCount = 0;

/** A fresh directory holding `files`. */
export function scratchDir(files: Record<string, string | Buffer> = {}): string {
  scratchRoot ??= nodeFs.mkdtempSync(path.join(os.tmpdir(), 'aio-fs-test-'));
  const dir = path.join(scratchRoot, String(scratchCount++));
  nodeFs.mkdirSync(dir);
  for (const [name, contents] of Object.entries(files)) nodeFs.writeFileSync(path.join(dir, name), contents);
  return dir;
}

/** Every file of `dir` (not directories) as hex, so that the bytes on disk are compared too. */
function filesOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of nodeFs.readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (nodeFs.statSync(full).isFile()) out[name] = nodeFs.readFileSync(full).toString('hex');
  }
  return out;
}

/** A value made comparable: buffers as hex, errors by their public fields, objects with their prototype. */
export function normalize(value: unknown, seen = new Set<unknown>()): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (ArrayBuffer.isView(value)) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return `${value.constructor.name}(${value.byteLength}):${bytes.toString('hex')}`;
  }
  if (value instanceof Error) return describeError(value);
  if (value instanceof nodeFs.Stats || value.constructor?.name === 'BigIntStats') {
    const stats = value as nodeFs.Stats;
    return { stats: value.constructor.name, size: normalize(stats.size), isFile: stats.isFile(), mode: normalize(stats.mode) };
  }
  if (Array.isArray(value)) return value.map((item) => normalize(item, seen));
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  const out: Record<string, unknown> = { '[proto]': proto === null ? 'null' : (proto.constructor?.name ?? '?') };
  for (const [key, item] of Object.entries(value)) out[key] = normalize(item, seen);
  return out;
}

function describeError(error: Error): Record<string, unknown> {
  const e = error as Error & { code?: unknown; errno?: unknown; syscall?: unknown; path?: unknown; errors?: unknown[] };
  const out: Record<string, unknown> = {
    class: Object.getPrototypeOf(error)?.constructor?.name,
    name: e.name,
    code: e.code,
    message: e.message,
  };
  if (e.errno !== undefined) out.errno = e.errno;
  if (e.syscall !== undefined) out.syscall = e.syscall;
  if (e.path !== undefined) out.path = String(e.path).replace(/aio-fs-test-[^/]+\/\d+/, '<dir>');
  if (Array.isArray(e.errors)) out.errors = e.errors.map((inner) => normalize(inner));
  return out;
}

/**
 * Calls a Promise-returning function and describes what happened: `{ ok }`
 * with the value, `{ rejected }` with the error, or `{ threw }` if it threw
 * synchronously (which node:fs/promises never does).
 */
export async function settle(call: () => unknown): Promise<unknown> {
  let promise: unknown;
  try {
    promise = call();
  } catch (error) {
    return { threw: normalize(error) };
  }
  if (!(promise instanceof Promise)) return { notAPromise: normalize(promise) };
  try {
    return { ok: normalize(await promise) };
  } catch (error) {
    return { rejected: normalize(error) };
  }
}

/** Messages and paths mention the scenario's directory; both runs use different ones. */
function withoutDir(value: unknown, dir: string): unknown {
  return JSON.parse(JSON.stringify(value, (_key, item: unknown) => (typeof item === 'string' ? item.split(dir).join('<dir>') : item)));
}

async function observe(api: FsApi, scenario: Scenario): Promise<unknown> {
  const dir = scratchDir(scenario.files);
  const result = await scenario.run(api, dir);
  return withoutDir({ result, files: filesOf(dir) }, dir);
}

/**
 * Defines the comparison tests of one feature: for each method, one test per
 * scenario, named "<method>: <scenario>", that runs it on node:fs/promises and
 * on @aio/fs over a context of that method and expects equal observations.
 * The context has 8 handles, fewer than some scenarios keep in flight, so the
 * queueing path is covered too; after each test it must be quiescent.
 */
export function describeParity(feature: string, scenarios: readonly Scenario[]): void {
  describeEachMethod(feature, (method) => {
    for (const scenario of scenarios) {
      it(`${method}: ${scenario.name}`, async () => {
        const expected = await observe(NODE_API, scenario);
        const actual = await observe(AIO_API, scenario);
        expect(actual).toEqual(expected);
      });
    }
  });
}

/** Defines tests that run once per available method with @aio/fs on a context of that method. */
export function describeEachMethod(feature: string, body: (method: string, context: () => Aio) => void): void {
  describe(feature, () => {
    for (const method of METHODS) {
      if (method.factory === null) {
        it.skip(`${method.name}: skipped: ${method.reason}`, () => {});
        continue;
      }
      describe(method.name, () => {
        let aio: Aio;
        beforeAll(() => {
          aio = new Aio({ method: method.factory as AioMethodFactory, maxConcurrency: 8 });
          aioFs.setContext(aio);
        });
        afterEach(() => assertQuiescent(aio));
        afterAll(async () => {
          aioFs.setContext(null);
          await aio.close();
        });
        body(method.name, () => aio);
      });
    }
  });
}

afterAll(() => {
  if (scratchRoot !== undefined) nodeFs.rmSync(scratchRoot, { recursive: true, force: true });
});

export const TEXT = 'The quick brown fox jumps over the lazy dog. 0123456789';

/** Like `settle` for open(): the outcome, and the handle when it opened (the caller closes it). */
export async function settleOpen<H>(call: () => Promise<H>): Promise<{ outcome: unknown; handle: H | null }> {
  let promise: unknown;
  try {
    promise = call();
  } catch (error) {
    return { outcome: { threw: normalize(error) }, handle: null };
  }
  if (!(promise instanceof Promise)) return { outcome: { notAPromise: true }, handle: null };
  try {
    const handle = (await promise) as H;
    return { outcome: 'opened', handle };
  } catch (error) {
    return { outcome: { rejected: normalize(error) }, handle: null };
  }
}

/**
 * Calls each function only after the previous one settled, so that their
 * order on the file is the same in both runs, and returns what each did.
 */
export async function settleEach(calls: readonly (() => unknown)[]): Promise<unknown[]> {
  const out = [];
  for (const call of calls) out.push(await settle(call));
  return out;
}

/**
 * Opens `name` in the scenario's directory with `flags`, runs `body` on the
 * handle and closes it even when `body` throws, so that no scenario leaves a
 * handle open for the quiescence check.
 */
export async function withHandle(
  api: FsApi,
  dir: string,
  flags: string,
  body: (h: TestHandle) => Promise<unknown>,
  name = 'data.txt',
): Promise<unknown> {
  const handle = await api.open(path.join(dir, name), flags);
  try {
    return await body(handle);
  } finally {
    await handle.close();
  }
}

/**
 * The `run` of the most common scenario: open `name` with `flags` and settle,
 * in order, the calls that `calls` makes on the handle.
 */
export function runCalls(flags: string, calls: (h: TestHandle) => (() => unknown)[], name = 'data.txt'): Scenario['run'] {
  return (api, dir) => withHandle(api, dir, flags, (h) => settleEach(calls(h)), name);
}

/**
 * The `run` of a scenario about what one call resolves with: open data.txt
 * with `flags`, make the call on a fresh `given` from `make`, and observe the
 * result and whether its `key` field is `given` itself (node:fs hands the
 * caller's own buffer or array back, not a copy).
 */
export function runGivesBack<T>(flags: string, make: () => T, call: (h: TestHandle, given: T) => Promise<object>, key: string): Scenario['run'] {
  return (api, dir) =>
    withHandle(api, dir, flags, async (h) => {
      const given = make();
      const result = await call(h, given);
      return { result: await settle(async () => result), same: (result as Record<string, unknown>)[key] === given };
    });
}
