/**
 * The engine: one data file of 8 KiB pages (direct I/O), a WAL directory, a control file; a buffer
 * pool, a B+tree, commits acknowledged only when durable, checkpoints, and recovery on open.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WalWriter, readWal, type Aio, type AioFile, type WalDurability } from '@aio/core';
import { BufferPool, type PrefetchShape } from './buffer-pool.js';
import { Transaction, decodeTxRecord, leavesInRange, lookup, redoImage, type TxOp } from './btree.js';
import { ControlFile } from './control.js';
import { fileSize, syncDirectory } from './file-ops.js';
import { TreeLock } from './lock.js';
import { META_PAGE, PAGE_HEADER_SIZE, PAGE_SIZE, pageKind, type MetaNode } from './page.js';
import { checkTree, type CheckReport } from './check.js';
import { openAio, type MethodChoiceName } from './method.js';

export interface EngineOptions {
  /** Frames in the buffer pool (default 1024: 8 MiB). */
  poolPages?: number;
  /** WAL segment size (default 16 MiB). */
  walSegmentSize?: number;
  /** How the WAL is made durable (default: core's fastest for the method). */
  walDurability?: WalDurability;
  /** Open the data file with O_DIRECT (default true; falls back to buffered where refused). */
  direct?: boolean;
  /** Start a checkpoint once this much WAL was written since the last one (default 64 MiB; 0: never). */
  checkpointWalBytes?: number;
}

export interface EngineStats {
  commits: number;
  checkpoints: number;
  redoRecords: number;
  redoPages: number;
}

export interface CheckpointInfo {
  redo: number;
  pagesWritten: number;
}

/** The share of the pool a scan's read-ahead may hold. */
export const SCAN_POOL_SHARE = 0.5;
const LEAF_KIND = 2;

/**
 * One entry of a scan: where its key and value lie in the leaf page that holds it.  The object and
 * the page are reused; both are valid only during the visit call.  `key()`/`value()` copy,
 * `keyView()`/`valueView()` are views of the page (valid during the call only).
 */
export class ScanEntry {
  page: Buffer = Buffer.alloc(0);
  keyOffset = 0;
  keyLength = 0;
  valueOffset = 0;
  valueLength = 0;

  key(): Buffer {
    return Buffer.from(this.keyView());
  }

  value(): Buffer {
    return Buffer.from(this.valueView());
  }

  keyView(): Buffer {
    return this.page.subarray(this.keyOffset, this.keyOffset + this.keyLength);
  }

  valueView(): Buffer {
    return this.page.subarray(this.valueOffset, this.valueOffset + this.valueLength);
  }

  /** Like Buffer.compare(this key, other), without a view. */
  compareKey(other: Buffer): number {
    return this.page.compare(other, 0, other.length, this.keyOffset, this.keyOffset + this.keyLength);
  }
}

export class EngineFailedError extends Error {
  readonly code = 'ENGINE_FAILED';
}

export class Engine {
  readonly stats: EngineStats = { commits: 0, checkpoints: 0, redoRecords: 0, redoPages: 0 };
  /** How the last scan read (reads in flight, pages per read, reads done), for the bench. */
  lastScan: PrefetchShape | null = null;
  readonly #lock = new TreeLock();
  #redo = 0;
  #checkpointRun: Promise<CheckpointInfo> | null = null;
  #failure: Error | null = null;
  #closed = false;

  private constructor(
    readonly aio: Aio,
    readonly dir: string,
    readonly file: AioFile,
    readonly direct: boolean,
    readonly pool: BufferPool,
    readonly wal: WalWriter,
    readonly control: ControlFile,
    readonly options: Required<Omit<EngineOptions, 'walDurability'>>,
  ) {}

  /** Opens (creating) the engine in dir, recovering from the last checkpoint. */
  static async open(aio: Aio, dir: string, options: EngineOptions = {}): Promise<Engine> {
    const opts = {
      poolPages: options.poolPages ?? 1024,
      walSegmentSize: options.walSegmentSize ?? 16 * 1024 * 1024,
      direct: options.direct ?? true,
      checkpointWalBytes: options.checkpointWalBytes ?? 64 * 1024 * 1024,
    };
    fs.mkdirSync(dir, { recursive: true });
    const dataPath = path.join(dir, 'data');
    const created = !fs.existsSync(dataPath);
    const { control, state } = await ControlFile.open(aio, dir);
    const { file, direct } = openData(aio, dataPath, opts.direct);
    const walDir = path.join(dir, 'wal');
    const wal = await WalWriter.open(aio, walDir, { segmentSize: opts.walSegmentSize, durability: options.walDurability, from: state?.redo });
    // The new files' directory entries must survive a power cut before anything relies on them.
    if (created) await syncDirectory(aio, dir);
    const pool = new BufferPool(aio, file, opts.poolPages, wal);
    const engine = new Engine(aio, dir, file, direct, pool, wal, control, opts);
    engine.#redo = state?.redo ?? 0;
    await engine.#recover(state?.redo);
    return engine;
  }

  get redoLsn(): number {
    return this.#redo;
  }

  get failure(): Error | null {
    return this.#failure;
  }

  async get(key: Buffer): Promise<Buffer | null> {
    this.#checkUsable();
    return this.#lock.shared(() => lookup(this.pool, key));
  }

  /**
   * Entries with start <= key < end (null: unbounded), at most limit, in key order, as copies.  Built
   * on {@link scanEach}; a caller that only looks at each entry should use that instead (no allocation
   * per entry).
   */
  async scan(start: Buffer | null, end: Buffer | null, limit = Infinity): Promise<[Buffer, Buffer][]> {
    const out: [Buffer, Buffer][] = [];
    await this.scanEach(start, end, (entry) => void out.push([entry.key(), entry.value()]), limit);
    return out;
  }

  /**
   * Visits entries with start <= key < end (null: unbounded) in key order, at most limit; returns how
   * many were visited.  `visit` gets one {@link ScanEntry} object, reused: offsets into the leaf page
   * that holds the entry, valid only during the call (the page is a pool frame the scan moves past).
   * Returning false stops the scan.  Leaves are read ahead through core's read stream straight into
   * pool frames (a look-ahead of up to half the pool, frames reused as a ring), each page's checksum
   * verified once as it arrives; nothing is decoded or copied per entry, and keys are compared only in
   * the first and last leaf of the range.
   */
  async scanEach(start: Buffer | null, end: Buffer | null, visit: (entry: ScanEntry) => boolean | void, limit = Infinity): Promise<number> {
    this.#checkUsable();
    return this.#lock.shared(async () => {
      const leaves = await leavesInRange(this.pool, start, end);
      const entry = new ScanEntry();
      let visited = 0;
      let leafIndex = 0;
      const shape = await this.pool.prefetch(
        leaves,
        (page) => {
          if (page[16] !== LEAF_KIND) throw new Error(`page ${page.readUInt32LE(4)} is ${pageKind(page)} where a leaf was expected`);
          // Only the first leaf of the range can hold keys below start, only the last keys at or past end
          // (leavesInRange follows the separators), so the others need no comparison per entry.
          let belowStart = start !== null && leafIndex === 0;
          const pastEnd = end !== null && leafIndex === leaves.length - 1;
          leafIndex++;
          entry.page = page;
          const count = page.readUInt16LE(18);
          let at = PAGE_HEADER_SIZE;
          for (let i = 0; i < count; i++) {
            const keyLength = page[at] | (page[at + 1] << 8);
            const valueLength = page[at + 2] | (page[at + 3] << 8);
            entry.keyOffset = at + 4;
            entry.keyLength = keyLength;
            entry.valueOffset = at + 4 + keyLength;
            entry.valueLength = valueLength;
            at += 4 + keyLength + valueLength;
            if (belowStart) {
              if (entry.compareKey(start as Buffer) < 0) continue;
              belowStart = false;
            }
            if (pastEnd && entry.compareKey(end as Buffer) >= 0) return false;
            visited++;
            if (visit(entry) === false || visited >= limit) return false;
          }
          return true;
        },
        { share: SCAN_POOL_SHARE, ring: true },
      );
      this.lastScan = shape;
      return visited;
    });
  }

  put(key: Buffer, value: Buffer): Promise<number> {
    return this.commit([{ type: 'put', key, value }]);
  }

  delete(key: Buffer): Promise<number> {
    return this.commit([{ type: 'delete', key }]);
  }

  /**
   * Applies ops atomically and resolves with the commit's LSN once its WAL record is durable: not
   * before.  Concurrent commits share WAL flushes (group commit): the tree lock is held only while
   * the pages change, never during the flush.
   */
  async commit(ops: readonly TxOp[]): Promise<number> {
    this.#checkUsable();
    const lsn = await this.#lock.exclusive(async () => {
      this.#checkUsable();
      const tx = new Transaction(this.pool);
      try {
        for (const op of ops) await tx.apply(op);
      } catch (error) {
        tx.abort();
        throw error;
      }
      return tx.seal((record) => this.wal.append(record));
    });
    if (lsn === null) return this.wal.durableLsn;
    try {
      await this.wal.flush(lsn);
    } catch (error) {
      this.#fail(error);
      throw error;
    }
    this.stats.commits++;
    this.#maybeCheckpoint();
    return lsn;
  }

  /**
   * Writes every page dirty now (each after the WAL is durable to its LSN), waits for evictions in
   * flight, syncs the data file, and only then moves the redo pointer (control file, synced).
   */
  checkpoint(): Promise<CheckpointInfo> {
    this.#checkpointRun ??= this.#checkpoint().finally(() => (this.#checkpointRun = null));
    return this.#checkpointRun;
  }

  async #checkpoint(): Promise<CheckpointInfo> {
    this.#checkUsable();
    // Synchronous with each other: every record before redo is in the frames this list snapshots.
    const redo = this.wal.endLsn;
    const frames = this.pool.dirtyFrames();
    try {
      const before = this.pool.stats.writes;
      await this.pool.writeFrames(frames, 'none');
      await this.pool.drainWrites();
      await this.file.sync();
      await this.wal.flush(redo);
      await this.control.write(redo);
      this.#redo = redo;
      this.wal.recycleBefore(redo);
      this.stats.checkpoints++;
      return { redo, pagesWritten: this.pool.stats.writes - before };
    } catch (error) {
      this.#fail(error);
      throw error;
    }
  }

  /** Verifies every page on disk (checksums) and the tree's invariants, after a checkpoint. */
  async check(): Promise<CheckReport> {
    this.#checkUsable();
    await this.checkpoint();
    return this.#lock.shared(() => checkTree(this.aio, this.file, this.pool));
  }

  /** Checkpoints, then closes the log, the files and the pool. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#failure === null) await this.checkpoint();
    await this.#release();
  }

  /** Closes without a checkpoint or waiting for anything to be durable, as a crash would (tests). */
  async abandon(): Promise<void> {
    if (this.#closed) return;
    this.#failure ??= new EngineFailedError('abandoned');
    await this.#checkpointRun?.catch(() => undefined);
    await this.#release().catch(() => undefined);
  }

  async #release(): Promise<void> {
    this.#closed = true;
    await this.pool.drainWrites().catch(() => undefined);
    try {
      await this.wal.close();
      await this.control.close();
      await this.file.close();
    } finally {
      this.pool.dispose();
    }
  }

  async #recover(redo: number | undefined): Promise<void> {
    const filePages = Math.ceil((await fileSize(this.file)) / PAGE_SIZE);
    const reader = readWal(this.aio, this.wal.dir, { from: redo, segmentSize: this.options.walSegmentSize });
    let batch: { pages: { pageNo: number; image: Buffer }[]; endLsn: number }[] = [];
    for await (const record of reader) {
      if (record.endLsn > this.wal.durableLsn) break; // never past what the writer found valid
      const pages = decodeTxRecord(record.data);
      if (pages === null) continue;
      batch.push({ pages, endLsn: record.endLsn });
      if (batch.length >= 64) {
        await this.#redoBatch(batch, filePages);
        batch = [];
      }
    }
    await this.#redoBatch(batch, filePages);
    const metaFrame = await this.pool.pin(META_PAGE);
    const meta = this.pool.node(metaFrame);
    this.pool.unpin(metaFrame);
    if (meta.kind === 'zero') {
      const tx = new Transaction(this.pool);
      await tx.initialize();
      const lsn = tx.seal((record) => this.wal.append(record)) as number;
      await this.wal.flush(lsn);
    } else if (meta.kind !== 'meta') {
      throw new Error(`page 0 is a ${meta.kind} page, not the meta page: not an engine data file`);
    }
    await this.checkpoint();
  }

  /** Redo of a batch of records: their pages read ahead together, then each image applied if newer. */
  async #redoBatch(batch: { pages: { pageNo: number; image: Buffer }[]; endLsn: number }[], filePages: number): Promise<void> {
    if (batch.length === 0) return;
    const wanted = [...new Set(batch.flatMap((record) => record.pages.map((page) => page.pageNo)))];
    await this.pool.prefetch(wanted.filter((pageNo) => pageNo < filePages && this.pool.lookup(pageNo) === null).sort((a, b) => a - b));
    for (const record of batch) {
      this.stats.redoRecords++;
      for (const { pageNo, image } of record.pages) {
        const frame = await this.pool.pin(pageNo, 'redo');
        if (redoImage(this.pool, frame, image, record.endLsn)) this.stats.redoPages++;
        this.pool.unpin(frame);
      }
    }
  }

  #maybeCheckpoint(): void {
    const every = this.options.checkpointWalBytes;
    if (every <= 0 || this.#checkpointRun !== null || this.wal.endLsn - this.#redo < every) return;
    this.checkpoint().catch(() => undefined); // a failure is recorded in #failure and fails later calls
  }

  #fail(error: unknown): void {
    this.#failure ??= error instanceof Error ? error : new Error(String(error));
  }

  #checkUsable(): void {
    if (this.#closed) throw new EngineFailedError('the engine is closed');
    if (this.#failure !== null) throw new EngineFailedError(`the engine failed and must be reopened (recovery): ${this.#failure.message}`);
  }

  /** The tree's shape, for reports. */
  async meta(): Promise<MetaNode> {
    const frame = await this.pool.pin(META_PAGE);
    const node = { ...(this.pool.node(frame) as MetaNode) };
    this.pool.unpin(frame);
    return node;
  }
}

function openData(aio: Aio, dataPath: string, direct: boolean): { file: AioFile; direct: boolean } {
  if (direct) {
    try {
      return { file: aio.open(dataPath, { read: true, write: true, create: true, direct: true }), direct: true };
    } catch {
      // A filesystem or method without O_DIRECT (tmpfs): buffered, and the pool is then not the only cache.
    }
  }
  return { file: aio.open(dataPath, { read: true, write: true, create: true }), direct: false };
}

/** Opens a context on method and the engine in dir, runs work, and closes both whatever happens. */
export async function withEngine<T>(method: MethodChoiceName, dir: string, options: EngineOptions, work: (engine: Engine) => Promise<T>): Promise<T> {
  const aio = await openAio(method);
  try {
    const engine = await Engine.open(aio, dir, options);
    try {
      return await work(engine);
    } finally {
      await engine.close();
    }
  } finally {
    await aio.close();
  }
}
