import { describe, expect, it } from 'vitest';
import { AioUsageError } from '@aio/core';
import { methodName, posixAio, probe } from '../src/index.js';
import { unavailable } from './helpers.js';

const skip = unavailable();
if (skip !== undefined) console.warn(`posix_aio tests skipped: ${skip}`);

describe.skipIf(skip !== undefined)('probe', () => {
  it('posix_aio: the probe runs real IO and reports the platform aio settings', () => {
    const result = probe();
    expect(result.available).toBe(true);
    expect(result.reason).toMatch(/aio_write, aio_fsync and lio_listio round trip/);
    expect(result.details).toMatchObject({ anchorError: '' });
    if (process.platform === 'linux') expect(result.details).toMatchObject({ libc: expect.stringMatching(/^glibc /), aioThreads: 20, aioNum: 64 });
    expect(posixAio().probe()).toBe(result);
    expect(methodName).toBe('posix_aio');
  });

  it('posix_aio: invalid factory options are usage errors, and an invalid probe option is a reason', () => {
    const bad: unknown[] = [{ lanes: 0 }, { lanes: 65 }, { tableSize: 1.5 }, { maxVectored: 'x' }, { doorbell: 'bell' }, { pollMs: 0 }, { what: 1 }, 7];
    for (const options of bad) expect(() => posixAio(options as never), JSON.stringify(options)).toThrow(AioUsageError);
    expect(probe({ lanes: 0 })).toMatchObject({ available: false, code: 'invalid-options' });
  });
});
