/**
 * The power-loss simulator (`powerLoss` in @aio/core/testing) wrapping the
 * method under test: what a sync made durable survives every crash state,
 * what it did not is at risk, and after the cut nothing reaches the disk.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Aio, type AioMethodFactory } from '@aio/core';
import { powerLoss } from '@aio/core/testing';
import { defineCase } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { pattern, skipUnlessDsync } from '../util.js';

const SEEDS = 100;

export function definePowerLossCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'power loss: writes synced by fdatasync survive every crash state, concurrent unsynced ones are at risk', async (fx) => {
    const file = fx.path(Buffer.alloc(64 * 1024));
    const sim = powerLoss(m.factory as AioMethodFactory, { seed: 11 });
    const aio = new Aio({ method: sim });
    try {
      const handle = aio.open(file, { read: true, write: true });
      // Eight 4 KiB writes in flight at once, then a sync; then eight more, unsynced.
      const synced = pattern(32 * 1024, 3);
      await Promise.all(Array.from({ length: 8 }, (_, i) => handle.writeFully(synced.subarray(i * 4096, (i + 1) * 4096), i * 4096)));
      await handle.datasync();
      const unsynced = pattern(32 * 1024, 4);
      await Promise.all(Array.from({ length: 8 }, (_, i) => handle.writeFully(unsynced.subarray(i * 4096, (i + 1) * 4096), 32 * 1024 + i * 4096)));
      await handle.close();
      const fates = new Set<string>();
      for (let seed = 0; seed < SEEDS; seed++) {
        const state = sim.crash({ seed });
        const image = state.files.get(file);
        assert.ok(image !== undefined, 'the file has a crash image');
        assert.ok(image.subarray(0, 32 * 1024).equals(synced), `seed ${seed}: the synced 32 KiB survived\n${state.describe()}`);
        assert.equal(state.writes.length, 8, 'exactly the unsynced writes are at risk');
        for (const write of state.writes) fates.add(write.fate);
      }
      assert.deepEqual([...fates].sort(), ['kept', 'lost', 'torn'], `over ${SEEDS} seeds writes are kept, lost and torn`);
    } finally {
      await aio.close();
    }
  });

  defineCase(h, m, 'power loss: writes to a dsync file survive every crash state', async (fx, t) => {
    const file = fx.path(Buffer.alloc(16 * 1024));
    const sim = powerLoss(m.factory as AioMethodFactory, { seed: 12 });
    const aio = new Aio({ method: sim });
    try {
      skipUnlessDsync(aio, `${file}.dsync-probe`, m.name, t);
      const handle = aio.open(file, { read: true, write: true, dsync: true });
      const data = pattern(8192, 6);
      await handle.writeFully(data, 4096);
      await handle.close();
      for (let seed = 0; seed < SEEDS; seed++) {
        const state = sim.crash({ seed });
        assert.equal(state.writes.length, 0, 'nothing is at risk');
        const image = state.files.get(file);
        assert.ok(image?.subarray(4096, 12_288).equals(data), `seed ${seed}: the dsync write survived`);
      }
    } finally {
      await aio.close();
    }
  });

  defineCase(h, m, 'power loss: after the cut IO fails with EIO and changes nothing; apply() writes the crash state', async (fx) => {
    const file = fx.path(Buffer.alloc(8192));
    const sim = powerLoss(m.factory as AioMethodFactory, { seed: 13 });
    const aio = new Aio({ method: sim });
    try {
      const handle = aio.open(file, { read: true, write: true });
      await handle.writeFully(pattern(8192, 7), 0);
      const state = sim.crash();
      const before = fs.readFileSync(file);
      await assert.rejects(handle.write(pattern(512, 8), 0), { code: 'EIO' });
      await assert.rejects(handle.datasync(), { code: 'EIO' });
      await handle.close();
      await aio.close();
      assert.ok(fs.readFileSync(file).equals(before), 'nothing reached the file after the cut');
      state.apply();
      const image = state.files.get(file);
      assert.ok(image !== undefined && fs.readFileSync(file).equals(image), 'apply() wrote the crash state');
    } finally {
      await aio.close();
    }
  });
}
