/**
 * The IO method interface: the one file a backend implements.
 *
 * It is PostgreSQL's `IoMethodOps` in Node terms.  The core owns handles,
 * their states, callbacks and results; a method only moves IOs from
 * `staged` to `submitted` and later reports each IO's raw result (bytes
 * transferred, or -errno) back through its {@link AioMethodHost}.
 *
 * A backend package exports a factory (an {@link AioMethodFactory}) whose
 * `create()` is called once per `Aio` context, on that context's thread.  A
 * method object belongs to exactly one context: nothing in it is shared with
 * other contexts except what the backend deliberately shares (a process-wide
 * thread pool, for example), and then the backend does its own locking.
 */
import type { AioFile, AioOpenFlags } from './file.js';

/** The names methods go by in `AIO_METHOD`, the CLIs, the benchmark and test names. */
export type AioMethodName = 'io_uring' | 'iocp' | 'kqueue' | 'posix_aio' | 'threadpool' | 'libuv' | 'sync';

/** Every method name, in the selector's order of preference. */
export const AIO_METHOD_NAMES: readonly AioMethodName[] = ['io_uring', 'iocp', 'kqueue', 'posix_aio', 'threadpool', 'libuv', 'sync'];

/** The operations an IO can be.  Numeric codes are what native code sees. */
export type AioOpName = 'invalid' | 'read' | 'readv' | 'write' | 'writev' | 'fsync' | 'fdatasync' | 'stat' | 'truncate' | 'allocate';

/**
 * Numeric op codes, shared with every native backend (see
 * `tooling/native/include/aio/io.h`).  `invalid` is zero so that zeroed
 * memory is never mistaken for a real operation.
 *
 * The file operations (codes 7 to 9; the contract between the core and the
 * methods, described in the core README's "File operations"):
 * - `stat`: `buffer` is the context's 32-byte, 8-aligned stat slot; the
 *   method fills four little-endian float64 (see {@link AIO_STAT_FIELDS})
 *   and reports 0 or -errno;
 * - `truncate`: `offset` is the new length, `length` is 0, no buffer;
 *   reports 0 or -errno;
 * - `allocate`: `offset` and `length` are the byte range (fallocate mode 0,
 *   which extends the file; with {@link AIO_FLAG_KEEP_SIZE} in `flags` the
 *   size does not change); reports 0, or -EOPNOTSUPP (the platform's errno)
 *   where there is no allocation call, and the core then extends the file
 *   with `truncate` instead.
 * A method that does not list one of them in `capabilities.ops` never sees
 * it in `submit` (see asyncOpTable): the core runs it synchronously (node:fs on an fd, or the
 * method's `executeSynchronously`).
 */
export const AIO_OP = {
  invalid: 0,
  read: 1,
  readv: 2,
  write: 3,
  writev: 4,
  fsync: 5,
  fdatasync: 6,
  stat: 7,
  truncate: 8,
  allocate: 9,
} as const satisfies Record<AioOpName, number>;

/** An `allocate` IO's flag bit: reserve the range without changing the file's size (FALLOC_FL_KEEP_SIZE). */
export const AIO_FLAG_KEEP_SIZE = 8;

/** The bytes of a `stat` IO's buffer: four float64. */
export const AIO_STAT_BYTES = 32;

/**
 * The float64 slots a `stat` IO fills, in order: size in bytes, allocated
 * bytes (st_blocks * 512), preferred IO block size (st_blksize), and
 * modification time in milliseconds since the epoch (fractional).
 */
export const AIO_STAT_FIELDS = ['size', 'allocatedBytes', 'blockSize', 'modifiedMs'] as const;

export type AioOpCode = (typeof AIO_OP)[AioOpName];

/** Op names by code. */
export const AIO_OP_NAMES: readonly AioOpName[] = ['invalid', 'read', 'readv', 'write', 'writev', 'fsync', 'fdatasync', 'stat', 'truncate', 'allocate'];

/** What a method can do; shown by `aio doctor` and used by the conformance suite to skip honestly. */
export interface AioMethodCapabilities {
  /**
   * The ops the method runs asynchronously.  The core never submits a file
   * operation (`stat`, `truncate`, `allocate`) that is not listed: it runs
   * it synchronously (fallback reason `unsupported-op`), so a method written
   * before they existed stays correct.  The six data ops are always
   * submitted (the list only describes them, as it always has).
   */
  readonly ops: readonly AioOpName[];
  /** Whether files can be opened for direct I/O (O_DIRECT, FILE_FLAG_NO_BUFFERING). */
  readonly direct: boolean;
  /** Whether readv/writev go to the OS as one vectored call. */
  readonly vectored: boolean;
  /** The most IOs the method keeps in flight per context. */
  readonly maxDepth: number;
  /** Whether IO executes on threads other than the issuer's (a pool, glibc's aio threads). */
  readonly completesOnOtherThread: boolean;
  /** What an `AioFile` holds for this method: a POSIX fd or a Windows HANDLE. */
  readonly fileKind: 'fd' | 'win32-handle';
}

/**
 * The answer of a method's live probe.  `reason` is one line a user can act
 * on ("EPERM: io_uring disabled by kernel.io_uring_disabled=2"), present
 * whether or not the method is available.
 */
export interface AioProbeResult {
  readonly available: boolean;
  readonly reason: string;
  /** A machine-readable cause when unavailable: 'EPERM', 'ENOSYS', 'not-installed', 'wrong-platform', ... */
  readonly code?: string;
  /** Anything else worth showing (kernel version, features, ...). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * What a method sees of one IO: a read-only view of its description, not
 * the handle (whose callbacks, return object and state belong to the core).
 * The same object stands for every IO its handle carries: `generation`
 * tells them apart.  Only `methodData` may be written, by the method.
 */
export interface AioIoView {
  /** The index of the IO's handle in its context (0 to maxConcurrency - 1). */
  readonly index: number;
  /** Which IO on that handle this is; completions name it as `generation & 0xffffffff`. */
  readonly generation: number;
  readonly op: AioOpCode;
  readonly opName: AioOpName;
  /** The file; never null for an IO handed to a method. */
  readonly file: AioFile | null;
  readonly offset: number;
  /** Bytes the IO asks for (the sum of all buffers for vectored IO). */
  readonly length: number;
  /**
   * The buffer of a read or write, or the 32-byte slot a `stat` fills; null
   * for vectored IO, syncs, `truncate` and `allocate`.  Memory
   * that cannot go away before the completion is reported: the caller's own
   * if it cannot be detached, else the context's bounce memory.
   */
  readonly buffer: ArrayBufferView | null;
  /** The buffers of a readv or writev (same guarantee); null otherwise. */
  readonly buffers: readonly ArrayBufferView[] | null;
  /** OR of AIO_FLAG_* bits (the handle's, plus AIO_FLAG_KEEP_SIZE on an `allocate`). */
  readonly flags: number;
  /** Free for the method's own per-IO bookkeeping; cleared when the handle is reused. */
  methodData: unknown;
  /** The target, e.g. `read of 4096 bytes at offset 0 in file "/x"`. */
  describeTarget(): string;
  /** Opens the IO's file again by path with the same flags; returns a new fd the caller owns. */
  reopenTarget(): number;
}

/** What the core passes to `create()`. */
export interface AioMethodContext {
  /** The number of handles of the context; the method never sees more IOs in flight. */
  readonly maxConcurrency: number;
  /** The method-specific options the user passed to the factory, already validated by it. */
  readonly options: Readonly<Record<string, unknown>>;
}

/** How a backend package exposes a method. */
export interface AioMethodFactory {
  readonly name: AioMethodName;
  /**
   * A live check that the method really works here: for io_uring a ring
   * setup plus a no-op round trip.  Must never throw; the result is cached by
   * the caller (the selector probes once per process).
   */
  probe(): AioProbeResult;
  /**
   * Creates the method for one context.  Called on the context's thread.
   * Throws AioUsageError('AIO_ERR_METHOD_UNAVAILABLE') with the probe's reason
   * if the method cannot work here.
   */
  create(host: AioMethodHost, context: AioMethodContext): AioMethod;
}

/**
 * What a method may call back into.  All of it must be called on the
 * context's JavaScript thread; native code delivers completions to that
 * thread first (an eventfd watched by libuv, a uv_async wake-up).
 */
export interface AioMethodHost {
  /** Every IO slot of the context, by handle index. */
  readonly ios: readonly AioIoView[];
  /** The same array as `ios` (its name before methods saw IOs instead of handles). */
  readonly handles: readonly AioIoView[];
  /**
   * Moves a staged IO to `submitted` and appends it to the in-flight list.
   * A method calls it for each IO it accepts, before the IO can complete.
   */
  prepareSubmit(io: AioIoView): void;
  /**
   * Reports one IO's raw result: bytes transferred, or -errno.  Runs the
   * shared callbacks, wakes waiters and reclaims the handle.  Never throws
   * because of a callback: a throwing callback becomes an error result.
   */
  processCompletion(io: AioIoView, raw: number): void;
  /**
   * Reports `count` completions at once from a table of triples
   * `[handleIndex, generation & 0xffffffff, raw]`, as native code fills it.
   * A triple whose generation does not match the handle is a bug in the
   * method; it is reported as a warning and skipped, never applied to the
   * wrong IO.
   */
  processCompletions(table: Int32Array, count: number): void;
  /**
   * Runs a staged IO synchronously on the issuer's thread (prepareSubmit, the
   * IO itself, processCompletion) and counts it as a fallback with `reason`.
   * This is how a method handles what it cannot do asynchronously.
   */
  performSynchronously(io: AioIoView, reason: AioFallbackReason): void;
  /** The IO itself, synchronously, with node:fs (or the method's own `executeSynchronously`). Returns the raw result. */
  executeSynchronously(io: AioIoView): number;
}

/** Why an IO ran synchronously instead of through the method. */
export type AioFallbackReason =
  | 'synchronous-flag'
  | 'method-requires'
  | 'unsupported-op'
  | 'queue-full'
  | 'eagain'
  | 'submit-failed';

/** The result of asking a method to cancel an IO that already reached it. */
export type AioCancelOutcome =
  /** The OS will complete the IO with ECANCELED (the completion still arrives). */
  | 'canceled'
  /** Too late: the IO completes normally. */
  | 'not-canceled'
  /** The method cannot cancel. */
  | 'unsupported';

/**
 * One context's method.  Every member is called on the context's thread.
 *
 * Invariants every method keeps:
 * - an IO handed to `submit` completes exactly once, through the host, even
 *   if the context is closing (completions are never lost);
 * - the buffers of an IO are not touched after its completion was reported,
 *   and are kept alive by the core (the handle references them) until then;
 * - nothing here keeps the event loop alive while no IO is in flight.
 */
export interface AioMethod {
  readonly name: AioMethodName;
  readonly capabilities: AioMethodCapabilities;
  /**
   * If true, closing a file first waits for the context's in-flight IOs on
   * it (an IO queued to a thread or the kernel must not find its fd closed,
   * or worse, reused).  Staged IOs are always submitted before a close.
   */
  readonly waitOnFileBeforeClose: boolean;
  /**
   * Checked after the handle's `synchronous` flag: if true the core runs
   * the IO synchronously and never calls `submit` for it.
   */
  needsSynchronousExecution(io: AioIoView): boolean;
  /**
   * Submits `count` (1 to 32) staged IOs from `ios[0..count)`.  Must bring
   * each one to at least `submitted` with `host.prepareSubmit` (or complete it
   * with `host.performSynchronously`); some may already have completed by the
   * time it returns.  Returns the number submitted, which is always `count`.
   */
  submit(ios: readonly AioIoView[], count: number): number;
  /**
   * Blocks the thread until the IO `io` with `generation` has
   * completed, processing its completion (and any others that are ready)
   * through the host.  Must return at once if the IO is already done or the
   * handle was recycled.  Optional: without it the context cannot wait
   * synchronously (`waitSync`, a blocking `acquire`).
   */
  waitOne?(io: AioIoView, generation: number): void;
  /**
   * Processes the completions that are ready now, without blocking; returns
   * how many.  `isDone()` and `acquire()` call it so a completion that the
   * event loop has not delivered yet is still seen.
   */
  poll?(): number;
  /** Best-effort cancellation of a submitted IO (for AbortSignal). */
  cancel?(io: AioIoView): AioCancelOutcome;
  /**
   * Opens a file for this method when the method cannot use POSIX fds (the
   * Windows HANDLE methods).  Returns the native handle as a number.
   */
  openFile?(path: string, flags: Required<AioOpenFlags>): number;
  /**
   * Closes a file when it is closed through the core.  Called for every file
   * of the context (not only those from `openFile`); it must close the fd or
   * HANDLE when `file.ownsFd` is set, and leave it open otherwise.
   */
  closeFile?(file: AioFile): void;
  /**
   * Called by `aio.rename()`/`renameSync()` just before the core renames
   * `from` to `to` (absolute paths) with node:fs; the function it returns,
   * if any, is called afterwards with whether the rename happened.  For
   * wrappers that model the namespace (the power-loss simulator); it may
   * throw to refuse the rename (a simulated dead device).  Methods leave it
   * out.
   */
  beforeRename?(from: string, to: string): ((renamed: boolean) => void) | undefined;
  /**
   * Runs one IO synchronously when the method's files are not node:fs fds.
   * Returns bytes transferred or -errno.
   */
  executeSynchronously?(io: AioIoView): number;
  /** Method-specific counters merged into `aio.stats().method`. */
  stats?(): Readonly<Record<string, number>>;
  /**
   * Frees the method's resources.  Called by `aio.close()` after every IO of
   * the context completed; never called twice.
   */
  close(): void;
}

export {
  NativeMethod,
  loadNativeBinding,
  unavailableMethod,
  AIO_SUBMIT_STRIDE,
  AIO_SUBMIT_MAX,
  AIO_DISPOSITION,
  AIO_IO_FILE_DIRECT,
} from './native-method.js';
export type { AioNativeBinding, AioNativeContext, NativeMethodSpec } from './native-method.js';
export { executeWithNodeFs } from './sync-method.js';
export { HS_IDLE, HS_HANDED_OUT, HS_DEFINED, HS_STAGED, HS_SUBMITTED, HS_COMPLETED_IO, HS_COMPLETED_SHARED, HS_COMPLETED_LOCAL } from './handle.js';
export * from './native-backend.js';
// Registers this copy of @aio/core in the cross-copy registry (copies.ts) for backends that import only this entry.
import './copies.js';
export { nativePlatform, describePlatform, platformInstallCommand } from './native-loader.js';
export type { NativePlatform, NativeLoadFailure } from './native-loader.js';
