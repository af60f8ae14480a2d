import { describe, expect, it } from 'vitest';
import { asyncMethod, context, key, openEngine, tempDir } from './helpers.js';

describe('WAL and commits', () => {
  it('a commit resolves only once its WAL record is durable', async () => {
    const aio = await context('sync');
    const engine = await openEngine(aio, tempDir());
    for (let i = 0; i < 20; i++) {
      const lsn = await engine.put(key(i), Buffer.from(`v${i}`));
      expect(engine.wal.durableLsn).toBeGreaterThanOrEqual(lsn);
    }
    await engine.close();
  });

  it('64 concurrent clients share WAL flushes (group commit): fewer groups than commits', async (ctx) => {
    const method = await asyncMethod();
    if (method === null) return ctx.skip('no asynchronous method works here');
    const aio = await context(method);
    const engine = await openEngine(aio, tempDir());
    const groupsBefore = engine.wal.stats.groups;
    const lsns = await Promise.all(Array.from({ length: 256 }, (_, i) => engine.put(key(i % 64), Buffer.from(`v${i}`))));
    expect(new Set(lsns).size).toBe(256);
    expect(engine.wal.stats.groups - groupsBefore).toBeLessThan(256);
    expect(engine.wal.durableLsn).toBeGreaterThanOrEqual(Math.max(...lsns));
    await engine.close();
  });

  it('a transaction whose op fails leaves no trace: its other ops are undone', async () => {
    const aio = await context('sync');
    const engine = await openEngine(aio, tempDir());
    await engine.put(key(1), Buffer.from('one'));
    await expect(engine.commit([{ type: 'put', key: key(1), value: Buffer.from('changed') }, { type: 'delete', key: Buffer.alloc(0) }])).rejects.toThrow();
    expect((await engine.get(key(1)))?.toString()).toBe('one');
    await engine.close();
  });
});
