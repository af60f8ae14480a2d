import type { AioApi, CaseConfig, WorkloadDefinition } from '../workloads/index.js';
import { InOrderStamps, IoLoopState, expectFullTransfer, runPromiseLoops, slotBuffers } from './loops.js';
import { handleMethod, nodeOpenFlags } from './node-fs.js';
import type { MethodRunner, OpenMethod, Phase, RunMeasurement } from './runner.js';
import { openWithWalWriter, type WalWriterClassView } from './wal-writer.js';

/*
 * Everything aio-specific in the bench lives in this file: loading @aio/core
 * and @aio/auto, finding the methods, and driving them through the handle +
 * batch-mode API or the Promise API behind the same MethodRunner interface
 * as the baselines.
 *
 * Both packages are imported dynamically with a specifier TypeScript does
 * not resolve, so the bench builds, runs its baselines and says why the aio
 * rows are missing while @aio/core is not built (or @aio/auto not written).
 * The interfaces below are the part of their API the bench uses, written from
 * the API the library promises; once @aio/core ships its types, these can
 * become `import type` from it.
 */

type AioResultStatus = 'unknown' | 'ok' | 'partial' | 'warning' | 'error';

interface AioReturnView {
  result: { status: AioResultStatus; result: number; errno?: number };
}

interface AioWaitRefView {
  isDone(): boolean;
  wait(): Promise<unknown>;
}

interface AioHandleView {
  getWaitRef(ref: AioWaitRefView): void;
  registerCallbacks(id: number, data: number): void;
  startRead(file: AioFileView, buffer: Buffer, offset: number): void;
  startWrite(file: AioFileView, buffer: Buffer, offset: number): void;
  startFsync(file: AioFileView): void;
}

interface AioFileView {
  read(buffer: Buffer, position: number): Promise<number>;
  write(buffer: Buffer, position: number): Promise<number>;
  sync(): Promise<unknown>;
  close(): Promise<unknown>;
}

interface AioOpenOptions {
  read: boolean;
  write: boolean;
  direct: boolean;
  dsync: boolean;
  create: boolean;
  truncate: boolean;
}

export interface AioContextView {
  /** The method's capabilities; `maxDepth` is the most IOs it really keeps in flight (the sync method: 1). */
  readonly capabilities?: { readonly maxDepth?: number };
  open(path: string, options: AioOpenOptions): AioFileView | Promise<AioFileView>;
  acquire(ret: AioReturnView): AioHandleView;
  enterBatchMode(): void;
  exitBatchMode(): void;
  submitStaged(): void;
  close(): Promise<unknown>;
}

interface AioCoreModule {
  Aio: new (options: { method: unknown; maxConcurrency: number }) => AioContextView;
  AioReturn: new () => AioReturnView;
  AioWaitRef: new () => AioWaitRefView;
  syncMethod: () => unknown;
  defineAioCallbacks(callbacks: { name: string; completeLocal: (handle: unknown, prior: unknown, data: number) => unknown }): number;
  /** The WAL writer (@aio/core's wal.ts); absent from an older build. */
  WalWriter?: WalWriterClassView;
  /** The helpers (@aio/core's read-stream.ts and write-back.ts); absent from an older build. */
  readStream?: (aio: AioContextView, file: AioFileView, options: ReadStreamOptionsView) => ReadStreamView;
  writeBack?: <P extends DirtyPageView>(aio: AioContextView, pages: Iterable<P>, options: WriteBackOptionsView<P>) => Promise<{ syncFailed: { error: unknown }[] }>;
}

interface ReadStreamOptionsView {
  blockSize: number;
  combineLimit: number;
  maxIos: number;
  nextBlock: () => number | null;
}

interface ReadStreamItemView {
  block: number;
  length: number;
}

interface ReadStreamView extends AsyncIterable<ReadStreamItemView> {
  /** Every block that is ready at the head, after waiting for the first; null at the end.  Absent from an older build. */
  nextBatch?(): Promise<ReadStreamItemView[] | null>;
  end(): Promise<void>;
}

interface DirtyPageView {
  file: AioFileView;
  offset: number;
  buffer: Buffer;
}

interface WriteBackOptionsView<P> {
  window: number;
  sync: 'fsync' | 'none';
  onClean: (page: P) => void;
  onError: (page: P, error: unknown) => void;
}

/** The part of an @aio/fs FileHandle the bench uses: node:fs/promises' FileHandle methods. */
interface AioFsHandleView {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number; buffer: Buffer }>;
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number; buffer: Buffer }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** @aio/fs: open() as node:fs/promises has it, plus the context to run on. */
export interface AioFsModule {
  open(path: string, flags: number, mode: number | undefined, options: { aio: unknown }): Promise<AioFsHandleView>;
}

/** One row of @aio/auto's listMethods(). */
export interface AioMethodListing {
  name: string;
  installed: boolean;
  available: boolean;
  reason: string;
  factory?: unknown;
}

interface AioAutoModule {
  listMethods(): Promise<AioMethodListing[]>;
  chooseMethod(): Promise<{ name: string; factory: unknown }>;
}

/** What the bench found of the library: the core module (or why not), the methods and the auto-selected one. */
export interface AioDiscovery {
  core: AioCoreModule | null;
  /** Why there are no aio rows, when core is null. */
  unavailableReason: string;
  methods: AioMethodListing[];
  chosen: { name: string; factory: unknown } | null;
  /** @aio/fs, for `--api fs`; absent or null when it is not built. */
  fs?: AioFsModule | null;
  /** Why there are no `--api fs` rows, when fs is null. */
  fsUnavailableReason?: string;
}

const CORE_PACKAGE = '@aio/core';
const AUTO_PACKAGE = '@aio/auto';
const FS_PACKAGE = '@aio/fs';
const DEFAULT_MAX_CONCURRENCY = 64;

/**
 * Loads @aio/core and, when present, @aio/auto.  Without @aio/auto the only
 * method is `sync` from @aio/core, which is always available.
 */
export async function discoverAio(): Promise<AioDiscovery> {
  const core = await importOptional(CORE_PACKAGE);
  if (!isCoreModule(core.module)) {
    const detail = core.module ? 'it does not export Aio, AioReturn, AioWaitRef and syncMethod yet' : core.error;
    return { core: null, unavailableReason: `${CORE_PACKAGE} not built (${detail})`, methods: [], chosen: null };
  }
  const fsModule = await importOptional(FS_PACKAGE);
  const fs = isFsModule(fsModule.module) ? fsModule.module : null;
  const fsUnavailableReason = fs ? '' : `${FS_PACKAGE} not built (${fsModule.error || 'it does not export open'})`;
  const auto = await importOptional(AUTO_PACKAGE);
  if (!isAutoModule(auto.module)) {
    const sync = { name: 'sync', factory: core.module.syncMethod() };
    const listing = { ...sync, installed: true, available: true, reason: `${AUTO_PACKAGE} not installed` };
    return { core: core.module, unavailableReason: '', methods: [listing], chosen: sync, fs, fsUnavailableReason };
  }
  const [methods, chosen] = await Promise.all([auto.module.listMethods(), auto.module.chooseMethod()]);
  return { core: core.module, unavailableReason: '', methods, chosen, fs, fsUnavailableReason };
}

function isFsModule(module: unknown): module is AioFsModule {
  return typeof (module as Partial<Record<keyof AioFsModule, unknown>> | null)?.open === 'function';
}

async function importOptional(specifier: string): Promise<{ module: unknown; error: string }> {
  try {
    return { module: await import(specifier), error: '' };
  } catch (error) {
    return { module: null, error: (error as Error).message.split('\n')[0] };
  }
}

function isCoreModule(module: unknown): module is AioCoreModule {
  const candidate = module as Partial<Record<keyof AioCoreModule, unknown>> | null;
  return (
    typeof candidate?.Aio === 'function' &&
    typeof candidate.AioReturn === 'function' &&
    typeof candidate.AioWaitRef === 'function' &&
    typeof candidate.syncMethod === 'function'
  );
}

function isAutoModule(module: unknown): module is AioAutoModule {
  const candidate = module as Partial<Record<keyof AioAutoModule, unknown>> | null;
  return typeof candidate?.listMethods === 'function' && typeof candidate.chooseMethod === 'function';
}

/** One aio method (by its method name) driven through one API. */
export class AioRunner implements MethodRunner {
  readonly warmsUp = true;
  /** Learnt from the context once opened: a method may keep fewer IOs in flight than asked. */
  private methodMaxDepth = Number.POSITIVE_INFINITY;

  constructor(
    private readonly core: AioCoreModule,
    readonly method: string,
    private readonly factory: unknown,
    readonly api: AioApi,
    /** @aio/fs, needed for `--api fs` only. */
    private readonly fsModule: AioFsModule | null = null,
  ) {}

  /**
   * The depth the rows report: what was asked, unless the method says it
   * keeps fewer IOs in flight (the sync method runs each IO as it is staged,
   * so it reports 1, like node-fs-sync), in the same spirit as the baselines.
   */
  effectiveQd(config: CaseConfig): number {
    return Math.min(config.qd, this.methodMaxDepth);
  }

  jobs(): number {
    return 1;
  }

  async unavailableReason(): Promise<string | null> {
    return null;
  }

  async open(config: CaseConfig, workload: WorkloadDefinition): Promise<OpenMethod> {
    const aio = new this.core.Aio({ method: this.factory, maxConcurrency: Math.max(DEFAULT_MAX_CONCURRENCY, config.qd) });
    const maxDepth = aio.capabilities?.maxDepth;
    if (typeof maxDepth === 'number' && maxDepth >= 1) this.methodMaxDepth = maxDepth;
    if (this.api === 'fs') return openWithFs(this.fsModule, aio, config, workload);
    if (this.api === 'wal') return openWithWalWriter(this.core.WalWriter, aio, this.method, config, workload);
    let file: AioFileView;
    try {
      file = await aio.open(config.file, {
        read: workload.op === 'read',
        write: workload.op === 'write',
        direct: config.direct,
        dsync: workload.dsync,
        create: false,
        truncate: false,
      });
    } catch (error) {
      await aio.close();
      throw error;
    }
    const session: AioSession = {
      core: this.core,
      aio,
      file,
      config,
      workload,
      buffers: slotBuffers(config, workload, config.qd),
      slots: createSlots(this.core, config.qd),
    };
    return {
      measure: (phase) => (this.api === 'handle' ? measureWithHandles(session, phase) : measureWithPromises(session, phase)),
      close: async () => {
        await file.close();
        await aio.close();
      },
    };
  }
}

/**
 * `--api fs`: the file opened with @aio/fs's open() (the same open(2) flags as
 * the node:fs baselines) on this method's context, and driven by the same
 * handleMethod() as `node-fs-promises`, so that the two measure the same loop.
 */
async function openWithFs(fsModule: AioFsModule | null, aio: AioContextView, config: CaseConfig, workload: WorkloadDefinition): Promise<OpenMethod> {
  let handle: AioFsHandleView;
  try {
    if (fsModule === null) throw new Error('@aio/fs is not built');
    handle = await fsModule.open(config.file, nodeOpenFlags(config, workload), undefined, { aio });
  } catch (error) {
    await aio.close();
    throw error;
  }
  return handleMethod(handle, config, workload, async () => {
    await handle.close();
    await aio.close();
  });
}

interface AioSession {
  core: AioCoreModule;
  aio: AioContextView;
  file: AioFileView;
  config: CaseConfig;
  workload: WorkloadDefinition;
  buffers: Buffer[];
  slots: HandleSlots;
}

/**
 * Per-slot objects reused by every IO of a phase, so that issuing an IO
 * allocates nothing: the return object the result lands in, the wait
 * reference, the issue stamp (see IoLoopState) and the offset (for error
 * messages).
 */
interface HandleSlots {
  returns: AioReturnView[];
  waitRefs: AioWaitRefView[];
  stamps: Float64Array;
  offsets: Float64Array;
}

function createSlots(core: AioCoreModule, count: number): HandleSlots {
  return {
    returns: Array.from({ length: count }, () => new core.AioReturn()),
    waitRefs: Array.from({ length: count }, () => new core.AioWaitRef()),
    stamps: new Float64Array(count),
    offsets: new Float64Array(count),
  };
}

function measureWithHandles(session: AioSession, phase: Phase): Promise<RunMeasurement> {
  switch (session.workload.name) {
    case 'seqread':
      return readWithStream(session, phase);
    case 'writeback':
      return writeWithWriteBack(session, phase);
    default:
      return measureHandleLoop(session, phase);
  }
}

/** randread and wal: the handle loop over the workload's offsets. */
async function measureHandleLoop(session: AioSession, phase: Phase): Promise<RunMeasurement> {
  const state = new IoLoopState(session.workload.createOffsets(session.config, phase.seed), phase);
  await keepQueueFull(session, state);
  return state.finish(session.config.bs);
}

/**
 * seqread through @aio/core's read stream: blocks of --bs, consecutive ones
 * merged up to 128 KiB (or one block if --bs is larger), --qd reads in
 * flight at most, the PostgreSQL 18 distance rule.  The consumer takes the
 * blocks in batches (`nextBatch()`: every block ready at the head, one
 * Promise per batch), the way a scan that processes whatever has arrived
 * would; a core without it is driven with `for await`.  A sampled block's
 * latency runs from the moment the stream took its number to the moment the
 * consumer got it.  Falls back to the handle loop on a core without a read
 * stream.
 */
async function readWithStream(session: AioSession, phase: Phase): Promise<RunMeasurement> {
  const { aio, file, config, workload, core } = session;
  if (core.readStream === undefined) return measureHandleLoop(session, phase);
  const state = new IoLoopState(workload.createOffsets(config, phase.seed), phase);
  // Blocks come out in the order their numbers went in; the window holds far fewer than this.
  const stamps = new InOrderStamps(4096);
  const stream = core.readStream(aio, file, {
    blockSize: config.bs,
    combineLimit: Math.max(128 * 1024, config.bs),
    maxIos: config.qd,
    nextBlock: () => {
      const offset = state.issue();
      if (offset < 0) return null;
      const block = offset / config.bs;
      stamps.push(block, state.stamp);
      return block;
    },
  });
  const consume = (item: ReadStreamItemView): void => {
    expectFullTransfer('read', item.length, config.bs, item.block * config.bs);
    state.done(stamps.take(item.block));
  };
  if (stream.nextBatch === undefined) {
    for await (const item of stream) consume(item);
    return state.finish(config.bs);
  }
  try {
    for (let batch = await stream.nextBatch(); batch !== null; batch = await stream.nextBatch()) {
      for (let i = 0; i < batch.length; i++) consume(batch[i]);
    }
  } finally {
    await stream.end();
  }
  return state.finish(config.bs);
}

/**
 * writeback through @aio/core's write-back helper: dirty pages at the
 * workload's offsets with a window of --qd, then one fsync once the window
 * drained.  Each slot buffer is lent to one page until it is clean.  Falls
 * back to the handle loop on a core without it.
 */
async function writeWithWriteBack(session: AioSession, phase: Phase): Promise<RunMeasurement> {
  const { aio, file, config, workload, core, buffers } = session;
  const state = new IoLoopState(workload.createOffsets(config, phase.seed), phase);
  if (core.writeBack === undefined) {
    await keepQueueFull(session, state);
    await fsyncWithHandle(session);
    return state.finish(config.bs);
  }
  // The window is --qd and there are --qd buffers: a page is taken only when the window has room, so one is always free.
  const free = buffers.map((_, index) => index);
  type Page = DirtyPageView & { slot: number; stamp: number };
  function* pages(): Generator<Page> {
    for (;;) {
      const offset = state.issue();
      if (offset < 0) return;
      const slot = free.pop() as number;
      yield { file, offset, buffer: buffers[slot], slot, stamp: state.stamp };
    }
  }
  const result = await core.writeBack<Page>(aio, pages(), {
    window: config.qd,
    sync: workload.syncAtEnd ? 'fsync' : 'none',
    onClean: (page) => {
      free.push(page.slot);
      state.done(page.stamp);
    },
    onError: (page, error) => {
      free.push(page.slot);
      state.fail(error);
    },
  });
  if (result.syncFailed.length > 0) state.fail(result.syncFailed[0].error);
  return state.finish(config.bs);
}

/**
 * The handle-API loop, driven the way a storage engine drives handles: every
 * IO carries a completeLocal callback (`slot-ready`, with its slot number as
 * data) that marks its slot ready and wakes the loop; the loop then takes
 * every ready slot's result and refills all free slots in batch mode,
 * submitting every --batch IOs (default 8) so the first ones start while the
 * rest are prepared.  It never waits for one particular IO: waiting for the oldest
 * turns the loop into lockstep batches (submit 32, wait, submit 32) that
 * leave the device or the workers idle between rounds; fio's io_uring engine
 * in that shape (`--iodepth_batch_complete_min=32`) loses the same ~10-25%.
 * One Promise per wake-up, none per IO.  After a failure the loop stops
 * issuing and drains what is in flight.
 */
async function keepQueueFull(session: AioSession, state: IoLoopState): Promise<void> {
  const { aio, file, buffers, slots, workload, core, config } = session;
  const depth = buffers.length;
  const op = workload.op;
  const ready = readyList(core, depth);
  let started = 0;
  const free: number[] = Array.from({ length: depth }, (_, i) => depth - 1 - i);
  let inFlight = 0;
  let issuing = true;
  try {
    for (;;) {
      for (let slot = ready.take(); slot >= 0; slot = ready.take()) {
        inFlight--;
        free.push(slot);
        try {
          expectOk(slots.returns[slot], op, buffers[slot].length, slots.offsets[slot]);
          state.done(slots.stamps[slot]);
        } catch (error) {
          state.fail(error);
          issuing = false;
        }
      }
      if (issuing && free.length > 0) {
        aio.enterBatchMode();
        try {
          while (free.length > 0) {
            const offset = state.issue();
            if (offset < 0) {
              issuing = false;
              break;
            }
            const slot = free.pop() as number;
            const handle = aio.acquire(slots.returns[slot]);
            handle.registerCallbacks(ready.callbackId, slot);
            slots.stamps[slot] = state.stamp;
            slots.offsets[slot] = offset;
            inFlight++;
            if (op === 'read') handle.startRead(file, buffers[slot], offset);
            else handle.startWrite(file, buffers[slot], offset);
            if (++started % config.batch === 0) aio.submitStaged();
          }
        } catch (error) {
          state.fail(error);
          issuing = false;
        } finally {
          aio.exitBatchMode();
        }
      }
      if (inFlight === 0) break;
      await ready.next();
    }
  } finally {
    ready.detach();
  }
  state.throwIfFailed();
}

/**
 * Slots whose IO completed, filled by the `slot-ready` completion callback.
 * The callback is defined once per thread; it reports to whichever list is
 * attached (the bench runs one loop at a time).
 */
interface ReadyList {
  readonly callbackId: number;
  /** A ready slot, or -1. */
  take(): number;
  /** Resolves once at least one slot is ready. */
  next(): Promise<void>;
  detach(): void;
}

let slotReadyId: number | undefined;
let attached: { push(slot: number): void } | null = null;

function readyList(core: AioCoreModule, depth: number): ReadyList {
  slotReadyId ??= core.defineAioCallbacks({
    name: 'bench-slot-ready',
    completeLocal: (_handle: unknown, prior: unknown, slot: number) => {
      attached?.push(slot);
      return prior;
    },
  });
  const slots = new Int32Array(depth);
  let count = 0;
  let wake: (() => void) | null = null;
  attached = {
    push(slot) {
      slots[count++] = slot;
      if (wake !== null) {
        const resolve = wake;
        wake = null;
        resolve();
      }
    },
  };
  return {
    callbackId: slotReadyId,
    take: () => (count > 0 ? slots[--count] : -1),
    next: () => (count > 0 ? Promise.resolve() : new Promise<void>((resolve) => (wake = resolve))),
    detach: () => (attached = null),
  };
}

async function fsyncWithHandle(session: AioSession): Promise<void> {
  const { aio, file, slots } = session;
  aio.enterBatchMode();
  try {
    const handle = aio.acquire(slots.returns[0]);
    handle.getWaitRef(slots.waitRefs[0]);
    handle.startFsync(file);
  } finally {
    aio.exitBatchMode();
  }
  await slots.waitRefs[0].wait();
  const { status, errno } = slots.returns[0].result;
  if (status !== 'ok') throw new Error(`fsync finished with status ${status}${errno ? ` (errno ${errno})` : ''}`);
}

function expectOk(ret: AioReturnView, op: 'read' | 'write', blockSize: number, offset: number): void {
  const { status, result, errno } = ret.result;
  if (status !== 'ok' && status !== 'partial') {
    throw new Error(`${op} at offset ${offset} finished with status ${status}${errno ? ` (errno ${errno})` : ''}`);
  }
  expectFullTransfer(op, result, blockSize, offset);
}

/** The convenience Promise API: qd async loops of file.read / file.write, then file.sync() for writeback. */
async function measureWithPromises(session: AioSession, phase: Phase): Promise<RunMeasurement> {
  const { file, buffers, config, workload } = session;
  const state = new IoLoopState(workload.createOffsets(config, phase.seed), phase);
  const issue =
    workload.op === 'read'
      ? (buffer: Buffer, offset: number) => file.read(buffer, offset)
      : (buffer: Buffer, offset: number) => file.write(buffer, offset);
  await runPromiseLoops(buffers, state, workload.op, issue);
  if (workload.syncAtEnd) await file.sync();
  return state.finish(config.bs);
}
