/**
 * The selector's decisions, in process, over fake packages: which method is
 * chosen, the reason for every skipped one, forcing, probe caching.  The
 * tests in installed-subset.test.ts do the same through real module
 * resolution in child processes.
 */
import { describe, expect, it } from 'vitest';
import { Aio, AioUsageError, syncMethod, type AioMethodFactory, type AioMethodName, type AioProbeResult } from '@aio/core';
import { Selector, type PackageLoader } from '../src/selector.js';
import { adviceFor } from '../src/advice.js';
import { catalogEntry } from '../src/catalog.js';

interface FakeBackend {
  readonly module: { method: (options?: unknown) => AioMethodFactory };
  /** How many times the probe ran. */
  probes: number;
  /** The options each `method()` call received. */
  readonly options: unknown[];
}

/** A backend package whose probe answers `result`; its method runs IO like the sync method. */
function fakeBackend(name: AioMethodName, result: AioProbeResult | (() => AioProbeResult)): FakeBackend {
  const fake: FakeBackend = {
    probes: 0,
    options: [],
    module: {
      method(options?: unknown): AioMethodFactory {
        fake.options.push(options);
        return {
          name,
          probe() {
            fake.probes++;
            return typeof result === 'function' ? result() : result;
          },
          create(host, context) {
            const inner = syncMethod().create(host, context);
            return {
              name,
              capabilities: { ...inner.capabilities, maxDepth: 7 },
              waitOnFileBeforeClose: false,
              needsSynchronousExecution: () => true,
              submit: (handles, count) => inner.submit(handles, count),
              close: () => inner.close(),
            };
          },
        };
      },
    },
  };
  return fake;
}

const AVAILABLE: AioProbeResult = { available: true, reason: 'works here' };

/** A loader over fake modules: a missing key is "not installed", an Error value fails the import. */
function fakeLoader(modules: Readonly<Record<string, unknown>>): PackageLoader & { imported: string[] } {
  const imported: string[] = [];
  return {
    imported,
    async import(specifier) {
      imported.push(specifier);
      if (!(specifier in modules)) {
        throw Object.assign(new Error(`Cannot find package '${specifier}' imported from /app/node_modules/@aio/auto/dist/selector.js`), {
          code: 'ERR_MODULE_NOT_FOUND',
        });
      }
      const value = modules[specifier];
      if (value instanceof Error) throw value;
      return value;
    },
    version: (specifier) => (specifier in modules ? '9.9.9' : undefined),
  };
}

const NO_ENV: NodeJS.ProcessEnv = {};

describe('selector: choosing', () => {
  it('selector: with no backend installed the libuv method (in @aio/core) is chosen and every better method is skipped with a reason', async () => {
    const selector = new Selector(fakeLoader({}), 'linux', 'x64');
    const choice = await selector.choose({}, NO_ENV);
    expect(choice.name).toBe('libuv');
    expect(choice.forced).toBe(false);
    expect(choice.skipped.map((skipped) => [skipped.name, skipped.reason])).toEqual([
      ['io_uring', 'not installed (npm i @aio/io-uring)'],
      ['iocp', 'wrong platform: iocp needs Windows (this is linux x64)'],
      ['kqueue', 'wrong platform: kqueue needs FreeBSD (this is linux x64)'],
      ['posix_aio', 'not installed (npm i @aio/posix-aio)'],
      ['threadpool', 'not installed (npm i @aio/threadpool)'],
    ]);
  });

  it('selector: the first available method in the order of preference is chosen and the later ones are not probed', async () => {
    const uring = fakeBackend('io_uring', { available: false, reason: 'EPERM: blocked by seccomp', code: 'EPERM' });
    const posix = fakeBackend('posix_aio', AVAILABLE);
    const pool = fakeBackend('threadpool', AVAILABLE);
    const loader = fakeLoader({ '@aio/io-uring': uring.module, '@aio/posix-aio': posix.module, '@aio/threadpool': pool.module });
    const selector = new Selector(loader, 'linux', 'x64');
    const choice = await selector.choose({}, NO_ENV);
    expect(choice.name).toBe('posix_aio');
    expect(choice.skipped.find((skipped) => skipped.name === 'io_uring')).toMatchObject({
      reason: 'EPERM: blocked by seccomp',
      code: 'EPERM',
      installed: true,
    });
    expect(pool.probes).toBe(0);
    expect(loader.imported).not.toContain('@aio/threadpool');
  });

  it('selector: the chosen factory creates a working Aio context on that method', async () => {
    const pool = fakeBackend('threadpool', AVAILABLE);
    const selector = new Selector(fakeLoader({ '@aio/threadpool': pool.module }), 'linux', 'x64');
    const choice = await selector.choose({}, NO_ENV);
    const aio = new Aio({ method: choice.factory });
    expect(aio.methodName).toBe('threadpool');
    await aio.close();
  });

  it('selector: method options reach the package and a separate probe runs per distinct options', async () => {
    const uring = fakeBackend('io_uring', AVAILABLE);
    const selector = new Selector(fakeLoader({ '@aio/io-uring': uring.module }), 'linux', 'x64');
    await selector.choose({ methodOptions: { io_uring: { sqpoll: true } } }, NO_ENV);
    await selector.choose({ methodOptions: { io_uring: { sqpoll: true } } }, NO_ENV);
    await selector.choose({}, NO_ENV);
    expect(uring.options).toEqual([{ sqpoll: true }, undefined]);
    expect(uring.probes).toBe(2);
  });

  it('selector: a methodOptions key that is not a method is a usage error', async () => {
    const selector = new Selector(fakeLoader({}), 'linux', 'x64');
    const options = { methodOptions: { uring: {} } } as unknown as Parameters<Selector['choose']>[0];
    await expect(selector.choose(options, NO_ENV)).rejects.toMatchObject({ code: 'AIO_ERR_INVALID_OPTION' });
  });
});

describe('selector: reasons', () => {
  it('selector: a package that fails to import is installed but skipped with "addon failed to load: <error>"', async () => {
    const broken = new Error('/app/node_modules/@aio/io-uring/build/Release/io_uring.node: invalid ELF header\n    at more lines');
    const selector = new Selector(fakeLoader({ '@aio/io-uring': broken }), 'linux', 'x64');
    const [uring] = await selector.list();
    expect(uring).toMatchObject({
      name: 'io_uring',
      installed: true,
      available: false,
      code: 'load-failed',
      reason: 'addon failed to load: /app/node_modules/@aio/io-uring/build/Release/io_uring.node: invalid ELF header',
    });
    expect(uring.advice).toContain('reinstall @aio/io-uring on this machine');
  });

  it('selector: probe reasons are shown verbatim, with the probe details', async () => {
    const reasons = [
      'EPERM: io_uring disabled by kernel.io_uring_disabled=2',
      'EPERM: blocked by seccomp',
      'ENOSYS: kernel has no io_uring',
      'ENOMEM: RLIMIT_MEMLOCK too low',
    ];
    for (const reason of reasons) {
      const uring = fakeBackend('io_uring', { available: false, reason, code: reason.slice(0, reason.indexOf(':')), details: { kernel: '6.1' } });
      const selector = new Selector(fakeLoader({ '@aio/io-uring': uring.module }), 'linux', 'x64');
      const [listing] = await selector.list();
      expect(listing).toMatchObject({ installed: true, available: false, reason, details: { kernel: '6.1' } });
      expect(listing.advice).toBeTypeOf('string');
      expect(listing.factory).toBeUndefined();
    }
  });

  it('selector: a probe that throws makes its method unavailable instead of failing the selection', async () => {
    const uring = fakeBackend('io_uring', () => {
      throw new Error('boom');
    });
    const selector = new Selector(fakeLoader({ '@aio/io-uring': uring.module }), 'linux', 'x64');
    const choice = await selector.choose({}, NO_ENV);
    expect(choice.name).toBe('libuv');
    expect(choice.skipped[0]).toMatchObject({ name: 'io_uring', reason: 'probe threw: boom', code: 'probe-threw' });
  });

  it('selector: a package without a method() export, or with the wrong method in it, is skipped with the reason', async () => {
    const wrong = fakeBackend('threadpool', AVAILABLE);
    const selector = new Selector(fakeLoader({ '@aio/io-uring': { probe: () => AVAILABLE }, '@aio/posix-aio': wrong.module }), 'linux', 'x64');
    const listings = await selector.list();
    expect(listings[0]).toMatchObject({ available: false, reason: '@aio/io-uring has no method() export' });
    expect(listings[3]).toMatchObject({ available: false, reason: '@aio/posix-aio provides "threadpool", not a posix_aio method factory' });
  });

  it('selector: an installed package answers for itself even on a platform the catalog does not list', async () => {
    const kqueue = fakeBackend('kqueue', { available: false, reason: 'wrong platform: kqueue needs FreeBSD', code: 'wrong-platform' });
    const selector = new Selector(fakeLoader({ '@aio/kqueue': kqueue.module }), 'linux', 'x64');
    const listing = (await selector.list())[2];
    expect(listing).toMatchObject({ installed: true, available: false, reason: 'wrong platform: kqueue needs FreeBSD', version: '9.9.9' });
    expect(kqueue.probes).toBe(1);
  });

  it('selector: on Windows a missing iocp package is "not installed" and io_uring is "wrong platform"', async () => {
    const selector = new Selector(fakeLoader({}), 'win32', 'x64');
    const listings = await selector.list();
    expect(listings[0].reason).toBe('wrong platform: io_uring needs Linux (this is win32 x64)');
    expect(listings[1].reason).toBe('not installed (npm i @aio/iocp)');
    expect(listings[1].advice).toBe('npm i @aio/iocp');
  });

  it('selector: listing with capabilities fills them from a short-lived context of each available method', async () => {
    const pool = fakeBackend('threadpool', AVAILABLE);
    const selector = new Selector(fakeLoader({ '@aio/threadpool': pool.module }), 'linux', 'x64');
    const listings = await selector.list({ capabilities: true });
    expect(listings[4].capabilities?.maxDepth).toBe(7);
    // libuv keeps every handle of the context in flight (64 by default); sync never more than one.
    expect(listings[5]).toMatchObject({ name: 'libuv', capabilities: { maxDepth: 64, completesOnOtherThread: true } });
    expect(listings[6]).toMatchObject({ name: 'sync', capabilities: { maxDepth: 1 } });
    expect(listings[0].capabilities).toBeUndefined();
  });
});

describe('selector: probe cache', () => {
  it('selector: probes run once per selector, even for concurrent callers', async () => {
    const uring = fakeBackend('io_uring', { available: false, reason: 'ENOSYS: kernel has no io_uring', code: 'ENOSYS' });
    const pool = fakeBackend('threadpool', AVAILABLE);
    const loader = fakeLoader({ '@aio/io-uring': uring.module, '@aio/threadpool': pool.module });
    const selector = new Selector(loader, 'linux', 'x64');
    await Promise.all([selector.list(), selector.choose({}, NO_ENV), selector.list(), selector.choose({}, NO_ENV)]);
    await selector.list();
    expect(uring.probes).toBe(1);
    expect(pool.probes).toBe(1);
    expect(loader.imported.filter((specifier) => specifier === '@aio/io-uring')).toHaveLength(1);
  });

  it('selector: callers get copies, so changing a listing does not change the cache', async () => {
    const selector = new Selector(fakeLoader({}), 'linux', 'x64');
    const first = await selector.list();
    (first[0] as { reason: string }).reason = 'changed';
    expect((await selector.list())[0].reason).toBe('not installed (npm i @aio/io-uring)');
  });
});

describe('selector: forcing a method', () => {
  const uring = fakeBackend('io_uring', { available: false, reason: 'EPERM: io_uring disabled by kernel.io_uring_disabled=2', code: 'EPERM' });
  const pool = fakeBackend('threadpool', AVAILABLE);
  const modules = { '@aio/io-uring': uring.module, '@aio/threadpool': pool.module };

  it('selector: AIO_METHOD forces an available method, even a worse one', async () => {
    const choice = await new Selector(fakeLoader(modules), 'linux', 'x64').choose({}, { AIO_METHOD: 'sync' });
    expect(choice).toMatchObject({ name: 'sync', forced: true, skipped: [] });
  });

  it('selector: options.method wins over AIO_METHOD, and "auto" or an empty AIO_METHOD lets the selector choose', async () => {
    const selector = new Selector(fakeLoader(modules), 'linux', 'x64');
    expect((await selector.choose({ method: 'threadpool' }, { AIO_METHOD: 'sync' })).name).toBe('threadpool');
    expect((await selector.choose({ method: 'auto' }, { AIO_METHOD: 'sync' })).forced).toBe(false);
    expect((await selector.choose({}, { AIO_METHOD: 'auto' })).name).toBe('threadpool');
    expect((await selector.choose({}, { AIO_METHOD: ' ' })).name).toBe('threadpool');
  });

  it('selector: a forced method that fails its probe is an AIO_ERR_METHOD_UNAVAILABLE error with the reason and what to do', async () => {
    const selector = new Selector(fakeLoader(modules), 'linux', 'x64');
    const error = await selector.choose({}, { AIO_METHOD: 'io_uring' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AioUsageError);
    expect(error).toMatchObject({ code: 'AIO_ERR_METHOD_UNAVAILABLE' });
    const message = (error as Error).message;
    expect(message).toContain('AIO_METHOD=io_uring asks for the io_uring method, but it cannot be used here: EPERM: io_uring disabled by kernel.io_uring_disabled=2');
    expect(message).toContain('sysctl -w kernel.io_uring_disabled=0');
    expect(message).toContain('unset AIO_METHOD to let @aio/auto choose (it would choose threadpool)');
  });

  it('selector: a forced method that is not installed says which package to install', async () => {
    const selector = new Selector(fakeLoader(modules), 'linux', 'x64');
    await expect(selector.choose({ method: 'posix_aio' }, NO_ENV)).rejects.toThrow(
      /options\.method "posix_aio" asks for the posix_aio method, but it cannot be used here: not installed \(npm i @aio\/posix-aio\)\. What to do: npm i @aio\/posix-aio\. Or leave out options\.method/,
    );
  });

  it('selector: a name that is not a method is an AIO_ERR_INVALID_OPTION error listing every method', async () => {
    const selector = new Selector(fakeLoader(modules), 'linux', 'x64');
    const error = await selector.choose({}, { AIO_METHOD: 'bogus' }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'AIO_ERR_INVALID_OPTION' });
    expect((error as Error).message).toContain('AIO_METHOD=bogus is not an IO method; the methods are io_uring, iocp, kqueue, posix_aio, threadpool, libuv, sync');
  });
});

describe('selector: advice', () => {
  // The decision table of README.md, row by row: reason → what to do.
  const rows: Array<[AioMethodName, string | undefined, string, RegExp]> = [
    ['io_uring', 'not-installed', 'not installed (npm i @aio/io-uring)', /^npm i @aio\/io-uring$/],
    ['iocp', 'wrong-platform', 'wrong platform: iocp needs Windows (this is linux x64)', /^nothing to do/],
    ['io_uring', 'EPERM', 'EPERM: io_uring disabled by kernel.io_uring_disabled=2', /sysctl -w kernel\.io_uring_disabled=0/],
    ['io_uring', 'EPERM', 'EPERM: io_uring disabled by kernel.io_uring_disabled=1 (not in kernel.io_uring_group)', /io_uring_group/],
    ['io_uring', 'EPERM', 'EPERM: blocked by seccomp', /seccomp.*io_uring_setup/],
    ['io_uring', 'ENOSYS', 'ENOSYS: kernel has no io_uring', /kernel has no io_uring/],
    ['io_uring', 'ENOMEM', 'ENOMEM: RLIMIT_MEMLOCK too low', /ulimit -l/],
    ['io_uring', 'EMFILE', 'EMFILE: too many open files', /ulimit -n/],
    ['io_uring', undefined, 'addon not built: liburing.h not found', /pnpm --filter @aio\/io-uring build/],
    ['threadpool', 'load-failed', 'addon failed to load: libfoo.so: cannot open shared object file', /^reinstall @aio\/threadpool on this machine/],
    [
      'threadpool',
      'not-installed',
      'addon failed to load from @aio/threadpool-linux-x64-gnu: /lib/libc.so.6: version `GLIBC_2.34\' not found (this binary needs glibc >=2.34; this system\'s is older)',
      /^the prebuilt binary needs glibc >=2\.34/,
    ],
    [
      'io_uring',
      'not-installed',
      'binary installed for another platform: this is linux x64 glibc and needs @aio/io-uring-linux-x64-gnu, but only @aio/io-uring-linux-x64-musl@0.2.0 (for linux x64 musl) is installed; fix: npm install --os=linux --cpu=x64 --libc=glibc @aio/io-uring@0.2.0',
      /^npm install --os=linux --cpu=x64 --libc=glibc @aio\/io-uring@0\.2\.0$/,
    ],
    [
      'threadpool',
      'not-installed',
      "no binary for this platform: @aio/threadpool-darwin-arm64 is not installed (none of @aio/threadpool's platform packages is; were optional dependencies omitted, or the lockfile written on another platform?); fix: npm install --os=darwin --cpu=arm64 @aio/threadpool@0.2.0",
      /^npm install --os=darwin --cpu=arm64 @aio\/threadpool@0\.2\.0$/,
    ],
    ['posix_aio', 'not-installed', 'no prebuilt binary for linux-riscv64-gnu (linux riscv64 glibc): @aio/posix-aio 0.2.0 has platform packages for linux-x64-gnu only', /^nothing to install/],
    ['io_uring', 'probe-threw', 'probe threw: boom', /report this as a bug/],
  ];
  for (const [name, code, reason, advice] of rows) {
    it(`selector: "${reason}" comes with advice matching ${advice}`, () => {
      expect(adviceFor(catalogEntry(name), code, reason)).toMatch(advice);
    });
  }
});
