import { describe, expect, it } from 'vitest';
import { seededRandom } from '../src/crash.js';
import type { Engine } from '../src/engine.js';
import { asyncMethod, context, openEngine, tempDir } from './helpers.js';

const keyOf = (n: number): string => `s${String(n).padStart(6, '0')}`;

async function filled(engine: Engine, keys: number): Promise<string[]> {
  const ops = Array.from({ length: keys }, (_, i) => ({ type: 'put' as const, key: Buffer.from(keyOf(i * 2)), value: Buffer.from(`v${i}`.padEnd(20 + (i % 60), '.')) }));
  for (let i = 0; i < ops.length; i += 250) await engine.commit(ops.slice(i, i + 250));
  return ops.map((op) => op.key.toString());
}

describe('scans', () => {
  it('scanEach visits exactly the keys in [start, end), in order, as offsets into the leaf page', async () => {
    const aio = await context('sync');
    const engine = await openEngine(aio, tempDir(), { poolPages: 32, walSegmentSize: 1024 * 1024, checkpointWalBytes: 0 });
    const keys = await filled(engine, 3000);
    const random = seededRandom(11);
    // Bounds that are keys, fall between keys (odd numbers), lie outside the data, or are open.
    const bound = (): Buffer | null => (random() < 0.15 ? null : Buffer.from(keyOf(Math.floor(random() * 6100) - 50)));
    for (let round = 0; round < 40; round++) {
      const start = bound();
      const end = bound();
      const expected = keys.filter((k) => (start === null || k >= start.toString()) && (end === null || k < end.toString()));
      const seen: string[] = [];
      const visited = await engine.scanEach(start, end, (entry) => {
        expect(entry.keyView().equals(entry.page.subarray(entry.keyOffset, entry.keyOffset + entry.keyLength))).toBe(true);
        seen.push(entry.key().toString());
      });
      expect(seen).toEqual(expected);
      expect(visited).toBe(expected.length);
    }
    await engine.close();
  });

  it('a visitor returning false, or the limit, stops the scan and leaves no frame with its read unfinished', async (ctx) => {
    const method = await asyncMethod();
    if (method === null) return ctx.skip('no asynchronous method works here');
    const aio = await context(method);
    // A pool large enough that the stream hands out several pages per batch.
    const engine = await openEngine(aio, tempDir(), { poolPages: 256, walSegmentSize: 1024 * 1024, checkpointWalBytes: 0 });
    const keys = await filled(engine, 6000);
    await engine.close();
    const reopened = await openEngine(aio, engine.dir, { poolPages: 256, walSegmentSize: 1024 * 1024, checkpointWalBytes: 0 });
    let seen = 0;
    expect(await reopened.scanEach(null, null, () => ++seen < 700)).toBe(700);
    expect(reopened.pool.frames.filter((frame) => frame.state === 'io-in-progress')).toEqual([]);
    expect(await reopened.scanEach(Buffer.from(keyOf(100)), null, () => undefined, 33)).toBe(33);
    expect(reopened.pool.frames.filter((frame) => frame.state === 'io-in-progress')).toEqual([]);
    expect((await reopened.scan(null, null)).map(([k]) => k.toString())).toEqual(keys);
    expect((await reopened.check()).ok).toBe(true);
    await reopened.close();
  });
});
