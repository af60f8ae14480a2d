// The Win32 path of the threadpool method: files opened by the addon itself
// (CreateFileW), positional ReadFile/WriteFile in the workers, FlushFileBuffers.
// A node:test file that only means something inside the Windows node.exe;
// tooling/windows/test-windows.sh runs it there (under Wine in this project).
// On any other platform every test skips with the reason.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { getSystemErrorMap } from 'node:util';
import { Aio, AioReturn, AioWaitRef, AioIoError, AioAbortError } from '@aio/core';
import { threadpool, probe, poolInfo } from '../../dist/index.js';
import { pauseWorkers, resumeWorkers } from '../../dist/testing.js';

const probed = probe();
const skip =
  process.platform !== 'win32'
    ? `the Win32 path of the threadpool method needs Windows (this is ${process.platform}); run pnpm test:windows`
    : probed.available
      ? undefined
      : `the threadpool method is unavailable: ${probed.reason}`;

function pattern(length, seed) {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return bytes;
}

async function withContext(options, body) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-threadpool-'));
  const aio = new Aio({ method: threadpool(options) });
  try {
    await body(aio, (name) => path.join(dir, name));
  } finally {
    if (!aio.closed) await aio.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('threadpool on Windows', { skip }, () => {
  it('threadpool: files are Win32 HANDLEs the method opens itself, and IO through the workers round-trips', async () => {
    await withContext(undefined, async (aio, file) => {
      assert.equal(aio.capabilities.fileKind, 'win32-handle');
      const f = aio.open(file('a'), { read: true, write: true, create: true });
      const writes = Array.from({ length: 64 }, (_, i) => f.write(pattern(4096, i), i * 4096));
      assert.deepEqual(await Promise.all(writes), Array(64).fill(4096));
      await f.sync();
      await f.datasync();
      const buffers = Array.from({ length: 64 }, () => Buffer.alloc(4096));
      assert.deepEqual(await Promise.all(buffers.map((b, i) => f.read(b, i * 4096))), Array(64).fill(4096));
      buffers.forEach((b, i) => assert.ok(b.equals(pattern(4096, i)), `block ${i}`));
      assert.ok(poolInfo().executed >= 130);
      await f.close();
      // The same bytes through node:fs: the HANDLE wrote the real file.
      assert.ok(fs.readFileSync(file('a')).subarray(4096, 8192).equals(pattern(4096, 1)));
    });
  });

  it('threadpool: readv and writev move each buffer in turn, and a read at the end of the file is short, then empty', async () => {
    await withContext(undefined, async (aio, file) => {
      const f = aio.open(file('v'), { read: true, write: true, create: true });
      const parts = [pattern(100, 1), pattern(1, 2), pattern(5000, 3), pattern(7, 4), pattern(300, 5), pattern(9, 6)];
      assert.equal(await f.writev(parts, 10), 5417);
      const back = parts.map((p) => Buffer.alloc(p.length));
      assert.equal(await f.readv(back, 10), 5417);
      back.forEach((b, i) => assert.ok(b.equals(parts[i]), `part ${i}`));
      assert.equal(await f.read(Buffer.alloc(100), 5400), 27);
      assert.equal(await f.read(Buffer.alloc(100), 6000), 0);
      const ret = new AioReturn();
      const ref = new AioWaitRef();
      const handle = aio.acquire(ret);
      handle.getWaitRef(ref);
      handle.startReadv(f, [Buffer.alloc(20), Buffer.alloc(20)], 5410);
      await ref.wait();
      assert.equal(ret.result.status, 'partial');
      assert.equal(ret.result.result, 17);
      await f.close();
    });
  });

  it("threadpool: open and IO errors carry Node's codes for Windows", async () => {
    await withContext(undefined, async (aio, file) => {
      const names = (errno) => getSystemErrorMap().get(errno)?.[0];
      assert.throws(() => aio.open(file('missing')), (error) => error instanceof AioIoError && error.code === 'ENOENT' && error.syscall === 'open');
      fs.writeFileSync(file('exists'), 'x');
      assert.throws(() => aio.open(file('exists'), { write: true, create: true, exclusive: true }), (e) => e.code === 'EEXIST');
      const readOnly = aio.open(file('exists'));
      await assert.rejects(readOnly.write(Buffer.from('y'), 0), (e) => e instanceof AioIoError && e.code === 'EBADF' && names(e.errno) === 'EBADF');
      await readOnly.close();
    });
  });

  it('threadpool: a queued IO can be cancelled, and a full queue runs the IO in the submitting thread', async () => {
    await withContext({ queueSize: 2 }, async (aio, file) => {
      const f = aio.open(file('q'), { read: true, write: true, create: true });
      await f.write(pattern(16384, 9), 0);
      const controller = new AbortController();
      pauseWorkers();
      let cancelled, reads;
      try {
        cancelled = f.write(Buffer.alloc(4096, 0xee), 0, { signal: controller.signal });
        reads = [1, 2, 3].map((i) => f.read(Buffer.alloc(4096), i * 4096));
        controller.abort();
      } finally {
        resumeWorkers();
      }
      await assert.rejects(cancelled, AioAbortError);
      assert.deepEqual(await Promise.all(reads), [4096, 4096, 4096]);
      const stats = aio.stats().methodStats;
      assert.equal(stats.canceled, 1);
      assert.equal(stats.ranInSubmit, 2);
      const first = Buffer.alloc(4096);
      await f.read(first, 0);
      assert.ok(first.equals(pattern(16384, 9).subarray(0, 4096)));
      await f.close();
    });
  });

  it('threadpool: FILE_FLAG_NO_BUFFERING files take aligned IO, and a references-local IO runs synchronously', async () => {
    await withContext(undefined, async (aio, file) => {
      fs.writeFileSync(file('d'), pattern(65536, 4));
      const f = aio.open(file('d'), { read: true, write: true, direct: true });
      const slab = Buffer.from(new WebAssembly.Memory({ initial: 1, maximum: 1 }).buffer, 0, 8192);
      assert.equal(await f.read(slab.subarray(0, 4096), 8192), 4096);
      assert.ok(slab.subarray(0, 4096).equals(pattern(65536, 4).subarray(8192, 12288)));
      const ret = new AioReturn();
      const ref = new AioWaitRef();
      const handle = aio.acquire(ret);
      handle.getWaitRef(ref);
      handle.setFlag('references-local');
      handle.startRead(f, slab.subarray(4096), 0);
      assert.equal(ret.result.result, 4096);
      assert.equal(aio.stats().synchronous, 1);
      await f.close();
    });
  });
});
