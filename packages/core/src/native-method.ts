/**
 * The JavaScript half every native method shares.
 *
 * A native backend (io_uring, threadpool, posix_aio, kqueue, iocp) exports a
 * small addon with the same functions (the {@link AioNativeBinding} contract)
 * and wraps it in a {@link NativeMethod}.  This class turns the core's
 * handles into a table of plain numbers and a list of buffers that the
 * addon decodes in one call per batch (the C side is
 * `tooling/native/src/io.c`), and turns the addon's completion table back
 * into `host.processCompletions` calls.  No object is allocated per IO on
 * this path.
 *
 * The submission table: {@link AIO_SUBMIT_STRIDE} float64 words per IO:
 *   [0] op code           [1] handle index     [2] generation & 0xffffffff
 *   [3] flags (the handle's AIO_FLAG_* bits, plus AIO_IO_FILE_DIRECT when the
 *       file was opened for direct I/O)
 *                         [4] file (fd/HANDLE) [5] offset
 *   [6] length (bytes)    [7] first view       [8] view count
 *   [9] disposition, written back by the addon (see AIO_DISPOSITION)
 * Float64 holds every integer up to 2^53 exactly, which covers offsets,
 * lengths and handle values.
 *
 * The completion table: int32 triples [handle index, generation & 0xffffffff,
 * raw result], one per completed IO, `maxConcurrency` triples long (no more
 * IOs than that can be in flight, so one drain always fits).
 */
import { AioUsageError } from './errors.js';
import type { AioFile, AioOpenFlags } from './file.js';
import {
  AIO_OP,
  AIO_OP_NAMES,
  type AioCancelOutcome,
  type AioFallbackReason,
  type AioIoView,
  type AioMethod,
  type AioMethodCapabilities,
  type AioMethodContext,
  type AioMethodHost,
  type AioMethodName,
  type AioProbeResult,
} from './method.js';
import { executeWithNodeFs } from './sync-method.js';
export { loadNativeBinding } from './native-loader.js';

/** Float64 words per IO in the submission table. */
export const AIO_SUBMIT_STRIDE = 10;

/** Set in word 3 (beside the handle flags) when the IO's file was opened for direct I/O. */
export const AIO_IO_FILE_DIRECT = 256;

/** The most IOs one submit call carries (the core's batch size). */
export const AIO_SUBMIT_MAX = 32;

/** What the addon wrote into word 9 for each IO of a submit call. */
export const AIO_DISPOSITION = {
  /** Accepted: in flight; its completion will come through the completion table. */
  accepted: 0,
  /** The method cannot do this op asynchronously here: run it synchronously. */
  unsupportedOp: 1,
  /** The method's queue or in-flight table is full: run it synchronously. */
  queueFull: 2,
  /** The OS said EAGAIN: run it synchronously. */
  eagain: 3,
  /** The OS refused it for another reason (the synchronous run reports the error): run it synchronously. */
  submitFailed: 4,
} as const;

const FALLBACK_REASON: Record<number, AioFallbackReason> = {
  1: 'unsupported-op',
  2: 'queue-full',
  3: 'eagain',
  4: 'submit-failed',
};

/** An opaque native context (an external value). */
export type AioNativeContext = object;

/**
 * The functions every native method addon exports.  All are called on the
 * thread that created the context; none of them calls back into JavaScript
 * except `onComplete`, which the addon calls from the event loop (never
 * from inside `submit`, `poll` or `wait`).
 */
export interface AioNativeBinding {
  /** A live check that the mechanism works here; never throws. */
  probe(options?: Readonly<Record<string, unknown>>): AioProbeResult;
  /**
   * Creates the native context.  `words` and `completions` stay referenced
   * by the native context until `close`; `onComplete(count)` is called on
   * the event loop after the addon filled `count` triples of `completions`.
   */
  create(
    options: Readonly<Record<string, unknown>>,
    words: Float64Array,
    completions: Int32Array,
    onComplete: (count: number) => void,
  ): AioNativeContext;
  /** Submits `count` IOs described in `words`, whose buffers are `views`; writes dispositions to word 9. */
  submit(context: AioNativeContext, count: number, views: readonly ArrayBufferView[]): void;
  /** Fills ready completions into the table without blocking; returns how many. */
  poll(context: AioNativeContext): number;
  /** Blocks until the IO (index, generation) completed; fills ready completions; returns how many. */
  wait(context: AioNativeContext, index: number, generation: number): number;
  /** Asks the OS to cancel an in-flight IO: 0 canceled, 1 not canceled, 2 unsupported. */
  cancel?(context: AioNativeContext, index: number, generation: number): number;
  /** Native counters. */
  stats(context: AioNativeContext): Record<string, number>;
  /** Frees the context; every IO has completed. */
  close(context: AioNativeContext): void;
}

/** What a backend tells {@link NativeMethod} about itself. */
export interface NativeMethodSpec {
  readonly name: AioMethodName;
  readonly capabilities: AioMethodCapabilities;
  readonly waitOnFileBeforeClose: boolean;
  /** Decides per IO whether the core must run it synchronously (e.g. references-local on a thread pool). */
  needsSynchronousExecution?(handle: AioIoView): boolean;
  /** Options passed to the addon's `create`. */
  readonly options: Readonly<Record<string, unknown>>;
  /**
   * For methods whose files are not node:fs fds (the Windows HANDLE
   * methods): open and close files, and run one IO synchronously, with the
   * backend's own calls.  Each gets the native context from `create`, so a
   * file can be tied to it (an IOCP context associates every file it opens
   * with its completion port).  Without them the core opens files with
   * node:fs and NativeMethod runs synchronous IO with node:fs.
   */
  openFile?(context: AioNativeContext, path: string, flags: Required<AioOpenFlags>): number;
  closeFile?(context: AioNativeContext, file: AioFile): void;
  executeSynchronously?(context: AioNativeContext, handle: AioIoView): number;
}

const CANCEL_OUTCOMES: readonly AioCancelOutcome[] = ['canceled', 'not-canceled', 'unsupported'];

/** An AioMethod over a native addon that follows {@link AioNativeBinding}. */
export class NativeMethod implements AioMethod {
  readonly name: AioMethodName;
  readonly capabilities: AioMethodCapabilities;
  readonly waitOnFileBeforeClose: boolean;
  /** Present when the spec supplies it (see {@link NativeMethodSpec.openFile}). */
  openFile?: (path: string, flags: Required<AioOpenFlags>) => number;
  /** Present when the spec supplies it. */
  closeFile?: (file: AioFile) => void;
  readonly #binding: AioNativeBinding;
  readonly #host: AioMethodHost;
  readonly #spec: NativeMethodSpec;
  readonly #context: AioNativeContext;
  readonly #words = new Float64Array(AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE);
  readonly #completions: Int32Array;
  /**
   * The buffers of the batch being submitted.  Reused: after each submit the
   * used slots are cleared (so no buffer is kept alive by it) but the array
   * keeps its length, because emptying it would make V8 shrink and regrow
   * its backing store every batch.
   */
  readonly #views: (ArrayBufferView | undefined)[] = [];
  /** Per op code: 1 if the addon runs it asynchronously (it is in `capabilities.ops`). */
  readonly #asyncOps: Uint8Array;
  #closed = false;

  constructor(binding: AioNativeBinding, spec: NativeMethodSpec, host: AioMethodHost, context: AioMethodContext) {
    this.name = spec.name;
    this.capabilities = spec.capabilities;
    this.waitOnFileBeforeClose = spec.waitOnFileBeforeClose;
    this.#binding = binding;
    this.#host = host;
    this.#spec = spec;
    this.#completions = new Int32Array(context.maxConcurrency * 3);
    this.#asyncOps = asyncOpTable(spec.capabilities);
    const options = { ...spec.options, maxConcurrency: context.maxConcurrency };
    this.#context = binding.create(options, this.#words, this.#completions, (count) => this.#deliver(count));
    const { openFile, closeFile } = spec;
    if (openFile !== undefined) this.openFile = (path, flags) => openFile.call(spec, this.#context, path, flags);
    if (closeFile !== undefined) this.closeFile = (file) => closeFile.call(spec, this.#context, file);
  }

  /** The addon's context of this method, for subclasses that call the addon's own functions with it. */
  protected get nativeContext(): AioNativeContext {
    return this.#context;
  }

  /**
   * An op the addon does not list in `capabilities.ops` (an addon built
   * before the file operations existed) never reaches it: it runs
   * synchronously, so an old binary stays correct.
   */
  needsSynchronousExecution(handle: AioIoView): boolean {
    if (this.#asyncOps[handle.op] === 0) return true;
    return this.#spec.needsSynchronousExecution?.(handle) ?? false;
  }

  submit(handles: readonly AioIoView[], count: number): number {
    const words = this.#words;
    const views = this.#views;
    let used = 0;
    for (let i = 0; i < count; i++) used = encodeIo(handles[i], words, i * AIO_SUBMIT_STRIDE, views, used);
    try {
      this.#binding.submit(this.#context, count, views as readonly ArrayBufferView[]);
    } finally {
      for (let i = 0; i < used; i++) views[i] = undefined;
    }
    for (let i = 0; i < count; i++) {
      const disposition = words[i * AIO_SUBMIT_STRIDE + 9];
      if (disposition === AIO_DISPOSITION.accepted) this.#host.prepareSubmit(handles[i]);
      else this.#host.performSynchronously(handles[i], FALLBACK_REASON[disposition] ?? 'submit-failed');
    }
    return count;
  }

  waitOne(handle: AioIoView, generation: number): void {
    const count = this.#binding.wait(this.#context, handle.index, generation >>> 0);
    if (count > 0) this.#host.processCompletions(this.#completions, count);
  }

  poll(): number {
    const count = this.#binding.poll(this.#context);
    if (count > 0) this.#host.processCompletions(this.#completions, count);
    return count;
  }

  cancel(handle: AioIoView): AioCancelOutcome {
    if (this.#binding.cancel === undefined) return 'unsupported';
    return CANCEL_OUTCOMES[this.#binding.cancel(this.#context, handle.index, handle.generation >>> 0)] ?? 'unsupported';
  }

  executeSynchronously(handle: AioIoView): number {
    if (this.#spec.executeSynchronously !== undefined) return this.#spec.executeSynchronously(this.#context, handle);
    return executeWithNodeFs(handle);
  }

  stats(): Readonly<Record<string, number>> {
    return this.#closed ? {} : this.#binding.stats(this.#context);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#binding.close(this.#context);
  }

  /** Called by the addon on the event loop with `count` completions in the table. */
  #deliver(count: number): void {
    if (count > 0) this.#host.processCompletions(this.#completions, count);
  }
}

/**
 * Writes one IO into the submission table and its buffers into `views` from
 * slot `used` on; returns the number of slots used after it.
 */
function encodeIo(handle: AioIoView, words: Float64Array, at: number, views: (ArrayBufferView | undefined)[], used: number): number {
  words[at] = handle.op;
  words[at + 1] = handle.index;
  // ToUint32 is the generation modulo 2^32, in one instruction (`%` by 2^32 is a floating-point remainder call).
  words[at + 2] = handle.generation >>> 0;
  const file = handle.file as AioFile;
  words[at + 3] = file.flags.direct ? handle.flags | AIO_IO_FILE_DIRECT : handle.flags;
  words[at + 4] = file.fd;
  words[at + 5] = handle.offset;
  words[at + 6] = handle.length;
  words[at + 7] = used;
  words[at + 9] = -1;
  if (handle.buffer !== null) {
    views[used] = handle.buffer;
    words[at + 8] = 1;
    return used + 1;
  }
  if (handle.buffers !== null) {
    for (const view of handle.buffers) views[used++] = view;
    words[at + 8] = handle.buffers.length;
    return used;
  }
  words[at + 8] = 0;
  return used;
}

/**
 * Per op code, 1 where a method may be handed the op in `submit`: the six
 * data ops always (every method has run them since the first release, and
 * its `capabilities.ops` only described them), the file operations (stat,
 * truncate, allocate) only where `capabilities.ops` lists them, so a method
 * or an addon built before they existed never sees one.
 */
export function asyncOpTable(capabilities: AioMethodCapabilities): Uint8Array {
  const table = new Uint8Array(AIO_OP_NAMES.length);
  table.fill(1, AIO_OP.read, AIO_OP.fdatasync + 1);
  for (const name of capabilities.ops) {
    const code = AIO_OP_NAMES.indexOf(name);
    if (code > 0) table[code] = 1;
  }
  return table;
}

/** The error a factory throws from `create()` when its probe failed. */
export function unavailableMethod(name: AioMethodName, reason: string): AioUsageError {
  return new AioUsageError('AIO_ERR_METHOD_UNAVAILABLE', `the ${name} method is not available here: ${reason}`);
}
