import { describe, expect, it } from 'vitest';
import { seededRandom } from '../src/crash.js';
import { context, openEngine, tempDir } from './helpers.js';

describe('B+tree', () => {
  it('random puts, overwrites and deletes agree with a Map, through splits to height 3, and check() passes', async () => {
    const aio = await context('sync');
    const engine = await openEngine(aio, tempDir(), { poolPages: 64, walSegmentSize: 1024 * 1024, checkpointWalBytes: 3 * 1024 * 1024 });
    const model = new Map<string, string>();
    const random = seededRandom(7);
    // Long keys keep the fan-out small, so a few thousand keys make three levels.
    const keyOf = (n: number) => `${String(n).padStart(6, '0')}-${'k'.repeat(300)}`;
    for (let round = 0; round < 50; round++) {
      const ops = [];
      for (let i = 0; i < 30; i++) {
        const k = keyOf(Math.floor(random() * 4000));
        if (random() < 0.2) {
          ops.push({ type: 'delete' as const, key: Buffer.from(k) });
          model.delete(k);
        } else {
          const v = `v${round}.${i}`.padEnd(10 + Math.floor(random() * 200), '.');
          ops.push({ type: 'put' as const, key: Buffer.from(k), value: Buffer.from(v) });
          model.set(k, v);
        }
      }
      await engine.commit(ops);
    }
    expect((await engine.meta()).height).toBeGreaterThanOrEqual(3);
    const sorted = [...model.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const scanned = (await engine.scan(null, null)).map(([k, v]) => [k.toString(), v.toString()]);
    expect(scanned).toEqual(sorted);
    for (const [k, v] of sorted.slice(0, 200)) expect((await engine.get(Buffer.from(k)))?.toString()).toBe(v);
    expect(await engine.get(Buffer.from(keyOf(99999)))).toBeNull();
    const report = await engine.check();
    expect(report.problems).toEqual([]);
    expect(report.entries).toBe(model.size);
    await engine.close();
  });

  it('a range scan returns exactly the keys in [start, end), in order, up to the limit', async () => {
    const aio = await context('sync');
    const engine = await openEngine(aio, tempDir());
    const ops = Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: Buffer.from(`r${String(i).padStart(5, '0')}`), value: Buffer.alloc(50, 1) }));
    for (let i = 0; i < ops.length; i += 200) await engine.commit(ops.slice(i, i + 200));
    const range = await engine.scan(Buffer.from('r00100'), Buffer.from('r01500'));
    expect(range.length).toBe(1400);
    expect(range[0][0].toString()).toBe('r00100');
    expect(range[1399][0].toString()).toBe('r01499');
    expect((await engine.scan(Buffer.from('r01990'), null, 5)).map(([k]) => k.toString())).toEqual(['r01990', 'r01991', 'r01992', 'r01993', 'r01994']);
    await engine.close();
  });

  it('keys and values beyond the page limits are refused and change nothing', async () => {
    const aio = await context('sync');
    const engine = await openEngine(aio, tempDir());
    await engine.put(Buffer.from('a'), Buffer.from('1'));
    await expect(engine.commit([{ type: 'put', key: Buffer.from('b'), value: Buffer.from('2') }, { type: 'put', key: Buffer.alloc(600, 1), value: Buffer.alloc(1) }])).rejects.toMatchObject({ code: 'ENGINE_KEY_TOO_LARGE' });
    expect(await engine.get(Buffer.from('b'))).toBeNull();
    expect((await engine.check()).ok).toBe(true);
    await engine.close();
  });
});
