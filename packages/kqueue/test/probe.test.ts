import { describe, expect, it } from 'vitest';
import { Aio, AioUsageError } from '@aio/core';
import { kqueue, method, methodName, probe } from '../src/index.js';

const onFreeBSD = process.platform === 'freebsd';

describe('kqueue: probe and factory', () => {
  it('kqueue: the package exports the method name, the factory and its alias', () => {
    expect(methodName).toBe('kqueue');
    expect(method).toBe(kqueue);
    expect(kqueue().name).toBe('kqueue');
  });

  it(`kqueue: the probe says wrong platform on ${process.platform}`, (ctx) => {
    if (onFreeBSD) return ctx.skip('this is FreeBSD: see freebsd.test.ts');
    const result = probe();
    expect(result.available).toBe(false);
    expect(result.code).toBe('wrong-platform');
    expect(result.reason).toMatch(/^wrong platform: .*FreeBSD/);
    expect(kqueue().probe()).toEqual(result);
  });

  it('kqueue: creating a context off FreeBSD throws AIO_ERR_METHOD_UNAVAILABLE with the reason', (ctx) => {
    if (onFreeBSD) return ctx.skip('this is FreeBSD: see freebsd.test.ts');
    expect(() => new Aio({ method: kqueue() })).toThrow(expect.objectContaining({ code: 'AIO_ERR_METHOD_UNAVAILABLE', message: expect.stringMatching(/wrong platform/) }));
  });

  it('kqueue: options are checked when the factory is made', () => {
    expect(() => kqueue({ maxInFlight: 0 })).toThrow(AioUsageError);
    expect(() => kqueue({ maxInFlight: 2.5 })).toThrow(/maxInFlight/);
    expect(() => kqueue({ depth: 3 } as never)).toThrow(/unknown kqueue option "depth"/);
    expect(() => kqueue('x' as never)).toThrow(expect.objectContaining({ code: 'AIO_ERR_INVALID_OPTION' }));
    expect(kqueue({ maxInFlight: 16 }).name).toBe('kqueue');
  });
});
