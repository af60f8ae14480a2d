import { afterEach, describe, expect, it } from 'vitest';
import { clearInjection, injectErrno } from '@aio/core/testing';
import { context, key, openEngine, tempDir } from './helpers.js';

afterEach(() => clearInjection());

describe('checkpoints', () => {
  it('a checkpoint writes every dirty page, obeys the WAL rule, and moves the redo pointer', async () => {
    const aio = await context('sync');
    const engine = await openEngine(aio, tempDir());
    for (let i = 0; i < 300; i += 10) await engine.commit([...Array(10).keys()].map((j) => ({ type: 'put' as const, key: key(i + j), value: Buffer.alloc(100, (i + j) % 256) })));
    expect(engine.pool.dirtyFrames().length).toBeGreaterThan(0);
    const before = engine.redoLsn;
    const info = await engine.checkpoint();
    expect(info.redo).toBeGreaterThan(before);
    expect(engine.redoLsn).toBe(info.redo);
    expect(engine.pool.dirtyFrames()).toEqual([]);
    expect(engine.wal.durableLsn).toBeGreaterThanOrEqual(info.redo);
    await engine.close();
  });

  it('a failed data-file sync fails the checkpoint and the redo pointer stays where it was', async () => {
    const dir = tempDir();
    const aio = await context('sync');
    const engine = await openEngine(aio, dir);
    for (let i = 0; i < 100; i++) await engine.put(key(i), Buffer.alloc(100, 1));
    const before = engine.redoLsn;
    injectErrno('EIO', { op: 'fsync', path: `${dir}/data`, times: 1 });
    await expect(engine.checkpoint()).rejects.toMatchObject({ code: 'EIO' });
    expect(engine.redoLsn).toBe(before);
    // As after fsyncgate, the engine refuses to go on; reopening recovers from the old redo pointer.
    await expect(engine.put(key(1), Buffer.from('x'))).rejects.toMatchObject({ code: 'ENGINE_FAILED' });
    await engine.abandon();
    const reopened = await openEngine(aio, dir);
    expect(reopened.stats.redoRecords).toBeGreaterThanOrEqual(100);
    expect((await reopened.get(key(99)))?.[0]).toBe(1);
    await reopened.close();
  });

  it('automatic checkpoints run as the WAL grows and let old segments be recycled', async () => {
    const aio = await context('sync');
    const engine = await openEngine(aio, tempDir(), { poolPages: 32, walSegmentSize: 256 * 1024, checkpointWalBytes: 128 * 1024 });
    for (let i = 0; i < 200; i++) await engine.put(key(i % 50), Buffer.alloc(1500, i % 256));
    await engine.checkpoint();
    expect(engine.stats.checkpoints).toBeGreaterThan(2);
    expect(engine.wal.stats.segmentsRecycled).toBeGreaterThan(0);
    await engine.close();
  });
});
