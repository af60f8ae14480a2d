/**
 * @aio/posix-aio: the `posix_aio` IO method.
 *
 * IO goes to the C library's POSIX aio: reads and writes of a batch in one
 * `lio_listio(LIO_NOWAIT)`, syncs with `aio_fsync(O_SYNC | O_DSYNC)`, and
 * one reaper thread per context that blocks in `aio_suspend` and hands
 * completions to the event loop in batches.  See README.md for the design,
 * what each platform's aio really is, and the limits.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { AioUsageError, AIO_FLAG_REFERENCES_LOCAL, type AioFile, type AioHandle } from '@aio/core';
import {
  NativeMethod,
  loadNativeBinding,
  unavailableMethod,
  type AioMethod,
  type AioMethodCapabilities,
  type AioMethodContext,
  type AioMethodFactory,
  type AioMethodHost,
  type AioNativeBinding,
  type AioNativeContext,
  type AioProbeResult,
} from '@aio/core/method';

/** The method's name, as `AIO_METHOD`, the CLIs and test names spell it. */
export const methodName = 'posix_aio' as const;

/** How the reaper thread is woken when IO is submitted while it sleeps (see README.md, "The doorbell"). */
export type PosixAioDoorbell = 'cancel' | 'pipe' | 'timeout';

/** Options of {@link posixAio}.  Every one has a default that suits the platform. */
export interface PosixAioOptions {
  /**
   * File descriptors per file (dups of the file's fd), opened only while
   * IO on the file is in flight on every lane.  glibc runs one fd's requests
   * one after the other on one thread, so this is the parallelism per file
   * there.  Default 8 with glibc, 1 elsewhere; 1 to 64.
   */
  lanes?: number;
  /** The aiocb table of a context; default 2 × maxConcurrency (at most the OS's AIO_MAX); 1 to 2048. */
  tableSize?: number;
  /** readv/writev with up to this many buffers are split into one aiocb per buffer; more run synchronously. Default 16; 1 to 64. */
  maxVectored?: number;
  /** The doorbell; default `cancel` with glibc, `timeout` on macOS, `pipe` elsewhere. */
  doorbell?: PosixAioDoorbell;
  /** The aio_suspend timeout of the `timeout` doorbell, in milliseconds (default 1; 1 to 1000). */
  pollMs?: number;
}

/** The addon: the AioNativeBinding contract plus two functions of its own. */
interface PosixAioBinding extends AioNativeBinding {
  /** Drops the lanes (dups) of `fd`: the file is being closed. */
  forgetFile(context: AioNativeContext, fd: number): void;
  /** The doorbell mode the context really uses, and why a stronger one was refused. */
  doorbell(context: AioNativeContext): { mode: PosixAioDoorbell; note: string };
}

const OPTION_KEYS = ['lanes', 'tableSize', 'maxVectored', 'doorbell', 'pollMs'] as const;
const DOORBELLS: readonly PosixAioDoorbell[] = ['cancel', 'pipe', 'timeout'];
const TARGET = 'aio_posix_aio';

let loaded: { binding: PosixAioBinding } | { reason: string } | undefined;

/**
 * Loads the addon once per thread (`AIO_NATIVE_VARIANT=asan` gives the
 * AddressSanitizer build the memcheck script uses; see loadNativeBinding).
 */
function load(): { binding: PosixAioBinding } | { reason: string } {
  loaded ??= loadNativeBinding<PosixAioBinding>(import.meta.url, TARGET);
  return loaded;
}

function checkOptions(options: unknown): PosixAioOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', 'posix_aio options must be an object');
  }
  const opts = options as Record<string, unknown>;
  for (const key of Object.keys(opts)) {
    if (!(OPTION_KEYS as readonly string[]).includes(key)) {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `unknown posix_aio option ${key}; known: ${OPTION_KEYS.join(', ')}`);
    }
  }
  checkRange(opts.lanes, 'lanes', 1, 64);
  checkRange(opts.tableSize, 'tableSize', 1, 2048);
  checkRange(opts.maxVectored, 'maxVectored', 1, 64);
  checkRange(opts.pollMs, 'pollMs', 1, 1000);
  if (opts.doorbell !== undefined && !DOORBELLS.includes(opts.doorbell as PosixAioDoorbell)) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', `posix_aio option doorbell must be one of ${DOORBELLS.join(', ')}`);
  }
  return opts as PosixAioOptions;
}

function checkRange(value: unknown, name: string, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `posix_aio option ${name} must be an integer from ${min} to ${max}`);
  }
}

let cachedProbe: AioProbeResult | undefined;

/**
 * A live check that POSIX aio works here: a write, an fdatasync and a
 * two-piece lio_listio read on a temporary file, compared byte for byte.
 * Never throws; the result is cached for the thread.  The options do not
 * change the answer (every option has a working fallback); invalid ones
 * make the probe say so.
 */
export function probe(options?: PosixAioOptions): AioProbeResult {
  try {
    checkOptions(options);
  } catch (error) {
    return { available: false, reason: (error as Error).message, code: 'invalid-options' };
  }
  if (cachedProbe !== undefined) return cachedProbe;
  const addon = load();
  if ('reason' in addon) {
    const wrongPlatform = /wrong platform/.test(addon.reason);
    cachedProbe = { available: false, reason: addon.reason, code: wrongPlatform ? 'wrong-platform' : 'not-built' };
    return cachedProbe;
  }
  try {
    cachedProbe = addon.binding.probe({ tmpdir: tmpdir() });
  } catch (error) {
    cachedProbe = { available: false, reason: `probe failed: ${(error as Error).message}`, code: 'EIO' };
  }
  return cachedProbe;
}

/**
 * The method object of one context: the shared NativeMethod plus what
 * lanes need, the knowledge of which file owns which fd.
 */
class PosixAioMethod extends NativeMethod {
  readonly #binding: PosixAioBinding;
  readonly #context: AioNativeContext;
  /** The file each fd number was last used with; a different file on the same number drops the old lanes. */
  readonly #fileByFd: Map<number, AioFile>;

  constructor(binding: PosixAioBinding, options: PosixAioOptions, host: AioMethodHost, context: AioMethodContext) {
    let created: AioNativeContext | undefined;
    const capture: PosixAioBinding = {
      ...binding,
      create: (...args) => (created = binding.create(...args)),
    };
    const fileByFd = new Map<number, AioFile>();
    super(
      capture,
      {
        name: methodName,
        capabilities: capabilitiesFor(context.maxConcurrency),
        // glibc's helper threads use the fd (or its lanes) until the IO is done.
        waitOnFileBeforeClose: true,
        // IO runs on other threads: memory only this thread may touch runs here.
        needsSynchronousExecution: (handle: AioHandle) => (handle.flags & AIO_FLAG_REFERENCES_LOCAL) !== 0,
        options: { ...options },
        // Called once the file's IO drained: drop its lanes, then close the fd if the file owns it.
        closeFile(native: AioNativeContext, file: AioFile): void {
          if (fileByFd.get(file.fd) === file) {
            fileByFd.delete(file.fd);
            binding.forgetFile(native, file.fd);
          }
          if (file.ownsFd) fs.closeSync(file.fd);
        },
      },
      host,
      context,
    );
    this.#binding = binding;
    this.#context = created as AioNativeContext;
    this.#fileByFd = fileByFd;
  }

  override submit(handles: readonly AioHandle[], count: number): number {
    for (let i = 0; i < count; i++) {
      const file = handles[i].file as AioFile;
      if (this.#fileByFd.get(file.fd) !== file) this.#adopt(file);
    }
    return super.submit(handles, count);
  }

  /**
   * An fd number used by another file than before: lanes made for the old
   * file (its fd was closed behind our back and the number reused) must not
   * carry IO for this one.
   */
  #adopt(file: AioFile): void {
    if (this.#fileByFd.has(file.fd)) this.#binding.forgetFile(this.#context, file.fd);
    this.#fileByFd.set(file.fd, file);
  }

  override close(): void {
    this.#fileByFd.clear();
    super.close();
  }

  /** The doorbell the context really uses, and why a stronger one was refused (tests, `aio doctor`). */
  doorbell(): { mode: PosixAioDoorbell; note: string } {
    return this.#binding.doorbell(this.#context);
  }
}

function capabilitiesFor(maxDepth: number): AioMethodCapabilities {
  return Object.freeze({
    ops: Object.freeze(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync'] as const),
    direct: fs.constants.O_DIRECT !== undefined,
    // POSIX has no vectored aio: readv/writev are split into one aiocb per buffer.
    vectored: false,
    maxDepth,
    completesOnOtherThread: true,
    fileKind: 'fd',
  });
}

/**
 * Defaults from the environment, for deployments and benchmarks that cannot
 * pass options (the selector and the bench call `method()` bare):
 * AIO_POSIX_AIO_LANES and AIO_POSIX_AIO_DOORBELL.  Explicit options win.
 * Malformed values are ignored, like the glibc knobs the addon reads.
 */
function environmentDefaults(): PosixAioOptions {
  const defaults: PosixAioOptions = {};
  const lanes = Number(process.env.AIO_POSIX_AIO_LANES);
  if (Number.isInteger(lanes) && lanes >= 1 && lanes <= 64) defaults.lanes = lanes;
  const doorbell = process.env.AIO_POSIX_AIO_DOORBELL as PosixAioDoorbell | undefined;
  if (doorbell !== undefined && DOORBELLS.includes(doorbell)) defaults.doorbell = doorbell;
  return defaults;
}

/**
 * The `posix_aio` method's factory.  Options are checked here; process-wide
 * glibc tuning (aio_threads, aio_num) comes from AIO_POSIX_AIO_THREADS and
 * AIO_POSIX_AIO_NUM, read when the addon is loaded.
 */
export function posixAio(options?: PosixAioOptions): AioMethodFactory {
  const opts = { ...environmentDefaults(), ...checkOptions(options) };
  return {
    name: methodName,
    probe: () => probe(),
    create(host: AioMethodHost, context: AioMethodContext): AioMethod {
      const result = probe();
      const addon = load();
      if (!result.available || 'reason' in addon) throw unavailableMethod(methodName, result.reason);
      return new PosixAioMethod(addon.binding, opts, host, context);
    },
  };
}

/** The factory under the name every backend package exports. */
export const method = posixAio;
