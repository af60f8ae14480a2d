import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TornPageError } from '../src/buffer-pool.js';
import { PAGE_SIZE } from '../src/page.js';
import { asyncMethod, context, key, openEngine, tempDir } from './helpers.js';

async function loaded(method: Parameters<typeof context>[0], keys: number) {
  const dir = tempDir();
  const aio = await context(method);
  let engine = await openEngine(aio, dir);
  const ops = Array.from({ length: keys }, (_, i) => ({ type: 'put' as const, key: key(i), value: Buffer.alloc(200, i % 256) }));
  for (let i = 0; i < ops.length; i += 100) await engine.commit(ops.slice(i, i + 100));
  await engine.close();
  engine = await openEngine(aio, dir);
  return { dir, aio, engine };
}

describe('buffer pool', () => {
  it('clock eviction keeps a data set larger than the pool readable, and every page is read once per miss', async () => {
    const { engine } = await loaded("sync", 2000);
    for (let i = 0; i < 2000; i += 37) expect((await engine.get(key(i)))?.[0]).toBe(i % 256);
    expect(engine.pool.stats.evictions).toBeGreaterThan(0);
    expect(engine.pool.stats.reads).toBe(engine.pool.stats.misses);
    await engine.close();
  });

  it('a second reader of a page being read waits on the first reader\'s wait reference instead of reading it again', async (ctx) => {
    const method = await asyncMethod();
    if (method === null) return ctx.skip('no asynchronous method works here');
    const { engine } = await loaded(method, 2000);
    const before = engine.pool.stats.reads;
    const meta = await engine.meta();
    const [a, b] = await Promise.all([engine.pool.pin(meta.pageCount - 1), engine.pool.pin(meta.pageCount - 1)]);
    expect(a).toBe(b);
    expect(engine.pool.stats.reads - before).toBe(1);
    expect(engine.pool.stats.waitsOnOtherReader).toBeGreaterThanOrEqual(1);
    engine.pool.unpin(a);
    engine.pool.unpin(b);
    await engine.close();
  });

  it('misses of concurrent readers are read in batches: one submission for all of them', async () => {
    const { engine } = await loaded('sync', 2000);
    const meta = await engine.meta();
    const wanted = Array.from({ length: 24 }, (_, i) => meta.pageCount - 1 - i).filter((pageNo) => engine.pool.lookup(pageNo) === null);
    const before = { ...engine.pool.stats };
    const frames = await Promise.all(wanted.map((pageNo) => engine.pool.pin(pageNo)));
    expect(frames.map((frame) => frame.pageNo)).toEqual(wanted);
    expect(engine.pool.stats.reads - before.reads).toBe(wanted.length);
    expect(engine.pool.stats.readBatches - before.readBatches).toBe(1);
    for (const frame of frames) engine.pool.unpin(frame);
    await engine.close();
  });

  it('a page torn on disk is reported with its block number, and the next reader tries again', async () => {
    const { dir, aio, engine } = await loaded('sync', 2000);
    const meta = await engine.meta();
    await engine.close();
    const victim = meta.pageCount - 2;
    const fd = fs.openSync(path.join(dir, 'data'), 'r+');
    fs.writeSync(fd, Buffer.alloc(512, 0xee), 0, 512, victim * PAGE_SIZE + 4096);
    fs.closeSync(fd);
    const reopened = await openEngine(aio, dir);
    await expect(reopened.pool.pin(victim)).rejects.toThrow(TornPageError);
    await expect(reopened.pool.pin(victim)).rejects.toThrow(`invalid page in block ${victim}`);
    expect((await reopened.check()).ok).toBe(false);
    await reopened.abandon();
  });

  it('pinned frames are never evicted: with every frame pinned the pool says it is exhausted', async () => {
    const { engine } = await loaded("sync", 2000);
    const pinned = [];
    for (let pageNo = 1; pinned.length < engine.pool.size; pageNo++) pinned.push(await engine.pool.pin(pageNo));
    await expect(engine.pool.pin(engine.pool.size + 5)).rejects.toMatchObject({ code: 'ENGINE_POOL_EXHAUSTED' });
    for (const frame of pinned) engine.pool.unpin(frame);
    await engine.close();
  });
});
