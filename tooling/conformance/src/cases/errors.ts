/** Failures from the OS are result values with Node's codes, raised only at the edge. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AioIoError, AioUsageError, allocAligned } from '@aio/core';
import { defineCase, filesystemOf } from '../fixture.js';
import type { Harness } from '../harness.js';
import type { MethodUnderTest } from '../methods.js';
import { runOp } from '../ops.js';
import { pattern } from '../util.js';

export function defineErrorCases(h: Harness, m: MethodUnderTest): void {
  defineCase(h, m, 'O_DIRECT reads and writes with aligned buffers round-trip', async (fx, t) => {
    const aio = fx.aio();
    if (!aio.capabilities.direct) t.skip(`the ${m.name} method does not do direct I/O on ${process.platform}`);
    const file = aio.open(fx.path(), { read: true, write: true, create: true, direct: true });
    const data = allocAligned(16384);
    pattern(16384, 9).copy(data);
    const written = await runOp(aio, file, { op: 'write', buffer: data, offset: 8192 });
    assert.equal(written.result.status, 'ok', `direct write: ${JSON.stringify(written.result)}`);
    const back = allocAligned(16384);
    const read = await runOp(aio, file, { op: 'read', buffer: back, offset: 8192 });
    assert.equal(read.result.status, 'ok');
    assert.ok(back.equals(data));
    await file.close();
  });

  defineCase(h, m, 'O_DIRECT with an unaligned buffer or offset fails with EINVAL', async (fx, t) => {
    const aio = fx.aio();
    if (!aio.capabilities.direct) t.skip(`the ${m.name} method does not do direct I/O on ${process.platform}`);
    const fsType = filesystemOf(fx.dir);
    if (fsType === undefined) t.skip('cannot tell the filesystem type here; unaligned direct I/O is only refused on block filesystems');
    if (fsType === 'tmpfs') t.skip(`${fx.dir} is on tmpfs, which accepts unaligned O_DIRECT; set AIO_CONFORMANCE_DIR to an ext4 path`);
    const file = aio.open(fx.path(65536), { read: true, direct: true });
    const unalignedBuffer = allocAligned(8192).subarray(100, 100 + 4096);
    const byBuffer = await runOp(aio, file, { op: 'read', buffer: unalignedBuffer, offset: 0 });
    assert.equal(byBuffer.result.status, 'error');
    assert.equal(byBuffer.toError().code, 'EINVAL');
    const byOffset = await runOp(aio, file, { op: 'read', buffer: allocAligned(4096), offset: 100 });
    assert.equal(byOffset.result.status, 'error');
    assert.equal(byOffset.toError().code, 'EINVAL');
    await file.close();
  });

  defineCase(h, m, 'IO on a file descriptor closed behind the library fails with EBADF', async (fx, t) => {
    const aio = fx.aio();
    if (aio.capabilities.fileKind !== 'fd') t.skip(`the ${m.name} method does not use POSIX file descriptors`);
    const fd = fs.openSync(fx.path(4096), 'r');
    const file = aio.fromFd(fd, { read: true });
    fs.closeSync(fd);
    const ret = await runOp(aio, file, { op: 'read', buffer: Buffer.alloc(16), offset: 0 });
    assert.equal(ret.result.status, 'error');
    assert.equal(ret.toError().code, 'EBADF');
    await file.close();
  });

  defineCase(h, m, 'writing a file opened read-only fails with EBADF', async (fx) => {
    const aio = fx.aio();
    const filePath = fx.path(4096);
    const file = aio.open(filePath, { read: true });
    const ret = await runOp(aio, file, { op: 'write', buffer: pattern(100, 1), offset: 0 });
    assert.equal(ret.result.status, 'error');
    const error = ret.toError();
    assert.equal(error.code, 'EBADF');
    assert.equal(error.syscall, 'write');
    assert.ok(fx.read(filePath).equals(pattern(4096, 1)), 'the file changed');
    await assert.rejects(file.write(Buffer.alloc(1), 0), (e: unknown) => e instanceof AioIoError && e.code === 'EBADF');
    await file.close();
  });

  defineCase(h, m, 'IO on a closed AioFile is a usage error', async (fx) => {
    const aio = fx.aio();
    const file = aio.open(fx.path(100));
    await file.close();
    const handle = aio.acquire();
    assert.throws(() => handle.startRead(file, Buffer.alloc(1), 0), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_FILE_CLOSED');
    assert.equal(handle.state, 'idle', 'the refused start gave the handle back');
    await assert.rejects(file.read(Buffer.alloc(1), 0), (e: unknown) => e instanceof AioUsageError && e.code === 'AIO_ERR_FILE_CLOSED');
  });

  defineCase(h, m, 'a full filesystem reports ENOSPC as an error result', async (fx, t) => {
    const aio = fx.aio();
    const mountPoint = mountSmallTmpfs(fx.dir, t.skip.bind(t));
    try {
      const file = aio.open(path.join(mountPoint, 'big'), { write: true, create: true });
      let sawEnospc = false;
      for (let offset = 0; offset < 1 << 20 && !sawEnospc; offset += 65536) {
        const ret = await runOp(aio, file, { op: 'write', buffer: pattern(65536, offset), offset });
        if (ret.result.status === 'error') {
          const error = ret.toError();
          assert.equal(error.code, 'ENOSPC');
          assert.equal(error.errno, ret.result.errno);
          assert.match(error.message, /no space left on device/);
          sawEnospc = true;
        }
      }
      assert.ok(sawEnospc, 'writing 1 MiB to a 256 KiB tmpfs never failed with ENOSPC');
      await assert.rejects(file.write(pattern(65536, 1), 1 << 20), (e: unknown) => e instanceof AioIoError && e.code === 'ENOSPC');
      await file.close();
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  });
}

/** Mounts a 256 KiB tmpfs under `dir`, or skips the case with the reason. */
function mountSmallTmpfs(dir: string, skip: (reason: string) => never): string {
  if (process.platform !== 'linux') skip(`mounting a small tmpfs needs Linux (this is ${process.platform})`);
  if (process.getuid?.() !== 0) skip('mounting a small tmpfs needs root');
  const mountPoint = path.join(dir, 'small');
  fs.mkdirSync(mountPoint);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch (error) {
    skip(`could not mount a tmpfs: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`);
  }
  return mountPoint;
}
