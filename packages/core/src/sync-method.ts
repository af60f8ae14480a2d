/**
 * The `sync` method: every IO runs synchronously, with node:fs's synchronous
 * calls, on the issuer's thread, when it is staged.
 *
 * It is PostgreSQL's `io_method=sync`: always available, useful for
 * debugging, the oracle the conformance suite compares every other method
 * with, and (through {@link executeWithNodeFs}) the fallback every other
 * method uses for what it cannot do asynchronously.
 */
import * as fs from 'node:fs';
import { errnoOf } from './errors.js';
import { AIO_OP, type AioIoView } from './method.js';
import type { AioMethod, AioMethodCapabilities, AioMethodFactory, AioProbeResult } from './method.js';

let EIO: number | undefined;
let ENOTSUP: number | undefined;
let EINVAL: number | undefined;

/**
 * Fills a `stat` IO's buffer (four float64, see AIO_STAT_FIELDS) from a
 * node:fs Stats.  Where the OS reports no block count (Windows), the
 * allocated bytes are taken as the size, the block size as 4096.
 */
export function fillStatBuffer(buffer: ArrayBufferView, stats: fs.Stats): void {
  const out = new Float64Array(buffer.buffer, buffer.byteOffset, 4);
  out[0] = stats.size;
  out[1] = Number.isFinite(stats.blocks) ? stats.blocks * 512 : stats.size;
  out[2] = Number.isFinite(stats.blksize) && stats.blksize > 0 ? stats.blksize : 4096;
  out[3] = stats.mtimeMs;
}

/**
 * Runs one IO with node:fs's synchronous calls and returns its raw result:
 * bytes transferred, or Node's negative errno (`stat` fills its buffer with
 * fstatSync, `truncate` is ftruncateSync, `allocate` is always ENOTSUP).  It never throws for an IO
 * failure; the fd is whatever the handle's file holds.
 */
export function executeWithNodeFs(handle: AioIoView): number {
  const fd = (handle.file as { fd: number }).fd;
  try {
    switch (handle.op) {
      case 1:
        return fs.readSync(fd, handle.buffer as NodeJS.ArrayBufferView, 0, handle.length, handle.offset);
      case 2:
        return fs.readvSync(fd, handle.buffers as readonly NodeJS.ArrayBufferView[], handle.offset);
      case 3:
        return fs.writeSync(fd, handle.buffer as NodeJS.ArrayBufferView, 0, handle.length, handle.offset);
      case 4:
        return fs.writevSync(fd, handle.buffers as readonly NodeJS.ArrayBufferView[], handle.offset);
      case 5:
        fs.fsyncSync(fd);
        return 0;
      case 6:
        fs.fdatasyncSync(fd);
        return 0;
      case AIO_OP.stat:
        fillStatBuffer(handle.buffer as ArrayBufferView, fs.fstatSync(fd));
        return 0;
      case AIO_OP.truncate:
        fs.ftruncateSync(fd, handle.offset);
        return 0;
      case AIO_OP.allocate:
        // node:fs has no fallocate: the core extends the file with truncate instead.
        return (ENOTSUP ??= errnoOf('ENOTSUP'));
      default:
        return (EINVAL ??= errnoOf('EINVAL'));
    }
  } catch (error) {
    const errno = (error as { errno?: unknown }).errno;
    return typeof errno === 'number' && errno < 0 ? errno : (EIO ??= errnoOf('EIO'));
  }
}

const SYNC_CAPABILITIES: AioMethodCapabilities = Object.freeze({
  // No `allocate`: node:fs has no allocation call (it reports ENOTSUP and the core extends with truncate).
  ops: Object.freeze(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync', 'stat', 'truncate'] as const),
  direct: fs.constants.O_DIRECT !== undefined,
  vectored: true,
  maxDepth: 1,
  completesOnOtherThread: false,
  fileKind: 'fd',
});

class SyncMethod implements AioMethod {
  readonly name = 'sync' as const;
  readonly capabilities = SYNC_CAPABILITIES;
  /** Nothing is ever in flight, so there is nothing to wait for before a close. */
  readonly waitOnFileBeforeClose = false;

  needsSynchronousExecution(): boolean {
    return true;
  }

  /** Never called: every IO is executed synchronously when it is staged. */
  submit(): number {
    throw new Error('the sync method never submits: every IO runs synchronously');
  }

  /** Returns at once: a sync IO has always completed before anyone can wait for it. */
  waitOne(): void {}

  close(): void {}
}

/** The `sync` method's factory. */
export function syncMethod(): AioMethodFactory {
  return {
    name: 'sync',
    probe(): AioProbeResult {
      return { available: true, reason: 'always available: runs every IO with node:fs synchronous calls' };
    },
    create(): AioMethod {
      return new SyncMethod();
    },
  };
}
