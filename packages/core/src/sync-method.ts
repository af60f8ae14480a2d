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
import type { AioIoView } from './method.js';
import type { AioMethod, AioMethodCapabilities, AioMethodFactory, AioProbeResult } from './method.js';

let EIO: number | undefined;

/**
 * Runs one IO with node:fs's synchronous calls and returns its raw result:
 * bytes transferred, or Node's negative errno.  It never throws for an IO
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
      default:
        return (EIO ??= errnoOf('EINVAL'));
    }
  } catch (error) {
    const errno = (error as { errno?: unknown }).errno;
    return typeof errno === 'number' && errno < 0 ? errno : (EIO ??= errnoOf('EIO'));
  }
}

const SYNC_CAPABILITIES: AioMethodCapabilities = Object.freeze({
  ops: Object.freeze(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync'] as const),
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
