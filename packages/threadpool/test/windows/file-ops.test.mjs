// The file operations (issue 14 item 6) on the Win32 build of the threadpool
// method: the workers run stat, truncate and allocate on the HANDLE
// (GetFileInformationByHandleEx, SetFileInformationByHandle with
// FileEndOfFileInfo and FileAllocationInfo), and the synchronous path runs
// the same code.  node:fs opens the same path on its own to compare.
// A node:test file that only means something inside the Windows node.exe.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Aio } from '@aio/core';
import { threadpool, probe } from '../../dist/index.js';

const skip =
  process.platform !== 'win32'
    ? `the Win32 path of the threadpool method needs Windows (this is ${process.platform}); run pnpm test:windows`
    : probe().available
      ? undefined
      : `the threadpool method is unavailable: ${probe().reason}`;

/** Wine passes its environment on to Windows programs; Windows itself has no WINEPREFIX. */
const underWine = process.env.WINEPREFIX !== undefined;

/** A context and a scratch folder for `body`, both gone afterwards. */
async function inScratch(body) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-threadpool-fileops-'));
  const aio = new Aio({ method: threadpool() });
  try {
    await body(aio, (name) => path.join(dir, name));
  } finally {
    if (!aio.closed) await aio.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** node:fs's answer for the path, in the shape of `file.stat()`. */
function statByNodeFs(where) {
  const stats = fs.statSync(where);
  return { size: stats.size, allocatedBytes: stats.blocks * 512, blockSize: stats.blksize, modifiedMs: stats.mtimeMs };
}

describe('threadpool file operations on Windows', { skip }, () => {
  it('threadpool: stat and truncate on a HANDLE agree with node:fs, on the workers and synchronously', async () => {
    await inScratch(async (aio, file) => {
      fs.writeFileSync(file('s'), Buffer.alloc(12_345, 7));
      const f = aio.open(file('s'), { read: true, write: true });
      assert.deepEqual(await f.stat(), statByNodeFs(file('s')));
      await f.truncate(100);
      assert.equal(fs.statSync(file('s')).size, 100);
      f.truncateSync(5000);
      const bytes = fs.readFileSync(file('s'));
      assert.ok(bytes.subarray(0, 100).every((b) => b === 7) && bytes.subarray(100).every((b) => b === 0));
      assert.deepEqual(f.statSync(), statByNodeFs(file('s')));
      await f.close();
    });
  });

  it('threadpool: allocate reserves up to the range end and moves the end of file unless keepSize', async () => {
    await inScratch(async (aio, file) => {
      fs.writeFileSync(file('a'), 'abc');
      const f = aio.open(file('a'), { read: true, write: true });
      // Wine 8 has no FileAllocationInfo (ERROR_CALL_NOT_IMPLEMENTED): the addon says ENOTSUP, the core extends.
      const expected = underWine ? 'extended' : 'allocated';
      assert.equal(await f.allocate(4096, 1 << 20), expected);
      const grown = await f.stat();
      assert.equal(grown.size, 4096 + (1 << 20));
      if (!underWine) assert.ok(grown.allocatedBytes >= grown.size);
      assert.equal(f.allocateSync(grown.size, 1 << 20, { keepSize: true }), expected);
      assert.equal((await f.stat()).size, grown.size, 'keepSize: the end of file stays');
      assert.equal(fs.readFileSync(file('a')).subarray(0, 3).toString(), 'abc');
      await f.close();
    });
  });

  it('threadpool: truncate and allocate on a read-only HANDLE fail (EBADF on Windows) and change nothing', async () => {
    await inScratch(async (aio, file) => {
      fs.writeFileSync(file('r'), 'read only');
      const f = aio.open(file('r'));
      // Windows refuses the write access the HANDLE lacks (ERROR_ACCESS_DENIED: EBADF); Wine 8 lets
      // ftruncate(2) of its read-only fd refuse the truncate (EINVAL), but checks access for allocate.
      const code = underWine ? 'EINVAL' : 'EBADF';
      await assert.rejects(f.truncate(1), (e) => e.code === code && e.syscall === 'ftruncate');
      await assert.rejects(f.allocate(0, 4096), (e) => e.code === 'EBADF' && e.syscall === 'fallocate');
      assert.throws(() => f.truncateSync(1), (e) => e.code === code);
      assert.equal(fs.readFileSync(file('r')).toString(), 'read only');
      await f.close();
    });
  });
});
