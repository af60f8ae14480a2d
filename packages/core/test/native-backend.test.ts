/**
 * What every native backend package gets from defineNativeMethod: option
 * checks, the addon loader and its reasons, the cached never-throwing probe,
 * and `create()`'s refusals.  The addon is a JavaScript object loaded through
 * the definition's addon path variable, so no native build is involved.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AIO_FLAG_REFERENCES_LOCAL, type AioMethod, type AioMethodHost } from '../src/index.js';
import { defineNativeMethod, nativeCapabilities, nativeOption, type AioNativeBinding, type NativeMethodDefinition } from '../src/method.js';

/** An addon that answers the probe as told and counts its calls. */
class FakeAddon implements AioNativeBinding {
  probes = 0;
  answer: () => { available: boolean; reason: string; code?: string } = () => ({ available: true, reason: 'fake works' });
  createError: Error | undefined;
  created: Readonly<Record<string, unknown>>[] = [];
  probe() {
    this.probes++;
    return this.answer();
  }
  create(options: Readonly<Record<string, unknown>>) {
    if (this.createError !== undefined) throw this.createError;
    this.created.push(options);
    return {};
  }
  submit(): void {}
  poll(): number {
    return 0;
  }
  wait(): number {
    return 0;
  }
  stats() {
    return {};
  }
  close(): void {}
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-native-backend-'));
const addons: FakeAddon[] = [];
(globalThis as { __aioFakeAddons?: FakeAddon[] }).__aioFakeAddons = addons;
const variables: string[] = [];
const made: AioMethod[] = [];

afterEach(() => {
  for (const method of made.splice(0)) method.close();
});
afterAll(() => {
  for (const variable of variables) delete process.env[variable];
  delete (globalThis as { __aioFakeAddons?: FakeAddon[] }).__aioFakeAddons;
  fs.rmSync(dir, { recursive: true, force: true });
});

const OPTIONS = {
  depth: nativeOption.integer(1, 64),
  fast: nativeOption.boolean(),
  mode: nativeOption.oneOf(['a', 'b']),
  table: nativeOption.switchOrInteger(1, 100, 16),
  skip: nativeOption.opMask(),
};

/**
 * A backend over a fresh FakeAddon, loaded as the addon file its own
 * environment variable names (require caches by path, so each backend has
 * its own file).
 */
function backend(overrides: Partial<NativeMethodDefinition<FakeAddon, typeof OPTIONS>> = {}) {
  const addon = new FakeAddon();
  const n = addons.push(addon) - 1;
  const file = path.join(dir, `fake-addon-${n}.cjs`);
  fs.writeFileSync(file, `module.exports = globalThis.__aioFakeAddons[${n}];\n`);
  const variable = `AIO_TEST_FAKE_ADDON_${n}`;
  process.env[variable] = file;
  variables.push(variable);
  const pkg = defineNativeMethod<FakeAddon, typeof OPTIONS>({
    name: 'threadpool',
    packageUrl: import.meta.url,
    addon: 'aio_fake',
    addonPathVariable: variable,
    options: OPTIONS,
    probe: (binding) => binding.probe(),
    context: (_binding, options, context) => ({
      capabilities: nativeCapabilities({ vectored: true, maxDepth: context.maxConcurrency, completesOnOtherThread: true, fileKind: 'fd' }),
      options,
    }),
    ...overrides,
  });
  return { addon, pkg };
}

function create(pkg: ReturnType<typeof backend>['pkg'], options?: unknown): AioMethod {
  const method = pkg.factory(options).create({} as AioMethodHost, { maxConcurrency: 4, options: {} });
  made.push(method);
  return method;
}

describe('native backend packages', () => {
  it('native methods: options are checked at once: unknown names, wrong types, out-of-range numbers and unknown ops are usage errors naming the option', () => {
    const { pkg } = backend();
    const cases: [unknown, RegExp][] = [
      [7, /^threadpool options must be an object, got number 7/],
      [[1], /^threadpool options must be an object, got an array/],
      [null, /^threadpool options must be an object, got null/],
      [{ colour: 1 }, /^unknown threadpool option "colour" \(known: depth, fast, mode, table, skip\)/],
      [{ depth: 0 }, /^threadpool option depth must be an integer from 1 to 64, got number 0/],
      [{ depth: 2.5 }, /depth must be an integer/],
      [{ fast: 'yes' }, /^threadpool option fast must be a boolean, got the string "yes"/],
      [{ mode: 'c' }, /^threadpool option mode must be one of 'a', 'b', got the string "c"/],
      [{ table: 101 }, /^threadpool option table must be an integer from 1 to 100/],
      [{ skip: ['read', 'seek'] }, /^threadpool option skip: unknown op "seek"/],
      [{ skip: ['invalid'] }, /unknown op "invalid"/],
      [{ skip: 'read' }, /skip must be an array of op names/],
    ];
    for (const [options, message] of cases) {
      expect(() => pkg.factory(options), JSON.stringify(options)).toThrow(message);
      expect(() => pkg.factory(options)).toThrow(expect.objectContaining({ code: 'AIO_ERR_INVALID_OPTION' }));
      expect(pkg.probe(options)).toMatchObject({ available: false, code: 'invalid-options', reason: expect.stringMatching(message) });
    }
  });

  it("native methods: a backend may give wrong types and out-of-range numbers the core's own codes", () => {
    const { pkg } = backend({ optionErrorCodes: { type: 'AIO_ERR_INVALID_TYPE', range: 'AIO_ERR_OUT_OF_RANGE' } });
    expect(() => pkg.factory(5)).toThrow(expect.objectContaining({ code: 'AIO_ERR_INVALID_TYPE' }));
    expect(() => pkg.factory({ fast: 1 })).toThrow(expect.objectContaining({ code: 'AIO_ERR_INVALID_TYPE' }));
    expect(() => pkg.factory({ depth: 65 })).toThrow(expect.objectContaining({ code: 'AIO_ERR_OUT_OF_RANGE' }));
    expect(() => pkg.factory({ mode: 'z' })).toThrow(expect.objectContaining({ code: 'AIO_ERR_INVALID_OPTION' }));
    expect(() => pkg.factory({ what: 1 })).toThrow(expect.objectContaining({ code: 'AIO_ERR_INVALID_OPTION' }));
  });

  it('native methods: the options reach the addon as checked (switches as numbers, ops as a bit mask), with the context size', () => {
    const { addon, pkg } = backend();
    create(pkg, { depth: 8, fast: true, mode: 'b', table: true, skip: ['fsync', 'readv'] });
    create(pkg, { table: false });
    expect(addon.created).toEqual([
      { depth: 8, fast: true, mode: 'b', table: 16, skip: (1 << 5) | (1 << 2), maxConcurrency: 4 },
      { table: 0, maxConcurrency: 4 },
    ]);
  });

  it('native methods: the probe runs once per thread and key, and a probe that throws is an unavailable answer, never an exception', () => {
    const { addon, pkg } = backend({ probeKey: (options) => String(options.fast ?? false) });
    expect(pkg.probe()).toBe(pkg.probe());
    expect(pkg.factory().probe()).toBe(pkg.probe());
    expect(pkg.probe({ fast: true })).not.toBe(pkg.probe());
    expect(addon.probes).toBe(2);

    const throwing = backend();
    throwing.addon.answer = () => {
      throw new Error('the kernel said no\nsecond line');
    };
    expect(throwing.pkg.probe()).toEqual({ available: false, reason: 'probe failed: the kernel said no', code: 'probe-failed' });
    expect(() => create(throwing.pkg)).toThrow(
      expect.objectContaining({ code: 'AIO_ERR_METHOD_UNAVAILABLE', message: expect.stringContaining('the threadpool method is not available here: probe failed') }),
    );
  });

  it('native methods: create() refuses with the probe reason, and an addon that cannot create a context gets the method named', () => {
    const refused = backend();
    refused.addon.answer = () => ({ available: false, reason: 'EPERM: blocked by seccomp', code: 'EPERM' });
    expect(() => create(refused.pkg)).toThrow(/the threadpool method is not available here: EPERM: blocked by seccomp/);
    expect(refused.addon.created).toEqual([]);

    const failing = backend();
    failing.addon.createError = Object.assign(new Error('EMFILE: too many open files'), { code: 'AIO_ERR_METHOD_UNAVAILABLE' });
    expect(() => create(failing.pkg)).toThrow(
      expect.objectContaining({ code: 'AIO_ERR_METHOD_UNAVAILABLE', message: expect.stringMatching(/^the threadpool method is not available here: EMFILE/) }),
    );
    failing.addon.createError = new RangeError('maxConcurrency must be at most 1024');
    expect(() => create(failing.pkg)).toThrow(RangeError);
  });

  it('native methods: off its platform the addon is not looked for, and a missing addon is a reason with its code', () => {
    const other = process.platform === 'linux' ? 'freebsd' : 'linux';
    const wrong = backend({ platform: { only: other, reason: (platform) => `fake needs ${other} (this is ${platform})` } });
    expect(wrong.pkg.probe()).toEqual({ available: false, reason: `wrong platform: fake needs ${other} (this is ${process.platform})`, code: 'wrong-platform' });
    expect(wrong.addon.probes).toBe(0);
    expect(() => wrong.pkg.requireBinding()).toThrow(expect.objectContaining({ code: 'AIO_ERR_METHOD_UNAVAILABLE' }));

    const missing = backend({ addonPathVariable: undefined, missingCode: 'not-built' });
    expect(missing.pkg.probe()).toMatchObject({ available: false, code: 'not-built', reason: expect.stringMatching(/^addon failed to load: /) });
    expect(() => create(missing.pkg)).toThrow(expect.objectContaining({ code: 'AIO_ERR_METHOD_UNAVAILABLE' }));
  });

  it('native methods: IO that completes on other threads keeps memory only the issuing thread may touch on that thread', () => {
    const method = create(backend().pkg);
    expect(method.waitOnFileBeforeClose).toBe(true);
    expect(method.needsSynchronousExecution({ flags: AIO_FLAG_REFERENCES_LOCAL } as never)).toBe(true);
    expect(method.needsSynchronousExecution({ flags: 0 } as never)).toBe(false);
    const inline = backend({
      context: (_binding, _options, context) => ({
        capabilities: nativeCapabilities({ vectored: true, maxDepth: context.maxConcurrency, completesOnOtherThread: false, fileKind: 'fd' }),
        options: {},
      }),
    });
    expect(create(inline.pkg).needsSynchronousExecution({ flags: AIO_FLAG_REFERENCES_LOCAL } as never)).toBe(false);
  });
});
