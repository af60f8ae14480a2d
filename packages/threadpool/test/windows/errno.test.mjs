// The kit's one Windows errno table (tooling/native/include/aio/win_errno.h),
// through the threadpool addon, its first user on Windows: every number is
// Node's for its name, the codes the iocp and threadpool tables used to
// disagree on map as libuv does, and open failures match node:fs.
// Runs in the Windows node.exe (tooling/windows/test-windows.sh); skips elsewhere.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { getSystemErrorMap } from 'node:util';
import { Aio, AioIoError } from '@aio/core';
import { loadBinding, threadpool } from '../../dist/index.js';

const loaded = process.platform === 'win32' ? loadBinding() : undefined;
const skip =
  process.platform !== 'win32'
    ? `the Windows errno table needs Windows (this is ${process.platform}); run pnpm test:windows`
    : 'binding' in loaded
      ? undefined
      : `the threadpool addon is unavailable: ${loaded.reason}`;
const nameOf = (errno) => getSystemErrorMap().get(errno)?.[0];

describe('the kit Windows errno table', { skip }, () => {
  it("kit: every errno value of the Windows table is Node's value for that name", () => {
    const table = loaded.binding.errnoTable();
    assert.ok(Object.keys(table).length >= 20);
    for (const [name, value] of Object.entries(table)) assert.equal(nameOf(value), name, `${name} is ${value} in the kit`);
  });

  it('kit: the codes the two old tables disagreed on map as libuv does', () => {
    const map = (code, call) => nameOf(loaded.binding.mapWin32Error(code, call));
    const cases = [
      [267, 'open', 'ENOENT'], // ERROR_DIRECTORY: libuv says ENOENT (iocp had ENOTDIR)
      [5, 'open', 'EPERM'], // ERROR_ACCESS_DENIED on open: EPERM in Node 20's libuv (iocp had EACCES)
      [5, 'transfer', 'EBADF'], // ... on a read or write: the HANDLE lacks the access, as libuv's fs__read says
      [5, 'flush', 'EBADF'],
      [1, 'transfer', 'EISDIR'], // ERROR_INVALID_FUNCTION (both had EINVAL)
      [998, 'transfer', 'EACCES'], // ERROR_NOACCESS (iocp had EFAULT, threadpool EIO)
      [161, 'open', 'ENOENT'], // ERROR_BAD_PATHNAME (threadpool had EIO)
      [13, 'transfer', 'EINVAL'], // ERROR_INVALID_DATA (threadpool had EIO)
      [122, 'transfer', 'EINVAL'], // ERROR_INSUFFICIENT_BUFFER (threadpool had EIO)
      [50, 'transfer', 'ENOTSUP'], // ERROR_NOT_SUPPORTED (threadpool had EIO)
      [1314, 'open', 'EPERM'], // ERROR_PRIVILEGE_NOT_HELD (threadpool had EIO)
      [223, 'transfer', 'EFBIG'], // ERROR_FILE_TOO_LARGE: not in libuv's table (threadpool had EIO)
      [1784, 'transfer', 'ENOMEM'], // ERROR_INVALID_USER_BUFFER: too much IO outstanding
      [995, 'transfer', 'ECANCELED'], // ERROR_OPERATION_ABORTED
      [112, 'transfer', 'ENOSPC'],
      [2, 'open', 'ENOENT'],
      [32, 'open', 'EBUSY'],
      [19, 'transfer', 'EROFS'],
      [23, 'transfer', 'EIO'], // ERROR_CRC
      [123456, 'transfer', 'EIO'], // unknown: still an IO error
    ];
    for (const [code, call, name] of cases) assert.equal(map(code, call), name, `Win32 error ${code} on ${call}`);
  });

  // ERROR_ACCESS_DENIED on open cannot be provoked here: Wine runs as root, which opens a read-only file for
  // writing anyway.  The cases below are what Wine can produce.
  it('kit: open failures carry the codes node:fs gives for the same path', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-errno-'));
    const aio = new Aio({ method: threadpool() });
    try {
      const existing = path.join(dir, 'exists');
      fs.writeFileSync(existing, 'x');
      const cases = [
        [path.join(dir, 'missing'), { read: true }, 'r'], // ERROR_FILE_NOT_FOUND
        [path.join(dir, 'no-such-dir', 'file'), { read: true }, 'r'], // ERROR_PATH_NOT_FOUND
        [existing, { read: true, write: true, create: true, exclusive: true }, 'wx+'], // ERROR_FILE_EXISTS
      ];
      for (const [target, flags, nodeFlags] of cases) {
        const expected = (() => {
          try {
            fs.closeSync(fs.openSync(target, nodeFlags));
            return 'opened';
          } catch (error) {
            return error.code;
          }
        })();
        assert.notEqual(expected, 'opened');
        assert.throws(
          () => aio.open(target, flags),
          (e) => e instanceof AioIoError && e.code === expected && e.syscall === 'open',
          `${target} (${nodeFlags}) should fail with ${expected}`,
        );
      }
      // A directory: EISDIR, as libuv's fs__open reports it on Windows for 'r+' (Wine's node:fs opens it, so this
      // one is not compared with node:fs here).
      assert.throws(
        () => aio.open(dir, { read: true, write: true }),
        (e) => e instanceof AioIoError && e.code === 'EISDIR' && e.syscall === 'open',
      );
    } finally {
      await aio.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
