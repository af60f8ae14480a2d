// Errors: Win32 codes come out as the codes node:fs gives on Windows.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { getSystemErrorMap } from 'node:util';
import { AioIoError } from '@aio/core';
import { binding, withFixture, skipReason } from './helpers.mjs';

const nameOf = (errno) => getSystemErrorMap().get(errno)?.[0];

describe('iocp errors', { skip: skipReason }, () => {
  it("iocp: every errno value the addon uses is Node's value for that name on Windows", () => {
    const table = binding().errnoTable();
    assert.ok(Object.keys(table).length >= 15);
    for (const [name, value] of Object.entries(table)) assert.equal(nameOf(value), name, `${name} is ${value} in the addon`);
  });

  it('iocp: Win32 errors map to the Node codes their meaning calls for', () => {
    const cases = [
      [38, 'transfer', 'EIO'], // ERROR_HANDLE_EOF never reaches the mapping: a read at EOF is 0 bytes
      [112, 'transfer', 'ENOSPC'], // ERROR_DISK_FULL
      [39, 'transfer', 'ENOSPC'], // ERROR_HANDLE_DISK_FULL
      [5, 'transfer', 'EBADF'], // ERROR_ACCESS_DENIED on a read/write: the HANDLE lacks that access
      [5, 'flush', 'EBADF'],
      [5, 'open', 'EPERM'], // what libuv (and so node:fs) says for open
      [87, 'transfer', 'EINVAL'], // ERROR_INVALID_PARAMETER (unaligned direct IO on Windows)
      [995, 'transfer', 'ECANCELED'], // ERROR_OPERATION_ABORTED (CancelIoEx)
      [6, 'transfer', 'EBADF'], // ERROR_INVALID_HANDLE
      [2, 'open', 'ENOENT'],
      [3, 'open', 'ENOENT'],
      [80, 'open', 'EEXIST'],
      [32, 'open', 'EBUSY'], // ERROR_SHARING_VIOLATION
      [19, 'transfer', 'EROFS'], // ERROR_WRITE_PROTECT
      [4, 'open', 'EMFILE'],
      [206, 'open', 'ENAMETOOLONG'],
      [1784, 'transfer', 'ENOMEM'], // ERROR_INVALID_USER_BUFFER: too much IO outstanding
      [267, 'open', 'ENOENT'], // ERROR_DIRECTORY: libuv's ENOENT (this table said ENOTDIR before the kit's)
      [998, 'transfer', 'EACCES'], // ERROR_NOACCESS: libuv's EACCES (this table said EFAULT)
      [1, 'transfer', 'EISDIR'], // ERROR_INVALID_FUNCTION: libuv's EISDIR (this table said EINVAL)
      [23, 'transfer', 'EIO'], // ERROR_CRC
      [123456, 'transfer', 'EIO'], // unknown: still an IO error
    ];
    for (const [code, call, name] of cases) assert.equal(nameOf(binding().mapWin32Error(code, call)), name, `Win32 error ${code} on ${call}`);
  });

  it('iocp: opening fails with ENOENT, EEXIST and EISDIR like node:fs, as AioIoError with syscall open', async () => {
    await withFixture(async (fx) => {
      const aio = fx.aio();
      fs.writeFileSync(fx.file('exists'), 'x');
      const attempts = [
        [() => aio.open(fx.file('missing')), 'ENOENT'],
        [() => aio.open(fx.file('exists'), { write: true, create: true, exclusive: true }), 'EEXIST'],
        [() => aio.open(fx.dir), 'EISDIR'],
      ];
      for (const [open, code] of attempts) {
        assert.throws(open, (e) => e instanceof AioIoError && e.code === code && e.syscall === 'open' && e.method === 'iocp' && typeof e.path === 'string');
      }
    });
  });

  it('iocp: writing or syncing a file opened read-only fails with EBADF', async () => {
    await withFixture(async (fx) => {
      fs.writeFileSync(fx.file('ro'), 'abc');
      const file = fx.aio().open(fx.file('ro'));
      await assert.rejects(file.write(Buffer.from('x'), 0), (e) => e instanceof AioIoError && e.code === 'EBADF' && e.syscall === 'write');
      await assert.rejects(file.sync(), (e) => e instanceof AioIoError && e.code === 'EBADF' && e.syscall === 'fsync');
      assert.equal(fs.readFileSync(fx.file('ro'), 'utf8'), 'abc');
    });
  });

  it('iocp: IO on a number that is not one of the context\'s files fails with EBADF, never reaching ReadFile', async () => {
    await withFixture(async (fx) => {
      const aio = fx.aio();
      const file = aio.open(fx.file('f'), { read: true, write: true, create: true });
      const real = file.fd;
      file.fd = real + 4000; // a made-up HANDLE value
      await assert.rejects(file.read(Buffer.alloc(4), 0), (e) => e instanceof AioIoError && e.code === 'EBADF');
      file.fd = real;
    });
  });
});
