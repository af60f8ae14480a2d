/**
 * The WAL writer: a write-ahead log on AIO handles, as an engine needs it.
 *
 * `append(records)` copies records into the log's memory and returns their
 * end LSN at once; `flush(lsn)` resolves once everything up to that LSN is
 * durable.  What must stay true:
 *
 * 1. **The durable prefix.**  Up to `maxFlushes` groups are written at once
 *    and may complete in any order, but a flush is acknowledged only when
 *    every group before its LSN has completed: `durableLsn` only moves over
 *    a contiguous run of completed groups.
 * 2. **Group commit.**  A group is everything appended since the previous
 *    group was sealed.  When every flush slot is busy, flush requests wait,
 *    and the next free slot writes all of them in one write (one per
 *    segment touched) and one sync.
 * 3. **Block padding.**  Every group starts on a block boundary and ends
 *    with padding to the next one, so two groups in flight never write the
 *    same block (a torn write of one cannot damage the other's records, and
 *    O_DIRECT needs whole blocks anyway).
 * 4. **A failed flush poisons the log.**  After a group fails (EIO, ENOSPC,
 *    a short write that moves nothing), no LSN at or after its start is ever
 *    acknowledged, even if later groups completed; `append` and later
 *    flushes beyond that point fail with the same error.  As after
 *    PostgreSQL's fsyncgate, the only safe continuation is to reopen the log
 *    (recovery finds the real end).
 * 5. **Recovery stops cleanly at the tail.**  Every record carries a CRC32C,
 *    its own LSN and the log's epoch; reading stops at the first record
 *    whose header, LSN, epoch or checksum does not check out, which is the
 *    normal end of a log (torn, unwritten, or left over in a recycled
 *    segment), not corruption.  Opening a log writes a restart record at the
 *    recovered end that starts a new epoch, so records of groups that were
 *    written but never acknowledged before a crash cannot reappear later.
 *
 * The on-disk format: the log is a sequence of segment files of
 * `segmentSize` bytes in one directory, named by their index in hex
 * (`0000000000000003.wal` holds LSNs 3*segmentSize up to 4*segmentSize).  A
 * record is a 24-byte header (CRC32C, payload length, kind, epoch, LSN)
 * followed by the payload, padded to 8 bytes.  Records never span segment
 * files.  Where fewer than 24 bytes are left before a block boundary, the
 * log continues at the boundary (writer and reader apply the same rule), so
 * every header fits in one block.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Aio } from './aio.js';
import { allocAligned } from './aligned.js';
import { AioIoError, AioUsageError } from './errors.js';
import type { AioFile } from './file.js';
import { checkBuffer, checkInteger, checkOffset, checkOptions, describeValue } from './validate.js';

/** How a group is made durable. */
export type WalDurability = 'dsync' | 'direct-dsync' | 'fdatasync';

export const WAL_DURABILITY_MODES: readonly WalDurability[] = ['dsync', 'direct-dsync', 'fdatasync'];
export const WAL_DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;
export const WAL_DEFAULT_BLOCK_SIZE = 4096;
export const WAL_DEFAULT_MAX_FLUSHES = 4;
/** The record header: CRC32C, payload length, kind, epoch, LSN (low, high). */
export const WAL_RECORD_HEADER_SIZE = 24;

const RECORD_ALIGN = 8;
const KIND_RECORD = 1;
const KIND_PAD = 2;
const KIND_RESTART = 3;
const DIRECT_ALIGNMENT = 4096;
const MAX_SHORT_WRITES = 16;
const SEGMENT_SUFFIX = '.wal';

/**
 * The fastest durability mode per method, measured with `pnpm -s bench wal
 * --api wal` on this project's machine (see the core README); methods not
 * listed use 'dsync'.
 */
const DEFAULT_DURABILITY: Partial<Record<string, WalDurability>> = {
  // io_uring runs O_DSYNC writes through one serialized kernel worker; plain writes plus fdatasync do not.
  io_uring: 'fdatasync',
  posix_aio: 'fdatasync',
  // The sync method blocks for each IO: one fdatasync per group covers every commit that piled up meanwhile.
  sync: 'fdatasync',
  threadpool: 'dsync',
};

/** The default durability mode for a method. */
export function walDefaultDurability(methodName: string): WalDurability {
  return DEFAULT_DURABILITY[methodName] ?? 'dsync';
}

export interface WalOptions {
  /** Bytes per segment file; a multiple of blockSize (default 16 MiB). */
  segmentSize?: number;
  /** Groups are padded to this; a multiple of 4096 with 'direct-dsync' (default 4096). */
  blockSize?: number;
  /** How groups are made durable (default: walDefaultDurability(aio.methodName)). */
  durability?: WalDurability;
  /** The most groups written at once (default 4). */
  maxFlushes?: number;
  /** Where recovery starts reading (a record's LSN, such as a checkpoint's redo pointer); default: the oldest segment's start. */
  from?: number;
}

export interface WalReadOptions {
  /** The segment size the log was written with (default 16 MiB). */
  segmentSize?: number;
  /** The block size the log was written with (default 4096). */
  blockSize?: number;
  /** The LSN of a record to start at (default: the oldest segment's start). */
  from?: number;
}

/** One record read back. */
export interface WalRecord {
  /** Where the record starts. */
  lsn: number;
  /** Where it ends: the LSN `append` returned for it. */
  endLsn: number;
  /** The payload (a copy owned by the caller). */
  data: Buffer;
}

/** Why reading stopped: no more segment files, or the first record that does not check out. */
export type WalStopReason = 'end-of-segments' | 'invalid-record';

export type WalState = 'open' | 'failed' | 'closing' | 'closed';

// -------------------------------------------------------------------------
// CRC32C (Castagnoli), table driven.
// -------------------------------------------------------------------------

/**
 * Eight tables for slicing-by-8: table k maps a byte to its CRC contribution
 * k bytes further on, so the loop folds 8 bytes per step (about 5x faster in
 * V8 than a byte at a time; a commit's CRC is on its critical path).
 */
const CRC_TABLES = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    tables[0][n] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) tables[k][n] = (tables[k - 1][n] >>> 8) ^ tables[0][tables[k - 1][n] & 0xff];
  }
  return tables;
})();

/** CRC32C of `bytes`, continuing from `crc` (0 to start). */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const fast = bytes.length - (bytes.length % 8);
  for (; i < fast; i += 8) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c =
      t7[c & 0xff] ^
      t6[(c >>> 8) & 0xff] ^
      t5[(c >>> 16) & 0xff] ^
      t4[c >>> 24] ^
      t3[bytes[i + 4]] ^
      t2[bytes[i + 5]] ^
      t1[bytes[i + 6]] ^
      t0[bytes[i + 7]];
  }
  for (; i < bytes.length; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// -------------------------------------------------------------------------
// Layout rules shared by writer and reader.
// -------------------------------------------------------------------------

interface Layout {
  segmentSize: number;
  blockSize: number;
}

function alignUp(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

/** Where a header may start at or after `position`: at the next block boundary if fewer than 24 bytes are left in the block. */
function headerPosition(position: number, layout: Layout): number {
  const left = layout.blockSize - (position % layout.blockSize);
  return left < WAL_RECORD_HEADER_SIZE ? position + left : position;
}

function segmentName(index: number): string {
  return index.toString(16).padStart(16, '0') + SEGMENT_SUFFIX;
}

/** Indexes of the segment files in `dir`, ascending. */
function listSegments(dir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => /^[0-9a-f]{16}\.wal$/.test(name))
    .map((name) => parseInt(name.slice(0, 16), 16))
    .sort((a, b) => a - b);
}

/** Writes a record header into `target` at `at`; the CRC covers header bytes 4..24 and the payload. */
function writeHeader(target: Buffer, at: number, kind: number, length: number, epoch: number, lsn: number, payload: Uint8Array | null): void {
  target.writeUInt32LE(length, at + 4);
  target.writeUInt32LE(kind, at + 8);
  target.writeUInt32LE(epoch, at + 12);
  target.writeUInt32LE(lsn % 0x1_0000_0000, at + 16);
  target.writeUInt32LE(Math.floor(lsn / 0x1_0000_0000), at + 20);
  let crc = crc32c(target.subarray(at + 4, at + WAL_RECORD_HEADER_SIZE));
  if (payload !== null) crc = crc32c(payload, crc);
  target.writeUInt32LE(crc, at);
}

function checkLayout(options: { segmentSize?: number; blockSize?: number }, direct: boolean): Layout {
  const blockSize = options.blockSize === undefined ? WAL_DEFAULT_BLOCK_SIZE : checkInteger(options.blockSize, 'options.blockSize', 512, 1 << 20);
  if (blockSize % RECORD_ALIGN !== 0 || (direct && blockSize % DIRECT_ALIGNMENT !== 0)) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', `options.blockSize must be a multiple of ${direct ? DIRECT_ALIGNMENT : RECORD_ALIGN}, got ${blockSize}`);
  }
  const segmentSize =
    options.segmentSize === undefined ? WAL_DEFAULT_SEGMENT_SIZE : checkInteger(options.segmentSize, 'options.segmentSize', blockSize * 2, 2 ** 40);
  if (segmentSize % blockSize !== 0) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', `options.segmentSize must be a multiple of options.blockSize (${blockSize}), got ${segmentSize}`);
  }
  return { segmentSize, blockSize };
}

// -------------------------------------------------------------------------
// Reading the log back.
// -------------------------------------------------------------------------

const READ_CHUNK = 256 * 1024;

/**
 * Reads records forward from an LSN until the first one that does not
 * check out.  After the last record, `endLsn` is where the valid log ends
 * and `stopReason` says why.
 */
export class WalReader implements AsyncIterable<WalRecord> {
  readonly #aio: Aio;
  readonly #dir: string;
  readonly #layout: Layout;
  #position: number;
  #epoch: number | null = null;
  #file: AioFile | null = null;
  #fileIndex = -1;
  #window = Buffer.alloc(0);
  #windowStart = 0;
  #stop: WalStopReason | null = null;

  constructor(aio: Aio, dir: string, options?: WalReadOptions) {
    const opts = checkOptions<WalReadOptions>(options, 'options', ['segmentSize', 'blockSize', 'from']);
    if (typeof dir !== 'string') throw new AioUsageError('AIO_ERR_INVALID_TYPE', `dir must be a directory path, got ${describeValue(dir)}`);
    this.#aio = aio;
    this.#dir = dir;
    this.#layout = checkLayout(opts, false);
    const segments = listSegments(dir);
    const oldest = segments.length === 0 ? 0 : segments[0] * this.#layout.segmentSize;
    this.#position = opts.from === undefined ? oldest : checkOffset(opts.from, 'options.from');
    if (this.#position % RECORD_ALIGN !== 0) {
      throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `options.from must be a record's LSN (a multiple of ${RECORD_ALIGN}), got ${this.#position}`);
    }
  }

  /** Where the valid log read so far ends: the next record would start here. */
  get endLsn(): number {
    return this.#position;
  }

  /** Why reading stopped, or null while it has not. */
  get stopReason(): WalStopReason | null {
    return this.#stop;
  }

  /** The epoch of the last record read (null before the first). */
  get epoch(): number | null {
    return this.#epoch;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WalRecord> {
    try {
      for (;;) {
        const record = await this.next();
        if (record === null) return;
        yield record;
      }
    } finally {
      await this.close();
    }
  }

  /** The next record, or null at the end of the valid log. */
  async next(): Promise<WalRecord | null> {
    while (this.#stop === null) {
      const at = headerPosition(this.#position, this.#layout);
      const header = await this.#bytes(at, WAL_RECORD_HEADER_SIZE);
      if (header === null) return null;
      const kind = header.readUInt32LE(8);
      const length = header.readUInt32LE(4);
      const epoch = header.readUInt32LE(12);
      const lsn = header.readUInt32LE(16) + header.readUInt32LE(20) * 0x1_0000_0000;
      const known = kind === KIND_RECORD || kind === KIND_PAD || kind === KIND_RESTART;
      const epochOk = this.#epoch === null || epoch === this.#epoch || (kind === KIND_RESTART && epoch === this.#epoch + 1);
      if (!known || lsn !== at || !epochOk || this.#segmentLeft(at) < WAL_RECORD_HEADER_SIZE + length) return this.#invalid();
      const payload = kind === KIND_RECORD ? await this.#bytes(at + WAL_RECORD_HEADER_SIZE, length) : Buffer.alloc(0);
      if (payload === null) return null;
      if (crc32c(payload, crc32c(header.subarray(4))) !== header.readUInt32LE(0)) return this.#invalid();
      this.#epoch = epoch;
      const end = at + alignUp(WAL_RECORD_HEADER_SIZE + length, RECORD_ALIGN);
      this.#position = end;
      if (kind === KIND_RECORD) return { lsn: at, endLsn: end, data: Buffer.from(payload) };
    }
    return null;
  }

  /** Closes the segment file the reader has open. */
  async close(): Promise<void> {
    const file = this.#file;
    this.#file = null;
    this.#fileIndex = -1;
    if (file !== null && !file.closed) await file.close();
  }

  #invalid(): null {
    this.#stop = 'invalid-record';
    return null;
  }

  #segmentLeft(at: number): number {
    return this.#layout.segmentSize - (at % this.#layout.segmentSize);
  }

  /** `length` bytes of the log at `at` (inside one segment), or null past the last segment file. */
  async #bytes(at: number, length: number): Promise<Buffer | null> {
    if (at >= this.#windowStart && at + length <= this.#windowStart + this.#window.length) {
      return this.#window.subarray(at - this.#windowStart, at - this.#windowStart + length);
    }
    const index = Math.floor(at / this.#layout.segmentSize);
    if (index !== this.#fileIndex) {
      await this.close();
      const file = path.join(this.#dir, segmentName(index));
      if (!fs.existsSync(file)) {
        this.#stop = 'end-of-segments';
        return null;
      }
      this.#file = this.#aio.open(file);
      this.#fileIndex = index;
    }
    const size = Math.min(Math.max(length, READ_CHUNK), this.#segmentLeft(at));
    const window = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = await (this.#file as AioFile).read(window.subarray(got), (at % this.#layout.segmentSize) + got);
      if (n === 0) break;
      got += n;
    }
    this.#window = window.subarray(0, got);
    this.#windowStart = at;
    if (got < length) return this.#invalid();
    return this.#window.subarray(0, length);
  }
}

/** Reads the log in `dir` forward (see {@link WalReader}). */
export function readWal(aio: Aio, dir: string, options?: WalReadOptions): WalReader {
  return new WalReader(aio, dir, options);
}

// -------------------------------------------------------------------------
// Writing.
// -------------------------------------------------------------------------

/** A record appended and not yet sealed into a group. */
interface PendingRecord {
  at: number;
  /** The payload, or null for a pad record of `padLength` bytes after its header. */
  payload: Uint8Array | null;
  padLength: number;
}

/** A sealed group: its bytes, from a block boundary to the next. */
interface Group {
  start: number;
  end: number;
  state: 'writing' | 'done' | 'failed';
  done: Promise<void>;
}

interface FlushWaiter {
  lsn: number;
  resolve(): void;
  reject(error: unknown): void;
}

const WAL_OPTION_KEYS = ['segmentSize', 'blockSize', 'durability', 'maxFlushes', 'from'] as const;

/** Counters for tests and benchmarks. */
export interface WalStats {
  /** Groups written (each one write per segment it touches, and with 'fdatasync' one sync per segment). */
  groups: number;
  /** Write IOs started, retries of short writes included. */
  writes: number;
  /** Short writes whose rest was written again. */
  retries: number;
  /** Sync IOs started. */
  syncs: number;
  /** The most groups in flight at once. */
  maxInFlight: number;
  /** Segment files created (zero-filled) and recycled (renamed). */
  segmentsCreated: number;
  segmentsRecycled: number;
}

/**
 * A write-ahead log in a directory.  Create it with {@link WalWriter.open},
 * which recovers the existing log (finds where it ends) first.
 */
export class WalWriter {
  readonly dir: string;
  readonly durability: WalDurability;
  readonly segmentSize: number;
  readonly blockSize: number;
  readonly maxFlushes: number;
  readonly #aio: Aio;
  readonly #layout: Layout;
  #epoch: number;
  /** Where the next record goes (not yet adjusted by the header rule). */
  #tail: number;
  /** The end of the last sealed group: a block boundary. */
  #sealed: number;
  #durable: number;
  #pending: PendingRecord[] = [];
  /** Groups in flight and completed ones not yet passed by the durable prefix, in LSN order. */
  #groups: Group[] = [];
  #inFlight = 0;
  #waiters: FlushWaiter[] = [];
  #failure: { error: unknown; at: number } | null = null;
  #state: WalState = 'open';
  #closing: Promise<void> | null = null;
  readonly #files = new Map<number, AioFile>();
  /** Segment files before the recycle point, oldest first: renamed into future segments instead of creating new ones. */
  readonly #recyclable: number[] = [];
  /** The highest segment index known to exist, pre-allocated. */
  #highestSegment: number;
  readonly stats: WalStats = { groups: 0, writes: 0, retries: 0, syncs: 0, maxInFlight: 0, segmentsCreated: 0, segmentsRecycled: 0 };

  private constructor(aio: Aio, dir: string, layout: Layout, durability: WalDurability, maxFlushes: number, start: number, epoch: number, highest: number) {
    this.#aio = aio;
    this.dir = dir;
    this.#layout = layout;
    this.segmentSize = layout.segmentSize;
    this.blockSize = layout.blockSize;
    this.durability = durability;
    this.maxFlushes = maxFlushes;
    this.#tail = start;
    this.#sealed = start;
    this.#durable = start;
    this.#epoch = epoch;
    this.#highestSegment = highest;
  }

  /**
   * Opens (creating if needed) the log in `dir`: reads it from `options.from`
   * (default: the oldest segment) to its end, writes a durable restart
   * record there that begins a new epoch, and returns a writer that appends
   * after it.  `endLsn` of the returned writer is where recovery stopped,
   * rounded up past the restart record.
   */
  static async open(aio: Aio, dir: string, options?: WalOptions): Promise<WalWriter> {
    const opts = checkOptions<WalOptions>(options, 'options', WAL_OPTION_KEYS);
    if (typeof dir !== 'string' || dir === '') throw new AioUsageError('AIO_ERR_INVALID_TYPE', `dir must be a directory path, got ${describeValue(dir)}`);
    const durability = opts.durability ?? walDefaultDurability(aio.methodName);
    if (!WAL_DURABILITY_MODES.includes(durability)) {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `options.durability must be one of ${WAL_DURABILITY_MODES.join(', ')}, got ${describeValue(durability)}`);
    }
    const layout = checkLayout(opts, durability === 'direct-dsync');
    const maxFlushes = opts.maxFlushes === undefined ? WAL_DEFAULT_MAX_FLUSHES : checkInteger(opts.maxFlushes, 'options.maxFlushes', 1, aio.maxConcurrency);
    fs.mkdirSync(dir, { recursive: true });
    const segments = listSegments(dir);
    const reader = new WalReader(aio, dir, { ...layout, from: opts.from });
    let end: number;
    let epoch: number;
    try {
      while ((await reader.next()) !== null) {
        // Recovery here only finds the end; the caller reads records with readWal().
      }
      end = reader.endLsn;
      epoch = (reader.epoch ?? 0) + 1;
    } finally {
      await reader.close();
    }
    const highest = segments.length === 0 ? -1 : segments[segments.length - 1];
    const wal = new WalWriter(aio, dir, layout, durability, maxFlushes, end, epoch, highest);
    try {
      await wal.#writeRestart(end);
    } catch (error) {
      // Nothing was appended: closing only closes the segment files opened for the restart record.
      await wal.close();
      throw error;
    }
    return wal;
  }

  /** The LSN after the last appended record: what `flush()` without an argument waits for. */
  get endLsn(): number {
    return this.#tail;
  }

  /** Everything before this LSN is durable and acknowledged. */
  get durableLsn(): number {
    return this.#durable;
  }

  get state(): WalState {
    return this.#state;
  }

  /** The epoch of this writer's records (one more than the log's before it was opened). */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Appends records (a buffer or an array of buffers, each copied now) and
   * returns the end LSN of the last one: pass it to `flush()`.  Throws a
   * usage error for a closed log or a record that is not a buffer or does
   * not fit in a segment, and the flush's error after a failed flush.
   */
  append(records: ArrayBufferView | readonly ArrayBufferView[]): number {
    this.#checkWritable();
    const list = ArrayBuffer.isView(records) ? [records] : records;
    if (!Array.isArray(list)) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `records must be a buffer or an array of buffers, got ${describeValue(records)}`);
    }
    const limit = this.#layout.segmentSize - this.#layout.blockSize;
    const payloads = list.map((record, i) => {
      const view = checkBuffer(record, `records[${i}]`);
      if (WAL_RECORD_HEADER_SIZE + view.byteLength > limit) {
        throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `records[${i}] has ${view.byteLength} bytes; a record holds at most ${limit - WAL_RECORD_HEADER_SIZE} (a segment less one block)`);
      }
      return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
    });
    for (const payload of payloads) {
      let at = headerPosition(this.#tail, this.#layout);
      // Records never span segments: one that does not fit starts the next segment.
      // A pad record says so, so that reading continues in the next segment.
      const left = this.#segmentLeft(at);
      if (left < WAL_RECORD_HEADER_SIZE + payload.byteLength) {
        this.#pending.push({ at, payload: null, padLength: left - WAL_RECORD_HEADER_SIZE });
        at += left;
      }
      this.#pending.push({ at, payload, padLength: 0 });
      this.#tail = at + alignUp(WAL_RECORD_HEADER_SIZE + payload.byteLength, RECORD_ALIGN);
    }
    return this.#tail;
  }

  /**
   * Resolves when everything up to `lsn` (default: everything appended) is
   * durable.  Rejects with a usage error for an LSN beyond the end or a
   * closed log, and with the IO error of a failed flush that came before
   * `lsn`.
   */
  flush(lsn?: number): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') {
      return Promise.reject(new AioUsageError('AIO_ERR_CLOSED', `flush() on a closed WAL (${this.dir})`));
    }
    let target: number;
    try {
      target = lsn === undefined ? this.#tail : checkOffset(lsn, 'lsn');
    } catch (error) {
      return Promise.reject(error);
    }
    if (target > this.#tail) {
      return Promise.reject(new AioUsageError('AIO_ERR_OUT_OF_RANGE', `lsn ${target} is beyond the end of the log (${this.#tail})`));
    }
    return this.#waitDurable(target);
  }

  /**
   * Allows the segments wholly before `lsn` (such as a checkpoint's redo
   * pointer) to be recycled: they are renamed into future segments instead
   * of new files being created.  Returns how many became recyclable.
   */
  recycleBefore(lsn: number): number {
    this.#checkWritable();
    const target = checkOffset(lsn, 'lsn');
    if (target > this.#durable) {
      throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `lsn ${target} is beyond the durable end of the log (${this.#durable}): only durable segments can be recycled`);
    }
    const below = Math.floor(target / this.#layout.segmentSize);
    let added = 0;
    for (const index of listSegments(this.dir)) {
      if (index >= below || this.#recyclable.includes(index)) continue;
      this.#recyclable.push(index);
      added++;
    }
    this.#recyclable.sort((a, b) => a - b);
    return added;
  }

  /**
   * Flushes what was appended (unless the log failed), waits for every
   * write in flight, and closes the segment files.  Later calls reject
   * with AIO_ERR_CLOSED; close() itself can be called again.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#failure === null && this.#tail > this.#durable) {
      await this.#waitDurable(this.#tail).catch(() => undefined);
    }
    this.#state = 'closing';
    await Promise.all(this.#groups.map((group) => group.done));
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new AioUsageError('AIO_ERR_CLOSED', `the WAL was closed before lsn ${waiter.lsn} was flushed`));
    const files = [...this.#files.values()];
    this.#files.clear();
    await Promise.all(files.map((file) => (file.closed ? undefined : file.close())));
    this.#state = 'closed';
  }

  #checkWritable(): void {
    if (this.#state === 'closed' || this.#state === 'closing' || this.#closing !== null) {
      throw new AioUsageError('AIO_ERR_CLOSED', `the WAL (${this.dir}) is closed`);
    }
    if (this.#failure !== null) throw this.#failure.error;
  }

  #segmentLeft(at: number): number {
    return this.#layout.segmentSize - (at % this.#layout.segmentSize);
  }

  #waitDurable(target: number): Promise<void> {
    if (target <= this.#durable) return Promise.resolve();
    if (this.#failure !== null && target > this.#failure.at) return Promise.reject(this.#failure.error);
    return new Promise<void>((resolve, reject) => {
      const waiter = { lsn: target, resolve, reject };
      let i = this.#waiters.length;
      while (i > 0 && this.#waiters[i - 1].lsn > target) i--;
      this.#waiters.splice(i, 0, waiter);
      this.#kick();
    });
  }

  /**
   * Starts a group if a flush waits for records that are not sealed yet
   * and a flush slot is free.  Everything appended so far goes into it:
   * this is where group commit happens.
   */
  #kick(): void {
    if (this.#failure !== null || this.#pending.length === 0 || this.#inFlight >= this.maxFlushes) return;
    const last = this.#waiters[this.#waiters.length - 1];
    if (last === undefined || last.lsn <= this.#sealed) return;
    this.#startGroup(this.#seal());
  }

  /** Builds the next group's bytes: the pending records, then padding to the next block boundary. */
  #seal(): { start: number; end: number; bytes: Buffer } {
    const start = this.#sealed;
    const end = alignUp(this.#tail, this.#layout.blockSize);
    const padAt = end - this.#tail >= WAL_RECORD_HEADER_SIZE ? this.#tail : -1;
    const bytes = this.durability === 'direct-dsync' ? allocAligned(end - start, DIRECT_ALIGNMENT) : Buffer.alloc(end - start);
    for (const record of this.#pending) {
      const at = record.at - start;
      if (record.payload === null) {
        writeHeader(bytes, at, KIND_PAD, record.padLength, this.#epoch, record.at, null);
        continue;
      }
      writeHeader(bytes, at, KIND_RECORD, record.payload.byteLength, this.#epoch, record.at, record.payload);
      bytes.set(record.payload, at + WAL_RECORD_HEADER_SIZE);
    }
    // The pad record says "the group ends here"; without it the zeroes after the last record end the log.
    if (padAt >= 0) writeHeader(bytes, padAt - start, KIND_PAD, end - padAt - WAL_RECORD_HEADER_SIZE, this.#epoch, padAt, null);
    this.#pending = [];
    this.#tail = end;
    this.#sealed = end;
    return { start, end, bytes };
  }

  #startGroup(sealed: { start: number; end: number; bytes: Buffer }): void {
    const group: Group = { start: sealed.start, end: sealed.end, state: 'writing', done: Promise.resolve() };
    this.#groups.push(group);
    this.#inFlight++;
    this.stats.groups++;
    if (this.#inFlight > this.stats.maxInFlight) this.stats.maxInFlight = this.#inFlight;
    group.done = this.#writeGroup(sealed.start, sealed.bytes).then(
      () => this.#finish(group, null),
      (error: unknown) => this.#finish(group, error),
    );
  }

  /** Writes a group's bytes (one write per segment touched) and makes them durable. */
  async #writeGroup(start: number, bytes: Buffer): Promise<void> {
    const pieces: Promise<AioFile>[] = [];
    let at = 0;
    while (at < bytes.length) {
      const position = start + at;
      const length = Math.min(bytes.length - at, this.#segmentLeft(position));
      const file = this.#segmentFile(Math.floor(position / this.#layout.segmentSize));
      pieces.push(this.#writeFully(file, bytes.subarray(at, at + length), position % this.#layout.segmentSize));
      at += length;
    }
    const files = await Promise.all(pieces);
    if (this.durability === 'fdatasync') {
      this.stats.syncs += files.length;
      await Promise.all(files.map((file) => file.datasync()));
    }
  }

  /** Writes all of `bytes`, writing the rest again after a short write (from the last aligned byte on a direct file). */
  async #writeFully(file: AioFile, bytes: Buffer, offset: number): Promise<AioFile> {
    let written = 0;
    let shorts = 0;
    while (written < bytes.length) {
      this.stats.writes++;
      const n = await file.write(bytes.subarray(written), offset + written);
      if (n <= 0 || ++shorts > MAX_SHORT_WRITES) {
        throw new AioIoError({
          code: 'AIO_SHORT_WRITE',
          syscall: 'write',
          path: file.path,
          target: file.describe(),
          method: this.#aio.methodName,
          detail: `wrote only ${written} of ${bytes.length} bytes of a WAL group at offset ${offset}`,
          result: { status: 'partial', result: n },
        });
      }
      written += n;
      if (written < bytes.length) {
        this.stats.retries++;
        if (file.flags.direct) written -= written % DIRECT_ALIGNMENT;
      }
    }
    return file;
  }

  /** Called once per group when its IO settled: advances the durable prefix and answers flushes. */
  #finish(group: Group, error: unknown): void {
    this.#inFlight--;
    if (error === null) {
      group.state = 'done';
    } else {
      group.state = 'failed';
      if (this.#failure === null || group.start < this.#failure.at) this.#failure = { error, at: group.start };
      if (this.#state === 'open') this.#state = 'failed';
    }
    while (this.#groups.length > 0 && this.#groups[0].state !== 'writing') {
      const head = this.#groups.shift() as Group;
      if (head.state === 'done' && (this.#failure === null || head.end <= this.#failure.at) && head.start === this.#durable) this.#durable = head.end;
    }
    this.#answer();
    this.#closeOldSegments();
    this.#kick();
  }

  #answer(): void {
    let resolved = 0;
    while (resolved < this.#waiters.length && this.#waiters[resolved].lsn <= this.#durable) resolved++;
    for (const waiter of this.#waiters.splice(0, resolved)) waiter.resolve();
    const failure = this.#failure;
    if (failure === null) return;
    const keep: FlushWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.lsn > failure.at) waiter.reject(failure.error);
      else keep.push(waiter);
    }
    this.#waiters = keep;
  }

  /** Closes segment files that no group in flight and no future write can touch. */
  #closeOldSegments(): void {
    const oldest = Math.floor((this.#groups[0]?.start ?? this.#sealed) / this.#layout.segmentSize);
    for (const [index, file] of this.#files) {
      if (index >= oldest) continue;
      this.#files.delete(index);
      void file.close().catch(() => undefined);
    }
  }

  /** The open segment file `index`, prepared (and the one after it pre-allocated) on first use. */
  #segmentFile(index: number): AioFile {
    const open = this.#files.get(index);
    if (open !== undefined) return open;
    this.#prepareSegment(index);
    const file = this.#aio.open(path.join(this.dir, segmentName(index)), {
      read: true,
      write: true,
      dsync: this.durability !== 'fdatasync',
      direct: this.durability === 'direct-dsync',
    });
    this.#files.set(index, file);
    // The next segment is made ready now, so crossing into it does not wait for a file to be created.
    this.#prepareSegment(index + 1);
    return file;
  }

  /**
   * Makes segment `index` exist at its full size: renamed from a
   * recyclable old segment, or created zero-filled (so appends overwrite
   * allocated blocks and need no metadata journal commit per write).
   * Synchronous: node:fs, on the JavaScript thread.
   */
  #prepareSegment(index: number): void {
    if (index <= this.#highestSegment) return;
    for (let next = this.#highestSegment + 1; next <= index; next++) {
      const target = path.join(this.dir, segmentName(next));
      const old = this.#recyclable.shift();
      if (old !== undefined) {
        const file = this.#files.get(old);
        if (file !== undefined) {
          this.#files.delete(old);
          void file.close().catch(() => undefined);
        }
        fs.renameSync(path.join(this.dir, segmentName(old)), target);
        this.stats.segmentsRecycled++;
      } else {
        createZeroFilled(target, this.#layout.segmentSize);
        this.stats.segmentsCreated++;
      }
      this.#highestSegment = next;
    }
    syncDirectory(this.dir);
  }

  /**
   * Writes the restart record at `end` and makes it durable before any
   * append: it starts this writer's epoch, so records of the previous run
   * that lie after `end` (written but never acknowledged) stay invalid.
   */
  async #writeRestart(end: number): Promise<void> {
    const layout = this.#layout;
    let at = headerPosition(end, layout);
    if (this.#segmentLeft(at) < WAL_RECORD_HEADER_SIZE) at += this.#segmentLeft(at);
    const blockStart = at - (at % layout.blockSize);
    const blockEnd = alignUp(at + WAL_RECORD_HEADER_SIZE, layout.blockSize);
    const block = this.durability === 'direct-dsync' ? allocAligned(blockEnd - blockStart, DIRECT_ALIGNMENT) : Buffer.alloc(blockEnd - blockStart);
    const file = this.#segmentFile(Math.floor(blockStart / layout.segmentSize));
    const offset = blockStart % layout.segmentSize;
    // The valid records before `end` in this block are rewritten as they are
    // (the whole block is read: a direct file reads whole blocks only).
    if (at > blockStart) {
      const n = await file.read(block, offset);
      if (n < at - blockStart) throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `the WAL segment ends before lsn ${at}`);
      block.fill(0, at - blockStart);
    }
    const padLength = blockEnd - at - WAL_RECORD_HEADER_SIZE;
    writeHeader(block, at - blockStart, KIND_RESTART, padLength, this.#epoch, at, null);
    await this.#writeFully(file, block, offset);
    if (this.durability === 'fdatasync') await file.datasync();
    this.#tail = blockEnd;
    this.#sealed = blockEnd;
    this.#durable = blockEnd;
  }
}

/** Creates `target` with `size` zero bytes, durably: written under a temporary name, synced, renamed. */
function createZeroFilled(target: string, size: number): void {
  const temporary = `${target}.tmp`;
  const fd = fs.openSync(temporary, 'w');
  try {
    const zeroes = Buffer.alloc(Math.min(size, 1 << 20));
    for (let at = 0; at < size; at += zeroes.length) fs.writeSync(fd, zeroes, 0, Math.min(zeroes.length, size - at), at);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, target);
}

/**
 * Makes the directory's entries (created and renamed segments) durable.
 * Windows has no directory fsync (opening a directory for it fails with
 * EPERM): NTFS journals the entries of a create or rename itself, so there
 * is nothing to do, as PostgreSQL's fsync_fname does there.
 */
function syncDirectory(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
