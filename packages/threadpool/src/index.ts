/**
 * @aio/threadpool: the `threadpool` IO method, PostgreSQL's `worker` method
 * with native threads.  One process-wide pool of worker threads of its own
 * (pthreads, or Win32 threads), never libuv's, runs every context's IO with
 * plain synchronous system calls; completions come back to each context's
 * event loop in batches.  See README.md for the design.
 */
import { availableParallelism } from 'node:os';
import { AioUsageError, type AioFile, type AioMethodFactory, type AioOpenFlags, type AioProbeResult } from '@aio/core';
import { defineNativeMethod, ioViews, nativeCapabilities, nativeHandleFiles, nativeOption } from '@aio/core/method';
import type { AioNativeBinding, AioOpName, NativeBindingLoad } from '@aio/core/method';

/** The method's name, as in `AIO_METHOD=threadpool`. */
export const methodName = 'threadpool' as const;

/** The most worker threads the pool runs (PostgreSQL's MAX_IO_WORKERS). */
export const THREADPOOL_MAX_WORKERS = 32;

/** The largest submission queue the pool accepts. */
export const THREADPOOL_MAX_QUEUE_SIZE = 1024;

/** The queue bound when nobody chose one. */
export const THREADPOOL_DEFAULT_QUEUE_SIZE = 256;

/** Options of {@link threadpool}.  Both apply to the one process-wide pool. */
export interface ThreadpoolOptions {
  /**
   * Worker threads (1 to 32).  Default: `AIO_THREADPOOL_WORKERS`, else
   * {@link defaultWorkerCount} (16 to 32).  An explicit value resizes the running pool
   * for every context (the last explicit value wins, like a reloaded
   * PostgreSQL `io_workers`); defaults never override an explicit value.
   */
  workers?: number;
  /**
   * The most IOs waiting in the pool's queue (1 to 1024, default 256).  When
   * it is full, the submitting thread runs the IO itself.
   */
  queueSize?: number;
}

/** The pool's numbers, from {@link poolInfo}. */
export interface ThreadpoolInfo {
  /** Workers that take work now (the configured size). */
  workers: number;
  /** Threads created; more than `workers` after a shrink (the surplus ones park). */
  threads: number;
  queueSize: number;
  /** IOs queued right now. */
  queued: number;
  queuedPeak: number;
  /** Open contexts using the pool, in every thread. */
  contexts: number;
  /** Node environments (main thread, worker_threads) that loaded the addon. */
  environments: number;
  /** IOs run by workers since the process started. */
  executed: number;
  /** Times a submitter or a worker woke an idle worker. */
  wakeups: number;
  /** Times the pool started (it stops when the last environment goes away). */
  starts: number;
}

/** The addon's functions: the core's contract plus the pool's extras. */
export interface ThreadpoolBinding extends AioNativeBinding {
  /** One IO on the calling thread with the workers' code; `flags` (AIO_FLAG_*) matters to allocate only. */
  executeSync(op: number, file: number, offset: number, length: number, views: readonly ArrayBufferView[], flags?: number): number;
  poolInfo(): ThreadpoolInfo;
  setPaused(paused: boolean): void;
  /** Windows only: CreateFileW; a HANDLE (owned by the context until closeFile) as a number, or a negative errno. */
  openFile?(context: object, path: string, flags: Required<AioOpenFlags>): number;
  /** Windows only: CloseHandle of a HANDLE the context opened; 0 or a negative errno. */
  closeFile?(context: object, handle: number): number;
}

const OPTIONS = {
  workers: nativeOption.integer(1, THREADPOOL_MAX_WORKERS),
  queueSize: nativeOption.integer(1, THREADPOOL_MAX_QUEUE_SIZE),
};

const pool = defineNativeMethod<ThreadpoolBinding, typeof OPTIONS>({
  name: methodName,
  packageUrl: import.meta.url,
  addon: 'aio_threadpool',
  // The memcheck script's `--addon` runs a scratch build of the addon.
  addonPathVariable: 'AIO_THREADPOOL_ADDON',
  options: OPTIONS,
  // The addon loads and a native thread starts.
  probe: (binding) => binding.probe(),
  describeProbe(result, binding, options) {
    const workers = options.workers ?? workersFromEnvironmentSafe() ?? defaultWorkerCount();
    return {
      available: true,
      reason: `native worker pool (${workers} threads, queue ${options.queueSize ?? THREADPOOL_DEFAULT_QUEUE_SIZE}); ${result.reason}`,
      details: { workers, running: binding.poolInfo().threads, platform: process.platform },
    };
  },
  context: (binding, options, context) => ({
    // IO runs on the pool's threads (completesOnOtherThread), so IO on memory only the
    // issuing thread may touch runs synchronously (PostgreSQL X14; defineNativeMethod's rule).
    capabilities: capabilities(context.maxConcurrency),
    options: { ...options, defaultWorkers: workersFromEnvironment() ?? defaultWorkerCount() },
    // The core's synchronous path runs the workers' own code (executeSync), never node:fs.
    executeSynchronously: (_native, handle) =>
      binding.executeSync(handle.op, (handle.file as AioFile).fd, handle.offset, handle.length, ioViews(handle), handle.flags),
    // Windows: files are HANDLEs the addon opens (CreateFileW) and closes.
    ...(binding.openFile !== undefined &&
      binding.closeFile !== undefined &&
      nativeHandleFiles(methodName, binding as Required<ThreadpoolBinding>)),
  }),
});

/**
 * The addon, loaded once: `build/Release/` (`build/win32-x64/` on Windows,
 * `build/asan/` with AIO_NATIVE_VARIANT=asan).  `AIO_THREADPOOL_ADDON` may
 * name any other build of it by path (the memcheck script's `--addon`, to
 * run a scratch build).
 */
export function loadBinding(): NativeBindingLoad<ThreadpoolBinding> {
  return pool.loadBinding();
}

/**
 * The default pool size: four threads per CPU the process may use, at least
 * 16 and at most 32.  A worker waiting for a device costs no CPU, and the
 * devices this targets (NVMe, cloud block storage) keep 16 and more reads
 * in flight, so the floor is about the device, not the CPUs; an idle worker
 * costs nothing, because workers are woken only when the backlog is worth a
 * wake-up.  See README.md ("Sizing") for the measurements behind it.
 */
export function defaultWorkerCount(): number {
  return Math.min(THREADPOOL_MAX_WORKERS, Math.max(16, 4 * availableParallelism()));
}

/** `AIO_THREADPOOL_WORKERS`, validated, or undefined when unset. */
function workersFromEnvironment(): number | undefined {
  const text = process.env.AIO_THREADPOOL_WORKERS;
  if (text === undefined || text.trim() === '') return undefined;
  return OPTIONS.workers.check(Number(text), `AIO_THREADPOOL_WORKERS (${JSON.stringify(text)})`, (_problem, message) => {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', message);
  });
}

function workersFromEnvironmentSafe(): number | undefined {
  try {
    return workersFromEnvironment();
  } catch {
    return undefined;
  }
}

/** Every op, the file operations included: the workers run them all asynchronously. */
const THREADPOOL_OPS: readonly AioOpName[] = ['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync', 'stat', 'truncate', 'allocate'];

function capabilities(maxConcurrency: number) {
  const windows = process.platform === 'win32';
  // Direct I/O: O_DIRECT where node:fs knows it; Windows: CreateFileW with FILE_FLAG_NO_BUFFERING.
  return nativeCapabilities({
    // The file operations are blocking calls like the rest, so the workers run them too
    // (fstat/ftruncate/fallocate; Windows: GetFileInformationByHandleEx/SetFileInformationByHandle).
    ops: THREADPOOL_OPS,
    // POSIX: one preadv/pwritev per IO; Windows: one ReadFile/WriteFile per buffer.
    vectored: !windows,
    maxDepth: maxConcurrency,
    completesOnOtherThread: true,
    fileKind: windows ? 'win32-handle' : 'fd',
  });
}

/**
 * The live probe: the addon loads and a native thread starts.  Never throws.
 */
export function probe(options?: ThreadpoolOptions): AioProbeResult {
  return pool.probe(options);
}

/**
 * The threadpool method's factory.  Throws AioUsageError
 * ('AIO_ERR_INVALID_OPTION') for bad options at once; `create()` throws
 * AIO_ERR_METHOD_UNAVAILABLE when the addon is not there.
 */
export function threadpool(options?: ThreadpoolOptions): AioMethodFactory {
  return pool.factory(options);
}

/** Alias of {@link threadpool}: every backend package exports `method`. */
export const method = threadpool;

/** The process-wide pool's numbers (all zero before the first IO). */
export function poolInfo(): ThreadpoolInfo {
  return pool.requireBinding().poolInfo();
}
