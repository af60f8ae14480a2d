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
import type { AioFile } from '@aio/core';
import { AIO_FLAG_KEEP_SIZE, AIO_OP, NativeMethod, defineNativeMethod, executeWithNodeFs, nativeCapabilities, nativeOption } from '@aio/core/method';
import type { AioIoView, AioMethodContext, AioMethodFactory, AioMethodHost, AioNativeBinding, AioNativeContext, AioProbeResult, NativeMethodSpec } from '@aio/core/method';

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
  /** fallocate (Linux) or posix_fallocate on the calling thread: 0 or a negative errno (EOPNOTSUPP where there is none). */
  allocateSync(fd: number, offset: number, length: number, keepSize: boolean): number;
}

const DOORBELLS: readonly PosixAioDoorbell[] = ['cancel', 'pipe', 'timeout'];

const OPTIONS = {
  lanes: nativeOption.integer(1, 64),
  tableSize: nativeOption.integer(1, 2048),
  maxVectored: nativeOption.integer(1, 64),
  doorbell: nativeOption.oneOf(DOORBELLS),
  pollMs: nativeOption.integer(1, 1000),
};

const posix = defineNativeMethod<PosixAioBinding, typeof OPTIONS>({
  name: methodName,
  packageUrl: import.meta.url,
  addon: 'aio_posix_aio',
  missingCode: 'not-built',
  options: OPTIONS,
  // The core's codes: a non-object is the wrong type, a number outside its limits out of range.
  optionErrorCodes: { type: 'AIO_ERR_INVALID_TYPE', range: 'AIO_ERR_OUT_OF_RANGE' },
  // The options do not change the answer: every option has a working fallback.
  probe: (binding) => binding.probe({ tmpdir: tmpdir() }),
  context: (binding, options, context) => ({
    // The six data ops (the default).  POSIX aio has no stat, truncate or allocate request, so the
    // core runs those synchronously: stat and truncate with node:fs on the fd, allocate here.
    capabilities: nativeCapabilities({
      // POSIX has no vectored aio: readv/writev are split into one aiocb per buffer.
      vectored: false,
      maxDepth: context.maxConcurrency,
      // glibc's helper threads run the IO: memory only this thread may touch runs here.
      completesOnOtherThread: true,
      fileKind: 'fd',
    }),
    // glibc's helper threads use the fd (or its lanes) until the IO is done.
    waitOnFileBeforeClose: true,
    options: { ...environmentDefaults(), ...options },
    // node:fs has no fallocate: the addon's allocate really reserves the blocks, where node:fs
    // could only extend the file with truncate ('extended').  Everything else is node:fs's.
    executeSynchronously: (_native, handle) =>
      handle.op === AIO_OP.allocate
        ? binding.allocateSync((handle.file as AioFile).fd, handle.offset, handle.length, (handle.flags & AIO_FLAG_KEEP_SIZE) !== 0)
        : executeWithNodeFs(handle),
  }),
  construct: (binding, spec, host, context) => new PosixAioMethod(binding, spec, host, context),
});

/**
 * A live check that POSIX aio works here: a write, an fdatasync and a
 * two-piece lio_listio read on a temporary file, compared byte for byte.
 * Never throws; the result is cached for the thread.  The options do not
 * change the answer (every option has a working fallback); invalid ones
 * make the probe say so.
 */
export function probe(options?: PosixAioOptions): AioProbeResult {
  return posix.probe(options);
}

/**
 * The method object of one context: the shared NativeMethod plus what
 * lanes need, the knowledge of which file owns which fd.
 */
class PosixAioMethod extends NativeMethod {
  readonly #binding: PosixAioBinding;
  /** The file each fd number was last used with; a different file on the same number drops the old lanes. */
  readonly #fileByFd: Map<number, AioFile>;

  constructor(binding: PosixAioBinding, spec: NativeMethodSpec, host: AioMethodHost, context: AioMethodContext) {
    const fileByFd = new Map<number, AioFile>();
    super(
      binding,
      {
        ...spec,
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
    this.#fileByFd = fileByFd;
  }

  override submit(ios: readonly AioIoView[], count: number): number {
    for (let i = 0; i < count; i++) {
      const file = ios[i].file as AioFile;
      if (this.#fileByFd.get(file.fd) !== file) this.#adopt(file);
    }
    return super.submit(ios, count);
  }

  /**
   * An fd number used by another file than before: lanes made for the old
   * file (its fd was closed behind our back and the number reused) must not
   * carry IO for this one.
   */
  #adopt(file: AioFile): void {
    if (this.#fileByFd.has(file.fd)) this.#binding.forgetFile(this.nativeContext, file.fd);
    this.#fileByFd.set(file.fd, file);
  }

  override close(): void {
    this.#fileByFd.clear();
    super.close();
  }

  /** The doorbell the context really uses, and why a stronger one was refused (tests, `aio doctor`). */
  doorbell(): { mode: PosixAioDoorbell; note: string } {
    return this.#binding.doorbell(this.nativeContext);
  }
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
  return posix.factory(options);
}

/** The factory under the name every backend package exports. */
export const method = posixAio;
