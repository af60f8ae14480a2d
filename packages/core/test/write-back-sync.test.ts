import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { describe, it } from 'vitest';
import { AioUsageError, writeBack, type AioFile, type AioIoView, type DirtyPage } from '../src/index.js';
import { setInjection } from '../src/testing.js';
import type { DeferredMethod } from './deferred-method.js';
import { helperWorld } from './helper-world.js';

const PAGE = 4096;
const world = helperWorld('aio-writeback-sync-');

function makeFile(pages: number): string {
  return world.file(Buffer.alloc(pages * PAGE, 0xee));
}

function page(file: AioFile, slot: number, fill: number): DirtyPage {
  return { file, offset: slot * PAGE, buffer: Buffer.alloc(PAGE, fill) };
}

/** Records every sync that completes, as "fsync <path>" or "fdatasync <path>"; fails every write to `failWritesTo` with EIO. */
function recordSyncs(failWritesTo?: string): string[] {
  const syncs: string[] = [];
  const eio = -os.constants.errno.EIO;
  setInjection((info) => {
    if (info.op === 'fsync' || info.op === 'fdatasync') syncs.push(`${info.op} ${info.path}`);
    return info.op === 'write' && info.path === failWritesTo ? eio : undefined;
  });
  return syncs;
}

/** Fails the test if the method ever has two overlapping writes to one file in flight at once. */
function refuseOverlapsInFlight(method: DeferredMethod): { overlaps: number } {
  const seen = { overlaps: 0 };
  const submit = method.submit.bind(method);
  method.submit = (ios: readonly AioIoView[], count: number): number => {
    const writes = [...method.inFlight, ...ios.slice(0, count)].filter((io) => io.opName === 'write');
    for (let i = 0; i < writes.length; i++) {
      for (let j = i + 1; j < writes.length; j++) {
        const a = writes[i];
        const b = writes[j];
        if (a.file === b.file && a.offset < b.offset + b.length && b.offset < a.offset + a.length) seen.overlaps++;
      }
    }
    return submit(ios, count);
  };
  return seen;
}

for (const kind of ['sync', 'deferred'] as const) {
  describe(`${kind}: write-back sync modes`, () => {
    it(`${kind}: sync 'always' fsyncs every file of the call, also one whose only write failed`, async () => {
      const { aio } = world.context(kind);
      const paths = [makeFile(4), makeFile(4)];
      const [a, b] = paths.map((p) => aio.open(p, { read: true, write: true }));
      const syncs = recordSyncs(paths[1]);
      const result = await writeBack(aio, [page(a, 0, 1), page(b, 1, 2)], { sync: 'always' });
      assert.equal(result.clean.length, 1);
      assert.equal(result.failed.length, 1);
      assert.deepEqual(syncs.sort(), paths.map((p) => `fsync ${p}`).sort());
      assert.deepEqual(new Set(result.synced), new Set([a, b]));

      const fsyncOnly = recordSyncs(paths[1]);
      await writeBack(aio, [page(b, 1, 3)]);
      assert.deepEqual(fsyncOnly, [], "by default a file with no complete write is not synced (the 'fsync' mode is unchanged)");
      await a.close();
      await b.close();
    });

    it(`${kind}: syncFiles syncs files no page names, the same way as the pages' files`, async () => {
      const { aio } = world.context(kind);
      const paths = [makeFile(4), makeFile(4), makeFile(4)];
      const [a, b, c] = paths.map((p) => aio.open(p, { read: true, write: true }));
      const syncs = recordSyncs();
      const result = await writeBack(aio, [page(a, 0, 5)], { sync: 'fdatasync', syncFiles: [b, c, b] });
      assert.deepEqual(syncs.sort(), paths.map((p) => `fdatasync ${p}`).sort(), 'each file once, duplicates in syncFiles too');
      assert.equal(result.synced.length, 3);
      syncs.length = 0;
      const empty = await writeBack(aio, [], { syncFiles: [c] });
      assert.deepEqual(syncs, [`fsync ${paths[2]}`], 'a call with no pages still syncs its syncFiles');
      assert.deepEqual(empty.synced, [c]);
      for (const file of [a, b, c]) await file.close();
    });

    it(`${kind}: bad sync options are usage errors and nothing is written`, async () => {
      const { aio } = world.context(kind);
      const filePath = makeFile(2);
      const file = aio.open(filePath, { read: true, write: true });
      const closed = aio.open(makeFile(1));
      await closed.close();
      const pages = [page(file, 0, 9)];
      const isUsage = (code: string) => (e: unknown) => e instanceof AioUsageError && e.code === code;
      await assert.rejects(writeBack(aio, pages, { sync: 'none', syncFiles: [file] }), isUsage('AIO_ERR_INVALID_OPTION'));
      await assert.rejects(writeBack(aio, pages, { sync: 'sometimes' as never }), isUsage('AIO_ERR_INVALID_OPTION'));
      await assert.rejects(writeBack(aio, pages, { syncFiles: [filePath] as never }), isUsage('AIO_ERR_INVALID_TYPE'));
      await assert.rejects(writeBack(aio, pages, { syncFiles: file as never }), isUsage('AIO_ERR_INVALID_TYPE'));
      await assert.rejects(writeBack(aio, pages, { syncFiles: [closed] }), isUsage('AIO_ERR_FILE_CLOSED'));
      const other = world.context(kind).aio;
      const foreign = other.open(makeFile(1));
      await assert.rejects(writeBack(aio, pages, { syncFiles: [foreign] }), isUsage('AIO_ERR_FOREIGN_FILE'));
      assert.ok(fs.readFileSync(filePath).every((byte) => byte === 0xee), 'a refused call writes nothing');
      await foreign.close();
      await file.close();
    });
  });
}

describe('write-back overlap rule', () => {
  it('deferred: a page overlapping a write in flight of another write-back waits for it, and the later bytes end on disk', async () => {
    const { aio, method } = world.context('deferred');
    const overlaps = refuseOverlapsInFlight(method as DeferredMethod);
    const filePath = makeFile(16);
    const file = aio.open(filePath, { read: true, write: true });
    const events: string[] = [];
    const first = writeBack(aio, [page(file, 3, 1), page(file, 5, 1)], { onClean: (p) => events.push(`first ${p.offset / PAGE}`) });
    const second = writeBack(aio, [page(file, 4, 2), page(file, 3, 2), page(file, 6, 2)], { onClean: (p) => events.push(`second ${p.offset / PAGE}`) });
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.clean.length + b.clean.length, 5);
    assert.equal(overlaps.overlaps, 0, 'two overlapping writes were in flight at once');
    assert.ok(events.indexOf('first 3') < events.indexOf('second 3'), events.join(', '));
    const content = fs.readFileSync(filePath);
    assert.ok(content.subarray(3 * PAGE, 4 * PAGE).every((byte) => byte === 2), 'the later write-back of page 3 is on disk');
    await file.close();
  });

  it('deferred: overlapping pages of one call are written one after the other, in the order given', async () => {
    const { aio, method } = world.context('deferred');
    const overlaps = refuseOverlapsInFlight(method as DeferredMethod);
    const filePath = makeFile(8);
    const file = aio.open(filePath, { read: true, write: true });
    const half: DirtyPage = { file, offset: 2 * PAGE + 2048, buffer: Buffer.alloc(PAGE, 7) };
    const result = await writeBack(aio, [page(file, 2, 5), page(file, 1, 5), half, page(file, 2, 6)], { window: 8 });
    assert.equal(result.clean.length, 4);
    assert.equal(overlaps.overlaps, 0);
    const content = fs.readFileSync(filePath);
    assert.ok(content.subarray(2 * PAGE, 3 * PAGE).every((byte) => byte === 6), 'the last page given for block 2 wins');
    assert.ok(content.subarray(3 * PAGE, 3 * PAGE + 2048).every((byte) => byte === 7), 'the half-overlapping page kept its other half');
    await file.close();
  });
});
