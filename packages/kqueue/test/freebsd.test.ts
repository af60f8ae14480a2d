/**
 * The real addon on a real FreeBSD kernel.  These run only on FreeBSD (they
 * are skipped, with the reason, everywhere else); nothing in this project's
 * CI can run them.  On FreeBSD: pnpm --filter @aio/kqueue build && pnpm --filter @aio/kqueue test
 */
import { describe, expect, it } from 'vitest';
import { Aio, syncMethod } from '@aio/core';
import { kqueue, probe } from '../src/index.js';
import { pattern, useScratch } from './helpers.js';

const scratch = useScratch();
const skip = process.platform !== 'freebsd' ? `needs a FreeBSD host (this is ${process.platform})` : false;

describe('kqueue (FreeBSD): the real aio + kevent mechanism', () => {
  it('kqueue: the probe passes: kqueue, the FreeBSD 12+ kevent ABI and an aio_read round trip', (ctx) => {
    if (skip) return ctx.skip(skip);
    const result = probe();
    expect(result.reason).toMatch(/works/);
    expect(result.available).toBe(true);
  });

  it('kqueue: every op matches the sync method byte for byte', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const file = scratch.file('data', pattern(256 * 1024, 71));
    const aio = scratch.track(new Aio({ method: kqueue() }));
    const oracle = scratch.track(new Aio({ method: syncMethod() }));
    const f = aio.open(file, { read: true, write: true });
    const g = oracle.open(file, { read: true });
    const reads = Array.from({ length: 64 }, (_, i) => [Buffer.alloc(4096), (i * 7919) % (256 * 1024)] as const);
    const got = await Promise.all(reads.map(([b, at]) => f.read(b, at)));
    for (let i = 0; i < reads.length; i++) {
      const b = Buffer.alloc(4096);
      expect(got[i]).toBe(await g.read(b, reads[i][1]));
      expect(reads[i][0].equals(b)).toBe(true);
    }
    expect(await f.writev([pattern(100, 1), pattern(200, 2)], 1000)).toBe(300);
    const back = [Buffer.alloc(100), Buffer.alloc(200)];
    expect(await f.readv(back, 1000)).toBe(300);
    expect(Buffer.concat(back).equals(Buffer.concat([pattern(100, 1), pattern(200, 2)]))).toBe(true);
    await f.sync();
    await f.datasync();
    expect(aio.stats().methodStats.accepted).toBeGreaterThan(60);
  });
});
