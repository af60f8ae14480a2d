/**
 * Write-back never blocks the thread for a handle: with every handle of the
 * context busy it waits for its own writes or for acquireAsync, so it also
 * runs on the libuv method, which cannot wait synchronously.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'vitest';
import { Aio, libuvMethod, writeBack, type AioFile, type DirtyPage } from '../src/index.js';
import { tempWorld } from './temp-world.js';

const PAGE = 4096;
const world = tempWorld('aio-writeback-handles-');

function pages(file: AioFile, count: number, fill: (slot: number) => number): DirtyPage[] {
  return Array.from({ length: count }, (_, slot) => ({ file, offset: slot * PAGE, buffer: Buffer.alloc(PAGE, fill(slot)) }));
}

describe('write-back: handles without blocking', () => {
  it('libuv: a write-back runs while other callers hold every handle, and writes every page', async () => {
    const path = world.file(Buffer.alloc(64 * PAGE));
    const aio = world.track(new Aio({ method: libuvMethod(), maxConcurrency: 4 }));
    const file = aio.open(path, { read: true, write: true });
    // Other clients of the context keep every handle busy while the write-back starts.
    const readers = Array.from({ length: 8 }, (_, i) => file.read(Buffer.alloc(PAGE), i * PAGE));
    const result = await writeBack(aio, pages(file, 64, (slot) => slot + 1), { window: 16 });
    await Promise.all(readers);
    assert.equal(result.clean.length, 64);
    assert.equal(result.failed.length, 0);
    assert.deepEqual(result.synced, [file]);
    const bytes = fs.readFileSync(path);
    for (let slot = 0; slot < 64; slot++) assert.equal(bytes[slot * PAGE + PAGE - 1], slot + 1, `page ${slot}`);
  });

  it('libuv: two write-backs at once share a context smaller than their windows', async () => {
    const paths = [world.file(Buffer.alloc(32 * PAGE)), world.file(Buffer.alloc(32 * PAGE))];
    const aio = world.track(new Aio({ method: libuvMethod(), maxConcurrency: 3 }));
    const files = paths.map((path) => aio.open(path, { read: true, write: true }));
    const results = await Promise.all(files.map((file, i) => writeBack(aio, pages(file, 32, () => 0x10 + i), { window: 8 })));
    for (const [i, result] of results.entries()) {
      assert.equal(result.clean.length, 32);
      assert.ok(fs.readFileSync(paths[i]).every((byte) => byte === 0x10 + i));
    }
  });
});
