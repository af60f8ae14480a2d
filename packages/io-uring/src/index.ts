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
import { AioUsageError, isNonDetachable, type AioFile, type AioMethodFactory, type AioOpName, type AioProbeResult } from '@aio/core';
import { AIO_OP, defineNativeMethod, nativeCapabilities, nativeOption } from '@aio/core/method';
import type { AioMethodCapabilities, AioNativeBinding, AioNativeContext, CheckedOptions, NativeBindingLoad, NativeOptionRule } from '@aio/core/method';

/** The method's name, as `AIO_METHOD`, the CLIs, the benchmark and test names use it. */
export const methodName = 'io_uring' as const;

/** When IOs get IOSQE_ASYNC (run by the kernel's io-wq workers instead of inline). See README. */
export type IoUringAsyncPolicy = 'auto' | 'never' | 'always';

/**
 * A kind of page-cache IO on a regular file that can run on the context's
 * own threads instead of the ring (README "Routing"):
 * - `'dsync-writes'`: writes to a file opened with O_DSYNC (`dsync: true`);
 * - `'writes'`: other writes;
 * - `'buffered-reads'`: reads whose handle is flagged `buffered` (the read stream);
 * - `'reads'`: other reads.
 */
export type IoUringRouteKind = 'dsync-writes' | 'writes' | 'buffered-reads' | 'reads';

/**
 * Where page-cache IO runs: `'auto'` (the kinds the ring loses on Linux's
 * ext4 as measured, {@link IO_URING_AUTO_ROUTE}), `'ring'` (everything in the
 * ring), `'threads'` (every kind), or a list of kinds.
 */
export type IoUringRoute = 'auto' | 'ring' | 'threads' | readonly IoUringRouteKind[];

/** The bit of each route kind, as the addon reads them (RouteKind in native/uring.h). */
const ROUTE_BITS: Readonly<Record<IoUringRouteKind, number>> = { 'dsync-writes': 1, writes: 2, 'buffered-reads': 4, reads: 8 };

/** What `route: 'auto'` routes (README "Routing" has the measurements behind it). */
export const IO_URING_AUTO_ROUTE: readonly IoUringRouteKind[] = Object.freeze(['dsync-writes']);

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
   * IOSQE_ASYNC: 'auto' (default) sets it on reads and writes of files not
   * opened for direct I/O whose handle is flagged `buffered`
   * (`handle.setFlag('buffered')`; the read stream does this), at any depth,
   * and on other such writes while more than 4 IOs are in flight.  The
   * kernel's io-wq workers then copy page-cache data in parallel with this
   * thread.  'never' keeps every IO inline in io_uring_enter; 'always' punts
   * every IO.
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
  /**
   * Ops to run through the synchronous fallback instead of the ring (tests;
   * a kernel bug to avoid): left out of `capabilities.ops`, refused by the
   * addon if submitted anyway.
   */
  disabledOps?: readonly AioOpName[];
  /**
   * Which page-cache IO runs on the context's own threads instead of the
   * ring (README "Routing"): `'auto'` (default, or `AIO_IO_URING_ROUTE`),
   * `'ring'`, `'threads'`, or a list of {@link IoUringRouteKind}.  O_DIRECT
   * IO, syncs and file operations always go to the ring.
   */
  route?: IoUringRoute;
  /** Threads for routed IO (1 to 64, default 8), started at the first routed IO and joined when the context closes. */
  routeThreads?: number;
}

/** The addon: @aio/core's AioNativeBinding plus what only io_uring needs. */
export interface IoUringBinding extends AioNativeBinding {
  /** Forgets what a context knows about an fd (its registered-file slot) before the fd is closed. */
  forgetFile(context: AioNativeContext, fd: number): void;
  /** Native contexts of this addon not yet freed, every environment together (the kit's; for leak tests). */
  liveContexts(): number;
  /** The probe's reason for a ring setup errno (exposed for tests). */
  describeSetupError(errno: number, ioUringDisabled: number, inGroup: boolean): string;
}

/**
 * Registered memory stays in the kernel's hands for the ring's lifetime,
 * so it must be memory that cannot go away while the ring lives: a view on
 * a SharedArrayBuffer or on memory from allocAligned() (an AlignedPagePool's
 * pages).  An ordinary ArrayBuffer can be transferred away (postMessage,
 * structuredClone with a transfer list) and freed, and the kernel would then
 * read and write freed memory.  The views are kept as plain Uint8Arrays over
 * the same memory, in a private array the caller cannot change.
 */
const registeredMemory: NativeOptionRule<Uint8Array[]> = {
  check(value, name, fail) {
    const list = ArrayBuffer.isView(value) ? [value] : value;
    if (!Array.isArray(list) || list.length === 0 || list.length > 16384) {
      return fail('type', `${name} must be an ArrayBufferView or an array of 1 to 16384 of them`);
    }
    return list.map((view: unknown, i) => {
      if (!ArrayBuffer.isView(view) || view.byteLength === 0 || view.byteLength > 2 ** 30) {
        return fail('type', `${name}[${i}] must be a non-empty ArrayBufferView of at most 1 GiB`);
      }
      if (!isNonDetachable(view)) {
        return fail(
          'type',
          `${name}[${i}] is on memory that can be detached (an ordinary ArrayBuffer): the kernel uses registered memory ` +
            'for the ring\'s lifetime, and a transferred buffer would leave it pointing at freed memory; register memory ' +
            'from allocAligned() or an AlignedPagePool, or a view on a SharedArrayBuffer',
        );
      }
      return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    });
  },
};

/** `route`, kept as the bit mask the addon reads. */
const routeRule: NativeOptionRule<number> = {
  check(value, name, fail) {
    if (value === 'auto') return routeMask(IO_URING_AUTO_ROUTE);
    if (value === 'ring') return 0;
    if (value === 'threads') return routeMask(Object.keys(ROUTE_BITS) as IoUringRouteKind[]);
    if (!Array.isArray(value)) {
      return fail('value', `${name} must be 'auto', 'ring', 'threads' or an array of ${Object.keys(ROUTE_BITS).map((k) => `'${k}'`).join(', ')}`);
    }
    for (const kind of value as unknown[]) {
      if (typeof kind !== 'string' || !Object.hasOwn(ROUTE_BITS, kind)) fail('value', `${name}: unknown kind ${JSON.stringify(kind)}`);
    }
    return routeMask(value as IoUringRouteKind[]);
  },
};

function routeMask(kinds: readonly IoUringRouteKind[]): number {
  return kinds.reduce((mask, kind) => mask | ROUTE_BITS[kind], 0);
}

/**
 * The default route: `AIO_IO_URING_ROUTE` (the option's values, a list as
 * comma-separated kinds), else 'auto'.  A bad value is a usage error, as
 * for the option.
 */
function defaultRoute(): number {
  const text = process.env.AIO_IO_URING_ROUTE?.trim();
  const value = text === undefined || text === '' ? 'auto' : ['auto', 'ring', 'threads'].includes(text) ? text : text.split(',').map((k) => k.trim());
  return routeRule.check(value, `AIO_IO_URING_ROUTE (${JSON.stringify(text)})`, (_problem, message) => {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', message);
  });
}

const OPTIONS = {
  sqpoll: nativeOption.boolean(),
  sqpollIdleMs: nativeOption.integer(1, 3_600_000),
  entries: nativeOption.integer(1, 32768),
  iosqeAsync: nativeOption.oneOf<IoUringAsyncPolicy>(['auto', 'never', 'always']),
  asyncMinBytes: nativeOption.integer(0, 0xffff_ffff),
  registeredBuffers: registeredMemory,
  registeredFiles: nativeOption.switchOrInteger(1, 32768, 256),
  disabledOps: nativeOption.opMask(),
  route: routeRule,
  routeThreads: nativeOption.integer(1, 64),
};

/**
 * What a context of these options can do.  `ops` is what the running
 * kernel's ring runs (the probe's `details.ops`: IORING_OP_FTRUNCATE, for
 * one, needs Linux 6.9) less `disabledOps`; the core runs every other op
 * synchronously and never submits it.  The probe is cached per thread, so
 * this costs a lookup.
 */
function contextCapabilities(binding: IoUringBinding, options: CheckedOptions<typeof OPTIONS>): AioMethodCapabilities {
  const details = binding.probe({ sqpoll: options.sqpoll ?? false }).details;
  const probed = typeof details?.ops === 'string' ? details.ops.split(',') : ['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync'];
  const disabled = options.disabledOps ?? 0;
  const ops = (probed as AioOpName[]).filter((op) => Object.hasOwn(AIO_OP, op) && (disabled & (1 << AIO_OP[op])) === 0);
  return nativeCapabilities({ ops, vectored: true, maxDepth: 1024, completesOnOtherThread: false, fileKind: 'fd' });
}

const uring = defineNativeMethod<IoUringBinding, typeof OPTIONS>({
  name: methodName,
  packageUrl: import.meta.url,
  addon: 'aio_io_uring',
  platform: { only: 'linux', reason: (platform) => `io_uring is Linux-only (this is ${platform})` },
  options: OPTIONS,
  // A real ring setup (with SQPOLL if asked) and a no-op round trip; the addon caches its answer per setting too.
  probe: (binding, options) => binding.probe({ sqpoll: options.sqpoll ?? false }),
  probeKey: (options) => String(options.sqpoll ?? false),
  context: (binding, options) => ({
    capabilities: contextCapabilities(binding, options),
    // As in PostgreSQL: an IO handed to an io-wq worker must not find its fd
    // closed (or reused) under it, so closing a file waits for its IO.
    waitOnFileBeforeClose: true,
    options: nativeOptions(options),
    // Before an fd is closed the context drops its registered-file slot (the
    // number can come back for another file) and submits any SQE naming it.
    closeFile(context: AioNativeContext, file: AioFile): void {
      binding.forgetFile(context, file.fd);
      if (file.ownsFd) fs.closeSync(file.fd);
    },
  }),
});

/** The options as the addon's `create` reads them, defaults filled in. */
function nativeOptions(options: CheckedOptions<typeof OPTIONS>): Record<string, unknown> {
  return {
    ...options,
    sqpoll: options.sqpoll ?? false,
    iosqeAsync: options.iosqeAsync ?? 'auto',
    registeredFiles: options.registeredFiles ?? 0,
    disabledOps: options.disabledOps ?? 0,
    route: undefined,
    routeKinds: options.route ?? defaultRoute(),
    routeThreads: options.routeThreads ?? 8,
  };
}

/**
 * The addon, or why it is not there; loaded once per thread
 * (`AIO_NATIVE_VARIANT=asan` gives the memcheck build; see loadNativeBinding).
 */
export function loadBinding(): NativeBindingLoad<IoUringBinding> {
  return uring.loadBinding();
}

/**
 * A live check that io_uring works here: a real ring setup (with SQPOLL if
 * the options ask for it) and a no-op round trip.  Never throws; cached per
 * thread.  When unavailable, `reason` says why (EPERM with the sysctl or
 * seccomp as the cause, ENOSYS, ENOMEM, EMFILE, wrong platform, addon not
 * built) and `code` names the cause.
 */
export function probe(options?: IoUringOptions): AioProbeResult {
  return uring.probe(options);
}

/**
 * The io_uring method's factory.  `create()` throws
 * AIO_ERR_METHOD_UNAVAILABLE with the probe's reason where io_uring cannot
 * work, and creates the context's ring.
 */
export function ioUring(options?: IoUringOptions): AioMethodFactory {
  return uring.factory(options);
}

/** The conformance suite's and the selector's entry point: the same as {@link ioUring}. */
export const method = ioUring;
