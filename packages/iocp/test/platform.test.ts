/**
 * What the iocp package does off Windows: it is never built there, its
 * probe says "wrong platform", and using it is a clear usage error.  The
 * method itself is tested in the Windows node.exe (test/windows/, run by
 * `pnpm test:windows`).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Aio, AioUsageError } from '@aio/core';
import { iocp, method, methodName, probe } from '../src/index.js';

const onWindows = process.platform === 'win32';

describe.skipIf(onWindows)('iocp off Windows', () => {
  it('iocp: the probe says wrong platform, with the platform in the reason', () => {
    const result = probe();
    expect(result.available).toBe(false);
    expect(result.code).toBe('wrong-platform');
    expect(result.reason).toBe(`wrong platform: iocp needs Windows (this is ${process.platform})`);
    expect(iocp().probe()).toEqual(result);
  });

  it('iocp: creating a context is AIO_ERR_METHOD_UNAVAILABLE with the probe reason', () => {
    expect(() => new Aio({ method: iocp() })).toThrowError(
      expect.objectContaining({ code: 'AIO_ERR_METHOD_UNAVAILABLE', message: expect.stringContaining('wrong platform') }),
    );
  });

  it('iocp: the host build recorded a "wrong platform" skip instead of failing', () => {
    const record = readFileSync(new URL('../build/Release/aio_iocp.skipped', import.meta.url), 'utf8');
    expect(record).toMatch(/^wrong platform: /);
  });
});

describe('iocp everywhere', () => {
  it('iocp: the factory has the method name and `method` is an alias', () => {
    expect(methodName).toBe('iocp');
    expect(iocp().name).toBe('iocp');
    expect(method).toBe(iocp);
  });

  it('iocp: bad options are usage errors at once', () => {
    const bad = [null, 5, { skipCompletionPortOnSuccess: 'yes' }, { reaperThreads: 2 }];
    for (const options of bad) expect(() => iocp(options as never)).toThrowError(AioUsageError);
    expect(probe({ bogus: 1 } as never)).toMatchObject({ available: false });
  });

  it('iocp: native/build.json describes the Windows build in its "windows" section', () => {
    const spec = JSON.parse(readFileSync(new URL('../native/build.json', import.meta.url), 'utf8')) as {
      platforms: string[];
      windows?: { libs?: string[] };
    };
    expect(spec.platforms).toEqual(['win32']);
    expect(spec.windows?.libs).toContain('-lkernel32');
  });
});
