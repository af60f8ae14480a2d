/**
 * @aio/io-uring: the io_uring IO method for @aio/core.
 *
 * One ring per `Aio` context (per thread), created with the context;
 * completions reaped in batches on the event loop through an eventfd
 * that libuv watches; one io_uring_enter per batch, and IOs started during
 * one event-loop turn submitted together.  See README.md for the design.
 *
 * ```ts
 * import { Aio } from '@aio/core';
 * import { ioUring } from '@aio/io-uring';
 * const aio = new Aio({ method: ioUring() });
 * ```
 */
import * as fs from 'node:fs';
import { AioUsageError, type AioFile, type AioMethod, type AioMethodFactory, type AioOpName, type AioProbeResult } from '@aio/core';
import {
  AIO_OP,
  NativeMethod,
  loadNativeBinding,
  unavailableMethod,
  type AioMethodCapabilities,
  type AioMethodContext,
  type AioMethodHost,
  type AioNativeBinding,
  type AioNativeContext,
  type NativeMethodSpec,
} from '@aio/core/method';

/** The method's name, as `AIO_METHOD`, the CLIs, the benchmark and test names use it. */
export const methodName = 'io_uring' as const;

/** When IOs get IOSQE_ASYNC (run by the kernel's io-wq workers instead of inline). See README. */
export type IoUringAsyncPolicy = 'auto' | 'never' | 'always';

export interface IoUringOptions {
  /**
   * Kernel-side submission polling (IORING_SETUP_SQPOLL): a kernel thread
   * per ring picks up submissions without a system call.  Off unless asked:
   * the thread spins for `sqpollIdleMs` after each burst, using a core.
   */
  sqpoll?: boolean;
  /** With `sqpoll`: how long the kernel thread keeps polling after the last submission (ms, default 1000). */
  sqpollIdleMs?: number;
  /** The submission ring's size (rounded up to a power of two); default: the context's `maxConcurrency`. */
  entries?: number;
  /**
   * IOSQE_ASYNC: 'auto' (default) sets it on IOs whose handle is flagged
   * `buffered` (`handle.setFlag('buffered')`) while more than 4 IOs are in
   * flight: PostgreSQL 18's rule.  The kernel's io-wq workers then copy
   * page-cache data in parallel with this thread.  'never' keeps every IO
   * inline in io_uring_enter; 'always' punts every IO.
   */
  iosqeAsync?: IoUringAsyncPolicy;
  /** With 'auto': only flagged IOs of at least this many bytes get IOSQE_ASYNC (default 0: no size floor). */
  asyncMinBytes?: number;
  /**
   * Memory to register with every ring (IORING_REGISTER_BUFFERS), typically
   * one pool of aligned pages: a read or write whose buffer lies inside one
   * of these uses READ_FIXED/WRITE_FIXED, which saves pinning the pages for
   * each IO.  The method keeps these buffers alive for the ring's lifetime.
   */
  registeredBuffers?: ArrayBufferView | readonly ArrayBufferView[];
  /**
   * Register each file with the ring on its first IO (IOSQE_FIXED_FILE):
   * `true` for a table of 256 files, or the table size.  Files must then be
   * closed through aio (`file.close()`), which unregisters them first.
   */
  registeredFiles?: boolean | number;
  /** Ops to run through the synchronous fallback instead of the ring (tests; a kernel bug to avoid). */
  disabledOps?: readonly AioOpName[];
}

/** The options as the addon's `create` and `probe` read them. */
interface NativeOptions {
  sqpoll: boolean;
  sqpollIdleMs?: number;
  entries?: number;
  iosqeAsync: IoUringAsyncPolicy;
  asyncMinBytes?: number;
  registeredBuffers?: Uint8Array[];
  registeredFiles: number;
  disabledOps: number;
}

/** The addon: @aio/core's AioNativeBinding plus what only io_uring needs. */
export interface IoUringBinding extends AioNativeBinding {
  /** Forgets what a context knows about an fd (its registered-file slot) before the fd is closed. */
  forgetFile(context: AioNativeContext, fd: number): void;
  /** The probe's reason for a ring setup errno (exposed for tests). */
  describeSetupError(errno: number, ioUringDisabled: number, inGroup: boolean): string;
}

const OPTION_KEYS = new Set([
  'sqpoll',
  'sqpollIdleMs',
  'entries',
  'iosqeAsync',
  'asyncMinBytes',
  'registeredBuffers',
  'registeredFiles',
  'disabledOps',
]);
const DEFAULT_REGISTERED_FILES = 256;

function invalid(message: string): AioUsageError {
  return new AioUsageError('AIO_ERR_INVALID_OPTION', `ioUring(): ${message}`);
}

function checkInteger(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Registered buffers as plain Uint8Arrays over the same memory, in a private array the caller cannot change. */
function normalizeBuffers(value: unknown): Uint8Array[] | undefined {
  if (value === undefined) return undefined;
  const list = ArrayBuffer.isView(value) ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > 16384) {
    throw invalid('registeredBuffers must be an ArrayBufferView or an array of 1 to 16384 of them');
  }
  return list.map((view: unknown, i) => {
    if (!ArrayBuffer.isView(view) || view.byteLength === 0 || view.byteLength > 2 ** 30) {
      throw invalid(`registeredBuffers[${i}] must be a non-empty ArrayBufferView of at most 1 GiB`);
    }
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  });
}

function normalizeOps(value: unknown): number {
  if (value === undefined) return 0;
  if (!Array.isArray(value)) throw invalid('disabledOps must be an array of op names');
  let mask = 0;
  for (const op of value) {
    const code = typeof op === 'string' ? (AIO_OP as Record<string, number>)[op] : undefined;
    if (code === undefined || code === 0) throw invalid(`disabledOps: unknown op ${JSON.stringify(op)}`);
    mask |= 1 << code;
  }
  return mask;
}

function normalizeOptions(options: IoUringOptions | undefined): NativeOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw invalid(`unknown option ${JSON.stringify(key)}`);
  }
  const raw = options;
  if (raw.sqpoll !== undefined && typeof raw.sqpoll !== 'boolean') throw invalid('sqpoll must be a boolean');
  if (raw.iosqeAsync !== undefined && !['auto', 'never', 'always'].includes(raw.iosqeAsync)) {
    throw invalid(`iosqeAsync must be 'auto', 'never' or 'always', got ${String(raw.iosqeAsync)}`);
  }
  const files = raw.registeredFiles;
  if (files !== undefined && typeof files !== 'boolean') checkInteger(files, 'registeredFiles', 1, 32768);
  return {
    sqpoll: raw.sqpoll ?? false,
    sqpollIdleMs: checkInteger(raw.sqpollIdleMs, 'sqpollIdleMs', 1, 3_600_000),
    entries: checkInteger(raw.entries, 'entries', 1, 32768),
    iosqeAsync: raw.iosqeAsync ?? 'auto',
    asyncMinBytes: checkInteger(raw.asyncMinBytes, 'asyncMinBytes', 0, 0xffff_ffff),
    registeredBuffers: normalizeBuffers(raw.registeredBuffers),
    registeredFiles: files === true ? DEFAULT_REGISTERED_FILES : typeof files === 'number' ? files : 0,
    disabledOps: normalizeOps(raw.disabledOps),
  };
}

let loaded: { binding: IoUringBinding } | { reason: string } | undefined;

/**
 * The addon, or why it is not there; loaded once per thread
 * (`AIO_NATIVE_VARIANT=asan` gives the memcheck build; see loadNativeBinding).
 */
export function loadBinding(): { binding: IoUringBinding } | { reason: string } {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'linux') {
    loaded = { reason: `wrong platform: io_uring is Linux-only (this is ${process.platform})` };
  } else {
    loaded = loadNativeBinding<IoUringBinding>(import.meta.url, 'aio_io_uring');
  }
  return loaded;
}

/**
 * A live check that io_uring works here: a real ring setup (with SQPOLL if
 * the options ask for it) and a no-op round trip.  Never throws; cached per
 * thread.  When unavailable, `reason` says why (EPERM with the sysctl or
 * seccomp as the cause, ENOSYS, ENOMEM, EMFILE, wrong platform, addon not
 * built) and `code` names the cause.
 */
export function probe(options?: IoUringOptions): AioProbeResult {
  let sqpoll = false;
  try {
    sqpoll = normalizeOptions(options).sqpoll;
  } catch (error) {
    return { available: false, reason: (error as Error).message, code: 'invalid-options' };
  }
  const addon = loadBinding();
  if ('reason' in addon) {
    return { available: false, reason: addon.reason, code: addon.reason.includes('wrong platform') ? 'wrong-platform' : 'not-installed' };
  }
  return addon.binding.probe({ sqpoll });
}

const CAPABILITIES: AioMethodCapabilities = Object.freeze({
  ops: Object.freeze(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync'] as const),
  direct: true,
  vectored: true,
  maxDepth: 1024,
  completesOnOtherThread: false,
  fileKind: 'fd',
});

/**
 * The io_uring method's factory.  `create()` throws
 * AIO_ERR_METHOD_UNAVAILABLE with the probe's reason where io_uring cannot
 * work, and creates the context's ring.
 */
export function ioUring(options?: IoUringOptions): AioMethodFactory {
  const native = normalizeOptions(options);
  const spec: NativeMethodSpec = {
    name: methodName,
    capabilities: CAPABILITIES,
    // As in PostgreSQL: an IO handed to an io-wq worker must not find its fd
    // closed (or reused) under it, so closing a file waits for its IO.
    waitOnFileBeforeClose: true,
    options: native as unknown as Record<string, unknown>,
    // Before an fd is closed the context drops its registered-file slot (the
    // number can come back for another file) and submits any SQE naming it.
    closeFile(context: AioNativeContext, file: AioFile): void {
      (loadBinding() as { binding: IoUringBinding }).binding.forgetFile(context, file.fd);
      if (file.ownsFd) fs.closeSync(file.fd);
    },
  };
  return {
    name: methodName,
    probe: () => probe(options),
    create(host: AioMethodHost, context: AioMethodContext): AioMethod {
      const addon = loadBinding();
      if ('reason' in addon) throw unavailableMethod(methodName, addon.reason);
      const result = addon.binding.probe({ sqpoll: native.sqpoll });
      if (!result.available) throw unavailableMethod(methodName, result.reason);
      try {
        return new NativeMethod(addon.binding, spec, host, context);
      } catch (error) {
        // The ring is set up here; EMFILE or ENOMEM can still happen after a good probe.
        const { code, message } = error as { code?: unknown; message: string };
        if (code === 'AIO_ERR_METHOD_UNAVAILABLE') throw unavailableMethod(methodName, message);
        throw error;
      }
    },
  };
}

/** The conformance suite's and the selector's entry point: the same as {@link ioUring}. */
export const method = ioUring;
