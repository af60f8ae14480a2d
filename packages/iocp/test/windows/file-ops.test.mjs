// The file operations (issue 14 item 6) on iocp: a completion port has no
// stat, truncate or allocate, and node:fs cannot use the method's HANDLEs, so
// the core runs them through the addon's executeSync (GetFileInformationByHandleEx,
// SetFileInformationByHandle).  node:fs opens the same path on its own to compare.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { getSystemErrorMap } from 'node:util';
import { AIO_OP } from '@aio/core';
import { binding, pattern, skipReason, underWine, withFixture } from './helpers.mjs';

/** node:fs's answer for the path, in the shape of `file.stat()`. */
function nodeStat(path) {
  const stats = fs.statSync(path);
  return { size: stats.size, allocatedBytes: stats.blocks * 512, blockSize: stats.blksize, modifiedMs: stats.mtimeMs };
}

describe('iocp file operations', { skip: skipReason }, () => {
  it('iocp: stat, truncate and allocate run synchronously in the addon on the HANDLE and agree with node:fs', async () => {
    await withFixture(async (fx) => {
      fs.writeFileSync(fx.file('f'), pattern(10_000, 1));
      const aio = fx.aio();
      const file = aio.open(fx.file('f'), { read: true, write: true });
      assert.deepEqual(await file.stat(), nodeStat(fx.file('f')));
      await file.truncate(1000);
      assert.ok(fs.readFileSync(fx.file('f')).equals(pattern(10_000, 1).subarray(0, 1000)));
      file.truncateSync(3000);
      assert.equal(fs.statSync(fx.file('f')).size, 3000);
      assert.deepEqual(file.statSync(), nodeStat(fx.file('f')));
      const stats = aio.stats();
      assert.equal(stats.methodStats.executedSync, 4, 'every one ran in the addon');
      assert.equal(stats.methodStats.submitted, 0, 'none reached the completion port');
      await file.close();
    });
  });

  it('iocp: allocate grows the allocation and the size to the range end; keepSize leaves the size', async () => {
    await withFixture(async (fx) => {
      fs.writeFileSync(fx.file('a'), pattern(100, 2));
      const aio = fx.aio();
      const file = aio.open(fx.file('a'), { read: true, write: true });
      // Wine 8 has no FileAllocationInfo (ERROR_CALL_NOT_IMPLEMENTED): the addon says ENOTSUP, the core extends.
      const expected = underWine ? 'extended' : 'allocated';
      assert.equal(await file.allocate(0, 1 << 20), expected);
      assert.equal(nodeStat(fx.file('a')).size, 1 << 20);
      if (!underWine) assert.ok((await file.stat()).allocatedBytes >= 1 << 20);
      assert.equal(file.allocateSync(1 << 20, 1 << 20, { keepSize: true }), expected);
      const after = await file.stat();
      assert.equal(after.size, 1 << 20, 'keepSize: the end of file stays');
      if (!underWine) assert.ok(after.allocatedBytes >= 2 << 20);
      assert.ok(fs.readFileSync(fx.file('a')).subarray(0, 100).equals(pattern(100, 2)));
      // A range inside what is allocated already calls nothing that could shrink it.
      assert.equal(await file.allocate(0, 10), 'allocated');
      assert.equal((await file.stat()).size, 1 << 20);
      await file.close();
    });
  });

  it('iocp: a truncate or allocate on a HANDLE opened read-only fails (EBADF on Windows) and changes nothing', async () => {
    await withFixture(async (fx) => {
      fs.writeFileSync(fx.file('r'), pattern(100, 3));
      const aio = fx.aio();
      const file = aio.open(fx.file('r'));
      // Windows refuses the write access the HANDLE lacks (ERROR_ACCESS_DENIED: EBADF); Wine 8 lets
      // ftruncate(2) of its read-only fd refuse the truncate (EINVAL), but checks access for allocate.
      const code = underWine ? 'EINVAL' : 'EBADF';
      await assert.rejects(file.truncate(10), (e) => e.code === code && e.syscall === 'ftruncate');
      await assert.rejects(file.allocate(0, 4096), (e) => e.code === 'EBADF' && e.syscall === 'fallocate');
      assert.equal(fs.statSync(fx.file('r')).size, 100);
      await file.close();
    });
  });

  it('iocp: a file op on a HANDLE the context did not open is EBADF, and a short stat buffer EINVAL, in the addon', () => {
    const addon = binding();
    const ctx = addon.create({ maxConcurrency: 4 }, new Float64Array(320), new Int32Array(12), () => {});
    const errno = (name) => [...getSystemErrorMap()].find(([, [n]]) => n === name)?.[0];
    assert.equal(addon.executeSync(ctx, AIO_OP.stat, 12344, 0, 32, [new Float64Array(4)]), errno('EBADF'));
    assert.equal(addon.executeSync(ctx, AIO_OP.truncate, 12344, 0, 0, []), errno('EBADF'));
    assert.equal(addon.executeSync(ctx, AIO_OP.allocate, 12344, 0, 4096, [], 8), errno('EBADF'));
    assert.equal(addon.executeSync(ctx, AIO_OP.stat, 12344, 0, 32, [new Float64Array(2)]), errno('EINVAL'));
    addon.close(ctx);
  });
});
