import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'vitest';
import { AioIoError, AioUsageError, AlignedPagePool, writeBack, type AioFile, type DirtyPage } from '../src/index.js';
import { injectErrno, setInjection } from '../src/testing.js';
import { helperWorld } from './helper-world.js';

const PAGE = 4096;
const world = helperWorld('aio-writeback-');
const context = world.context;

function makeFile(pages: number): string {
  return world.file(Buffer.alloc(pages * PAGE, 0xee));
}

interface Page extends DirtyPage {
  id: number;
}

/** Dirty pages at scattered offsets, each filled with its own byte. */
function pagesFor(file: AioFile, count: number, totalPages: number): Page[] {
  const pages: Page[] = [];
  for (let i = 0; i < count; i++) {
    const slot = (i * 37) % totalPages;
    pages.push({ id: i, file, offset: slot * PAGE, buffer: Buffer.alloc(PAGE, i & 0x7f), lsn: BigInt(1000 + i) });
  }
  return pages;
}

function onDisk(filePath: string, page: DirtyPage): Buffer {
  return fs.readFileSync(filePath).subarray(page.offset, page.offset + PAGE);
}

for (const kind of ['sync', 'deferred'] as const) {
  describe(`${kind}: write-back`, () => {
    it(`${kind}: writes every page, calls beforeWrite before each write, reports each clean, then syncs the file once`, async () => {
      const { aio } = context(kind);
      const filePath = makeFile(64);
      const file = aio.open(filePath, { read: true, write: true });
      const pages = pagesFor(file, 60, 64);
      const events: string[] = [];
      setInjection((info) => {
        events.push(info.op === 'write' ? 'write' : info.op);
        return undefined;
      });
      const result = await writeBack(aio, pages, {
        window: 8,
        beforeWrite: (page) => {
          assert.ok(onDisk(filePath, page).every((b) => b === 0xee), `page ${page.id} is not on disk before its hook`);
          events.push(`hook ${page.lsn}`);
        },
        onClean: (page) => assert.ok(onDisk(filePath, page).equals(page.buffer as Buffer), `page ${page.id} is on disk when clean`),
      });
      assert.equal(result.clean.length, 60);
      assert.equal(result.failed.length, 0);
      assert.deepEqual(result.synced, [file]);
      assert.equal(events.filter((e) => e.startsWith('hook')).length, 60);
      assert.equal(events.at(-1), 'fsync', 'the sync completes last');
      assert.equal(events.filter((e) => e === 'fsync').length, 1, 'one sync per file');
      assert.ok(events.lastIndexOf('write') < events.indexOf('fsync'), 'every write completed before the sync');
      for (const page of pages) assert.ok(onDisk(filePath, page).equals(page.buffer as Buffer));
      await file.close();
    });

    it(`${kind}: never more than window writes in flight`, async () => {
      const { aio, method } = context(kind);
      const file = aio.open(makeFile(256), { read: true, write: true });
      let peak = 0;
      const result = await writeBack(aio, pagesFor(file, 200, 256), {
        window: 5,
        beforeWrite: () => {
          peak = Math.max(peak, aio.stats().inFlight);
        },
      });
      assert.ok(peak <= 4, `at a hook at most window - 1 writes are in flight, saw ${peak}`);
      assert.ok(result.maxInFlight <= 5);
      if (method !== undefined) {
        assert.ok(method.peakInFlight <= 5, `the method saw ${method.peakInFlight} in flight`);
        assert.equal(method.peakInFlight, 5, 'the window fills up');
        const writes = method.submitted.filter((s) => s.op === 'write');
        assert.ok(writes.every((s) => s.inFlightBefore < 5));
        const sync = method.submitted.find((s) => s.op === 'fsync');
        assert.equal(sync?.inFlightBefore, 0, 'the sync is submitted once the window drained');
      }
      await file.close();
    });

    it(`${kind}: an async beforeWrite holds its page's write until it resolves`, async () => {
      const { aio } = context(kind);
      const filePath = makeFile(16);
      const file = aio.open(filePath, { read: true, write: true });
      const pages = pagesFor(file, 16, 16);
      let flushedLsn = 0n;
      const result = await writeBack(aio, pages, {
        window: 4,
        beforeWrite: async (page) => {
          await new Promise((resolve) => setTimeout(resolve, 2));
          assert.ok(onDisk(filePath, page).every((b) => b === 0xee), 'not written while the hook runs');
          flushedLsn = page.lsn as bigint;
        },
        onClean: (page) => assert.ok((page.lsn as bigint) <= flushedLsn, 'the WAL rule: the log was flushed past the page first'),
      });
      assert.equal(result.clean.length, 16);
      await file.close();
    });

    it(`${kind}: a failed write leaves its page dirty and the others clean`, async () => {
      const { aio } = context(kind);
      const filePath = makeFile(64);
      const file = aio.open(filePath, { read: true, write: true });
      const pages = pagesFor(file, 30, 64);
      const errors: number[] = [];
      injectErrno('EIO', { op: 'write', times: 3 });
      const result = await writeBack(aio, pages, { window: 4, onError: (page, error) => errors.push(page.id) && assert.equal(error.code, 'EIO') });
      assert.equal(result.failed.length, 3);
      assert.equal(result.clean.length, 27);
      assert.deepEqual(
        result.failed.map((f) => f.page.id),
        errors,
      );
      for (const { page, error } of result.failed) {
        assert.ok(error instanceof AioIoError && error.code === 'EIO');
        assert.ok(!result.clean.includes(page), 'a failed page is never reported clean');
      }
      assert.deepEqual(result.synced, [file], 'the file is still synced for its clean pages');
      await file.close();
    });

    it(`${kind}: a short write is retried for the rest of the page`, async () => {
      const { aio } = context(kind);
      const filePath = makeFile(8);
      const file = aio.open(filePath, { read: true, write: true });
      const pages = pagesFor(file, 8, 8);
      let shortened = 0;
      setInjection((info) => (info.op === 'write' && info.length === PAGE && shortened++ < 4 ? 1000 : undefined));
      const result = await writeBack(aio, pages, { window: 4 });
      assert.equal(result.clean.length, 8);
      assert.equal(result.retries, 4);
      for (const page of pages) assert.ok(onDisk(filePath, page).equals(page.buffer as Buffer));
      await file.close();
    });

    it(`${kind}: a page whose writes stay short is reported with AIO_SHORT_WRITE after maxRetries`, async () => {
      const { aio } = context(kind);
      const file = aio.open(makeFile(2), { read: true, write: true });
      setInjection((info) => (info.op === 'write' && info.offset < PAGE ? Math.min(10, info.raw) : undefined));
      const result = await writeBack(aio, pagesFor(file, 2, 2), { maxRetries: 2 });
      assert.equal(result.failed.length, 1);
      assert.equal(result.failed[0].error.code, 'AIO_SHORT_WRITE');
      assert.equal(result.clean.length, 1);
      await file.close();
    });

    it(`${kind}: syncs several files once each, with fdatasync when asked, and skips files with no clean page`, async () => {
      const { aio } = context(kind);
      const files = [0, 1, 2].map(() => aio.open(makeFile(8), { read: true, write: true }));
      const syncs: string[] = [];
      const EIO = -5;
      setInjection((info) => {
        if (info.op === 'fsync' || info.op === 'fdatasync') syncs.push(`${info.op} ${info.path}`);
        return info.op === 'write' && info.path === files[2].path ? EIO : undefined;
      });
      const pages = files.flatMap((file) => pagesFor(file, 4, 8));
      const result = await writeBack(aio, pages, { sync: 'fdatasync' });
      assert.equal(result.failed.length, 4);
      assert.deepEqual(result.synced, [files[0], files[1]]);
      assert.deepEqual(syncs.sort(), [`fdatasync ${files[0].path}`, `fdatasync ${files[1].path}`]);
      for (const file of files) await file.close();
    });

    it(`${kind}: sync 'none' issues no sync, and an async iterable of pages works`, async () => {
      const { aio } = context(kind);
      const file = aio.open(makeFile(8), { read: true, write: true });
      const ops: string[] = [];
      setInjection((info) => void ops.push(info.op));
      async function* generate(): AsyncGenerator<Page> {
        for (const page of pagesFor(file, 8, 8)) {
          await Promise.resolve();
          yield page;
        }
      }
      const result = await writeBack(aio, generate(), { sync: 'none' });
      assert.equal(result.clean.length, 8);
      assert.deepEqual(result.synced, []);
      assert.ok(!ops.includes('fsync') && !ops.includes('fdatasync'));
      await file.close();
    });

    it(`${kind}: a throwing hook stops new writes, waits for those in flight, and rejects`, async () => {
      const { aio } = context(kind);
      const file = aio.open(makeFile(64), { read: true, write: true });
      let hooks = 0;
      const clean: number[] = [];
      let finalized = false;
      function* generate(): Generator<Page> {
        try {
          yield* pagesFor(file, 64, 64);
        } finally {
          finalized = true;
        }
      }
      await assert.rejects(
        writeBack(aio, generate(), {
          window: 4,
          beforeWrite: () => {
            if (++hooks === 10) throw new Error('log flush failed');
          },
          onClean: (page) => clean.push(page.id),
        }),
        /log flush failed/,
      );
      assert.equal(aio.stats().inFlight, 0);
      assert.ok(clean.length <= 9 && clean.every((id) => id < 9), 'no page after the failed hook was written');
      assert.ok(finalized, 'the page generator was closed');
      await file.close();
    });

    it(`${kind}: direct writes from an aligned page pool, pages given back when clean`, async (ctx) => {
      if (fs.constants.O_DIRECT === undefined) ctx.skip('no O_DIRECT here');
      const { aio } = context(kind);
      const filePath = makeFile(64);
      let file: AioFile;
      try {
        file = aio.open(filePath, { read: true, write: true, direct: true });
      } catch (error) {
        ctx.skip(`the temporary directory refuses O_DIRECT: ${(error as Error).message}`);
        return;
      }
      const pool = new AlignedPagePool(PAGE, 4);
      let written = 0;
      function* generate(): Generator<Page> {
        for (let i = 0; i < 40; i++) {
          const buffer = pool.get();
          assert.ok(buffer !== null, 'a page is free whenever the window has room');
          buffer.fill(i + 1);
          yield { id: i, file, offset: ((i * 13) % 64) * PAGE, buffer };
        }
      }
      const result = await writeBack(aio, generate(), {
        window: 4,
        onClean: (page) => {
          written++;
          pool.put(page.buffer);
        },
      });
      assert.equal(written, 40);
      assert.equal(result.failed.length, 0);
      assert.equal(pool.available, 4);
      await file.close();
    });

    it(`${kind}: malformed pages and options are usage errors`, async () => {
      const { aio } = context(kind);
      const file = aio.open(makeFile(1), { read: true, write: true });
      const usage = (code: string) => (e: unknown) => e instanceof AioUsageError && e.code === code;
      await assert.rejects(writeBack(aio, [{ file, offset: -1, buffer: Buffer.alloc(1) }]), usage('AIO_ERR_OUT_OF_RANGE'));
      await assert.rejects(writeBack(aio, [{ file: {} as AioFile, offset: 0, buffer: Buffer.alloc(1) }]), usage('AIO_ERR_INVALID_TYPE'));
      // Like every Promise of the convenience API, writeBack rejects (never throws) on misuse.
      await assert.rejects(writeBack(aio, 42 as never), usage('AIO_ERR_INVALID_TYPE'));
      await assert.rejects(writeBack(aio, [], { window: 0 }), usage('AIO_ERR_OUT_OF_RANGE'));
      await assert.rejects(writeBack(aio, [], { sync: 'later' as never }), usage('AIO_ERR_INVALID_OPTION'));
      assert.deepEqual((await writeBack(aio, [])).clean, []);
      await file.close();
    });
  });
}
