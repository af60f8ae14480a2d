/**
 * @aio/threadpool: the `threadpool` IO method, PostgreSQL's `worker` method
 * with native threads.  One process-wide pool of worker threads of its own
 * (pthreads, or Win32 threads), never libuv's, runs every context's IO with
 * plain synchronous system calls; completions come back to each context's
 * event loop in batches.  See README.md for the design.
 */
import { constants } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { getSystemErrorName } from 'node:util';
import {
  AIO_FLAG_REFERENCES_LOCAL,
  AioIoError,
  AioUsageError,
  type AioFile,
  type AioHandle,
  type AioMethod,
  type AioMethodCapabilities,
  type AioMethodContext,
  type AioMethodFactory,
  type AioMethodHost,
  type AioOpenFlags,
  type AioProbeResult,
} from '@aio/core';
import {
  NativeMethod,
  loadNativeBinding,
  unavailableMethod,
  type AioNativeBinding,
  type AioNativeContext,
  type NativeMethodSpec,
} from '@aio/core/method';

/** The method's name, as in `AIO_METHOD=threadpool`. */
export const methodName = 'threadpool';

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
  executeSync(op: number, file: number, offset: number, length: number, views: readonly ArrayBufferView[]): number;
  poolInfo(): ThreadpoolInfo;
  setPaused(paused: boolean): void;
  /** Windows only: CreateFileW; a HANDLE (owned by the context until closeFile) as a number, or a negative errno. */
  openFile?(context: object, path: string, flags: Required<AioOpenFlags>): number;
  /** Windows only: CloseHandle of a HANDLE the context opened; 0 or a negative errno. */
  closeFile?(context: object, handle: number): number;
}

const ADDON_NAME = 'aio_threadpool';
let loaded: { binding: ThreadpoolBinding } | { reason: string } | undefined;

/**
 * The addon, loaded once: `build/Release/` (`build/win32-x64/` on Windows,
 * `build/asan/` with AIO_NATIVE_VARIANT=asan).  `AIO_THREADPOOL_ADDON` may
 * name any other build of it by path (the memcheck script's `--addon`, to
 * run a scratch build).
 */
export function loadBinding(): { binding: ThreadpoolBinding } | { reason: string } {
  if (loaded !== undefined) return loaded;
  const override = process.env.AIO_THREADPOOL_ADDON;
  if (override !== undefined && override !== '') {
    try {
      loaded = { binding: createRequire(import.meta.url)(override) as ThreadpoolBinding };
    } catch (error) {
      loaded = { reason: `addon failed to load from AIO_THREADPOOL_ADDON=${override}: ${(error as Error).message.split('\n')[0]}` };
    }
  } else {
    loaded = loadNativeBinding<ThreadpoolBinding>(import.meta.url, ADDON_NAME);
  }
  return loaded;
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

function checkCount(value: unknown, name: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', `${name} must be an integer from 1 to ${max}, got ${String(value)}`);
  }
  return value;
}

/** `AIO_THREADPOOL_WORKERS`, validated, or undefined when unset. */
function workersFromEnvironment(): number | undefined {
  const text = process.env.AIO_THREADPOOL_WORKERS;
  if (text === undefined || text.trim() === '') return undefined;
  return checkCount(Number(text), `AIO_THREADPOOL_WORKERS (${JSON.stringify(text)})`, THREADPOOL_MAX_WORKERS);
}

function checkThreadpoolOptions(options: unknown): ThreadpoolOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', `threadpool options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const record = options as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'workers' && key !== 'queueSize') {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `unknown threadpool option ${JSON.stringify(key)} (known: workers, queueSize)`);
    }
  }
  const result: ThreadpoolOptions = {};
  if (record.workers !== undefined) result.workers = checkCount(record.workers, 'options.workers', THREADPOOL_MAX_WORKERS);
  if (record.queueSize !== undefined) result.queueSize = checkCount(record.queueSize, 'options.queueSize', THREADPOOL_MAX_QUEUE_SIZE);
  return result;
}

function capabilities(maxConcurrency: number): AioMethodCapabilities {
  const windows = process.platform === 'win32';
  return Object.freeze({
    ops: Object.freeze(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync'] as const),
    // POSIX: aio.open() opens with O_DIRECT where node:fs knows it; Windows: CreateFileW with FILE_FLAG_NO_BUFFERING.
    direct: windows || constants.O_DIRECT !== undefined,
    // POSIX: one preadv/pwritev per IO; Windows: one ReadFile/WriteFile per buffer.
    vectored: !windows,
    maxDepth: maxConcurrency,
    completesOnOtherThread: true,
    fileKind: windows ? 'win32-handle' : 'fd',
  });
}

/** Windows: CreateFileW through the addon; the context owns the HANDLE until closeFile. */
function openWin32(binding: ThreadpoolBinding, context: AioNativeContext, path: string, flags: Required<AioOpenFlags>): number {
  const handle = (binding.openFile as NonNullable<ThreadpoolBinding['openFile']>)(context, path, flags);
  if (handle < 0) throw systemError(handle, 'open', path, `could not open file ${JSON.stringify(path)}`);
  return handle;
}

/** Windows: CloseHandle through the addon (every file of a HANDLE method comes from openFile). */
function closeWin32(binding: ThreadpoolBinding, context: AioNativeContext, file: AioFile): void {
  const rc = (binding.closeFile as NonNullable<ThreadpoolBinding['closeFile']>)(context, file.fd);
  if (rc < 0) throw systemError(rc, 'close', file.path, `could not close ${file.describe()}`);
}

/** The core's synchronous path runs the workers' own code (executeSync), never node:fs. */
function executeNatively(binding: ThreadpoolBinding, handle: AioHandle): number {
  const views = handle.buffer !== null ? [handle.buffer] : (handle.buffers ?? []);
  return binding.executeSync(handle.op, (handle.file as AioFile).fd, handle.offset, handle.length, views);
}

function systemError(errno: number, syscall: string, path: string | undefined, detail: string): AioIoError {
  let code: string;
  try {
    code = getSystemErrorName(errno);
  } catch {
    code = 'EIO';
  }
  return new AioIoError({ code, errno, syscall, path, target: `${syscall} of ${path ?? 'a file'}`, method: methodName, detail });
}

/**
 * The live probe: the addon loads and a native thread starts.  Never throws.
 */
export function probe(options?: ThreadpoolOptions): AioProbeResult {
  const addon = loadBinding();
  if (!('binding' in addon)) return { available: false, reason: addon.reason, code: 'not-installed' };
  let opts: ThreadpoolOptions;
  try {
    opts = checkThreadpoolOptions(options);
  } catch (error) {
    return { available: false, reason: (error as Error).message, code: 'invalid-option' };
  }
  const result = addon.binding.probe();
  if (!result.available) return result;
  const pool = addon.binding.poolInfo();
  const workers = opts.workers ?? workersFromEnvironmentSafe() ?? defaultWorkerCount();
  return {
    available: true,
    reason: `native worker pool (${workers} threads, queue ${opts.queueSize ?? THREADPOOL_DEFAULT_QUEUE_SIZE}); ${result.reason}`,
    details: { workers, running: pool.threads, platform: process.platform },
  };
}

function workersFromEnvironmentSafe(): number | undefined {
  try {
    return workersFromEnvironment();
  } catch {
    return undefined;
  }
}

/**
 * The threadpool method's factory.  Throws AioUsageError
 * ('AIO_ERR_INVALID_OPTION') for bad options at once; `create()` throws
 * AIO_ERR_METHOD_UNAVAILABLE when the addon is not there.
 */
export function threadpool(options?: ThreadpoolOptions): AioMethodFactory {
  const opts = checkThreadpoolOptions(options);
  return {
    name: methodName,
    probe: () => probe(opts),
    create(host: AioMethodHost, context: AioMethodContext): AioMethod {
      const addon = loadBinding();
      if (!('binding' in addon)) throw unavailableMethod(methodName, addon.reason);
      const binding = addon.binding;
      const spec: NativeMethodSpec = {
        name: methodName,
        capabilities: capabilities(context.maxConcurrency),
        // A queued IO must never find its fd closed, or reused by another open.
        waitOnFileBeforeClose: true,
        // PostgreSQL X14: memory only the issuing thread may touch never goes to a worker.
        needsSynchronousExecution: (handle) => (handle.flags & AIO_FLAG_REFERENCES_LOCAL) !== 0,
        options: {
          workers: opts.workers,
          defaultWorkers: workersFromEnvironment() ?? defaultWorkerCount(),
          queueSize: opts.queueSize,
        },
        executeSynchronously: (_native, handle) => executeNatively(binding, handle),
        ...(binding.openFile !== undefined && {
          openFile: (native, path, flags) => openWin32(binding, native, path, flags),
          closeFile: (native, file) => closeWin32(binding, native, file),
        }),
      };
      return new NativeMethod(binding, spec, host, context);
    },
  };
}

/** Alias of {@link threadpool}: every backend package exports `method`. */
export const method = threadpool;

/** The process-wide pool's numbers (all zero before the first IO). */
export function poolInfo(): ThreadpoolInfo {
  const addon = loadBinding();
  if (!('binding' in addon)) throw unavailableMethod(methodName, addon.reason);
  return addon.binding.poolInfo();
}
