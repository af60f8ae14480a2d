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
 * The durability modes per method, fastest first, measured with `pnpm -s
 * bench wal --api wal` on this project's machine (see the core README).
 * The first is the default; when it is 'direct-dsync' and direct I/O is not
 * possible (the method cannot do it, a block size that is not a multiple of
 * 4096, a file system that refuses O_DIRECT with EINVAL), the default is the
 * first buffered mode after it.  Methods not listed use 'dsync'.
 */
const DURABILITY_PREFERENCE: Partial<Record<string, readonly WalDurability[]>> = {
  // io_uring issues an O_DIRECT write from the submitting thread, with no worker; buffered O_DSYNC writes to
  // one file go through one serialized kernel worker, and 'fdatasync' costs two round trips per group.
  io_uring: ['direct-dsync', 'fdatasync', 'dsync'],
  threadpool: ['direct-dsync', 'fdatasync', 'dsync'],
  libuv: ['direct-dsync', 'fdatasync', 'dsync'],
  // Measured before the arena and asynchronous segment preparation; not measurable on this machine since.
  posix_aio: ['fdatasync', 'dsync'],
  // The sync method blocks for each IO: one fdatasync per group covers every commit that piled up meanwhile.
  sync: ['fdatasync', 'dsync', 'direct-dsync'],
};

/** The default durability mode for a method (where direct I/O is possible). */
export function walDefaultDurability(methodName: string): WalDurability {
  return DURABILITY_PREFERENCE[methodName]?.[0] ?? 'dsync';
}

/** The default for a method where direct I/O is not possible. */
function bufferedDefault(methodName: string): WalDurability {
  return DURABILITY_PREFERENCE[methodName]?.find((mode) => mode !== 'direct-dsync') ?? 'dsync';
}

export interface WalOptions {
  /** Bytes per segment file; a multiple of blockSize (default 16 MiB). */
  segmentSize?: number;
  /** Groups are padded to this; a multiple of 4096 with 'direct-dsync' (default 4096). */
  blockSize?: number;
  /** How groups are made durable (default: walDefaultDurability(aio.methodName), or the method's buffered default where direct I/O is not possible). */
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
 * k bytes further on, so the loop folds 8 bytes per step (a commit's CRC is
 * on its critical path).  They are Int32Arrays held in module constants:
 * entries stay small integers in V8 (a Uint32Array's entries above 2^31
 * become heap numbers) and no call unpacks them; that halved the CPU time
 * of an 8 KiB record's CRC (about 12 to 6 µs on this project's machine).
 */
const [CRC_T0, CRC_T1, CRC_T2, CRC_T3, CRC_T4, CRC_T5, CRC_T6, CRC_T7] = (() => {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    tables[0][n] = c;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) tables[k][n] = (tables[k - 1][n] >>> 8) ^ tables[0][tables[k - 1][n] & 0xff];
  }
  return tables;
})();

/** CRC32C of `bytes`, continuing from `crc` (0 to start). */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  let c = ~crc | 0;
  let i = 0;
  const length = bytes.length;
  const fast = length - (length & 7);
  for (; i < fast; i += 8) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c =
      CRC_T7[c & 0xff] ^
      CRC_T6[(c >>> 8) & 0xff] ^
      CRC_T5[(c >>> 16) & 0xff] ^
      CRC_T4[c >>> 24] ^
      CRC_T3[bytes[i + 4]] ^
      CRC_T2[bytes[i + 5]] ^
      CRC_T1[bytes[i + 6]] ^
      CRC_T0[bytes[i + 7]];
  }
  for (; i < length; i++) c = CRC_T0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
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

/**
 * Writes a record header into `target` at `at`.  A data record's payload is
 * already in place after it: the CRC covers header bytes 4..24 and, for a
 * data record, the payload, in one pass over contiguous bytes.
 */
function writeHeader(target: Buffer, at: number, kind: number, length: number, epoch: number, lsn: number): void {
  target.writeUInt32LE(length, at + 4);
  target.writeUInt32LE(kind, at + 8);
  target.writeUInt32LE(epoch, at + 12);
  target.writeUInt32LE(lsn % 0x1_0000_0000, at + 16);
  target.writeUInt32LE(Math.floor(lsn / 0x1_0000_0000), at + 20);
  const covered = WAL_RECORD_HEADER_SIZE + (kind === KIND_RECORD ? length : 0);
  target.writeUInt32LE(crc32c(target.subarray(at + 4, at + covered)), at);
}

/**
 * Where a record of `length` payload bytes starts when the log ends at
 * `tail`.  Records never span segments: when it does not fit in what is
 * left of the segment, it starts the next one, and a pad record at
 * `headerPosition(tail)` says so (reading continues in the next segment).
 */
function placeRecord(tail: number, length: number, layout: Layout): number {
  const at = headerPosition(tail, layout);
  const left = layout.segmentSize - (at % layout.segmentSize);
  return left < WAL_RECORD_HEADER_SIZE + length ? at + left : at;
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

/** A sealed group: its bytes, from a block boundary to the next. */
interface Group {
  start: number;
  end: number;
  state: 'writing' | 'done' | 'failed';
  done: Promise<void>;
  /** The arena its bytes were cut from: in use (not reused) until the group's writes settled. */
  arena: Arena;
}

/** Append memory (see ARENA_SIZE) and the number of groups cut from it whose writes have not settled. */
interface Arena {
  bytes: Buffer;
  writers: number;
}

interface FlushWaiter {
  lsn: number;
  resolve(): void;
  reject(error: unknown): void;
}

const WAL_OPTION_KEYS = ['segmentSize', 'blockSize', 'durability', 'maxFlushes', 'from'] as const;

/**
 * Bytes of an append arena.  Appends copy each record once, straight into
 * the arena, where its header and CRC are written too; sealing a group cuts
 * the group's bytes from the arena without a copy.  Arena memory comes from
 * allocAligned: it is never detached, so the methods hand it to the kernel
 * as it is (other memory goes through a bounce buffer: another copy), and
 * it is aligned for direct I/O.  A full arena is replaced by the spare one
 * (the previous arena, once its groups are written) or a new one: reusing
 * it avoids allocating and collecting a megabyte of WebAssembly memory every
 * few hundred commits.
 */
const ARENA_SIZE = 1 << 20;
const RESOLVED = Promise.resolve();

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
  /** The arena the unsealed records are in (see ARENA_SIZE), and where in it the unsealed group starts (LSN `#sealed`). */
  #arena: Arena = { bytes: allocAligned(0, DIRECT_ALIGNMENT), writers: 0 };
  #arenaOffset = 0;
  /** A default-size arena no group uses any more, zero-filled again when it becomes the arena. */
  #spareArena: Arena | null = null;
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
  /** recycleBefore() has considered every segment below this index already. */
  #recycleFloor = 0;
  /** The highest segment index known to exist at full size, with its directory entry durable. */
  #highestSegment: number;
  /** The highest segment index whose preparation was started. */
  #requestedSegment: number;
  /**
   * Segment preparations (creating or recycling files), one after the other
   * through the method's own file operations (writes, sync, rename,
   * directory sync, so the power-loss simulator sees them): they run ahead
   * of the writes, so a commit never waits for a file to be created unless
   * the log outruns its preparation.  A group that needs a segment
   * waits for this chain; a failed preparation fails that group.
   */
  #preparing: Promise<void> = Promise.resolve();
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
    this.#requestedSegment = highest;
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
    if (opts.durability !== undefined) return WalWriter.#open(aio, dir, opts, opts.durability);
    const preferred = walDefaultDurability(aio.methodName);
    const direct = aio.capabilities.direct && (opts.blockSize ?? WAL_DEFAULT_BLOCK_SIZE) % DIRECT_ALIGNMENT === 0;
    if (preferred === 'direct-dsync' && direct) {
      try {
        return await WalWriter.#open(aio, dir, opts, preferred);
      } catch (error) {
        // A file system without O_DIRECT: the log (nothing was written to it) opens again in the buffered mode.
        if (!(error instanceof AioIoError && error.code === 'EINVAL')) throw error;
      }
    }
    return WalWriter.#open(aio, dir, opts, bufferedDefault(aio.methodName));
  }

  static async #open(aio: Aio, dir: string, opts: WalOptions, durability: WalDurability): Promise<WalWriter> {
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
    const layout = this.#layout;
    const limit = layout.segmentSize - layout.blockSize;
    // Every record is checked, and its place computed, before any is copied: a refused call appends nothing.
    let end = this.#tail;
    for (let i = 0; i < list.length; i++) {
      const view = checkBuffer(list[i], `records[${i}]`);
      if (WAL_RECORD_HEADER_SIZE + view.byteLength > limit) {
        throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `records[${i}] has ${view.byteLength} bytes; a record holds at most ${limit - WAL_RECORD_HEADER_SIZE} (a segment less one block)`);
      }
      end = placeRecord(end, view.byteLength, layout) + alignUp(WAL_RECORD_HEADER_SIZE + view.byteLength, RECORD_ALIGN);
    }
    this.#reserveArena(alignUp(end, layout.blockSize) - this.#sealed);
    const arena = this.#arena.bytes;
    const base = this.#arenaOffset - this.#sealed;
    for (const view of list as readonly ArrayBufferView[]) {
      const length = view.byteLength;
      const padAt = headerPosition(this.#tail, layout);
      const at = placeRecord(this.#tail, length, layout);
      if (at !== padAt) writeHeader(arena, base + padAt, KIND_PAD, at - padAt - WAL_RECORD_HEADER_SIZE, this.#epoch, padAt);
      arena.set(new Uint8Array(view.buffer, view.byteOffset, length), base + at + WAL_RECORD_HEADER_SIZE);
      writeHeader(arena, base + at, KIND_RECORD, length, this.#epoch, at);
      this.#tail = at + alignUp(WAL_RECORD_HEADER_SIZE + length, RECORD_ALIGN);
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
    if (below <= this.#recycleFloor) return 0;
    // Segments below the floor were taken before (some may be being renamed right now): only the new range counts.
    let added = 0;
    for (const index of listSegments(this.dir)) {
      if (index < this.#recycleFloor || index >= below) continue;
      this.#recyclable.push(index);
      added++;
    }
    this.#recycleFloor = below;
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
    // A preparation running ahead has files open and IOs in flight on the context: it finishes before the log is closed.
    await this.#preparing.catch(() => undefined);
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

  /**
   * Makes room in the arena for `bytes` of the unsealed group (padding to
   * its last block included).  A full arena is replaced by a fresh one
   * (zero-filled: padding needs no writes); the unsealed bytes move along,
   * and sealed groups keep the old one alive until their writes complete.
   */
  #reserveArena(bytes: number): void {
    const old = this.#arena;
    if (this.#arenaOffset + bytes <= old.bytes.length) return;
    const size = Math.max(ARENA_SIZE, alignUp(bytes * 2, DIRECT_ALIGNMENT));
    let arena = this.#spareArena;
    if (arena !== null && arena.bytes.length >= size) {
      this.#spareArena = null;
      arena.bytes.fill(0);
    } else {
      arena = { bytes: allocAligned(size, DIRECT_ALIGNMENT), writers: 0 };
    }
    arena.bytes.set(old.bytes.subarray(this.#arenaOffset, this.#arenaOffset + (this.#tail - this.#sealed)));
    this.#arena = arena;
    this.#arenaOffset = 0;
    this.#releaseArena(old);
  }

  /** Keeps an arena as the spare once it is neither the arena appends go to nor under a write in flight. */
  #releaseArena(arena: Arena): void {
    if (arena.writers === 0 && arena !== this.#arena && arena.bytes.length === ARENA_SIZE) this.#spareArena = arena;
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
    if (this.#failure !== null || this.#tail === this.#sealed || this.#inFlight >= this.maxFlushes) return;
    const last = this.#waiters[this.#waiters.length - 1];
    if (last === undefined || last.lsn <= this.#sealed) return;
    this.#startGroup(this.#seal());
  }

  /** Cuts the next group from the arena: the unsealed records, then padding to the next block boundary. */
  #seal(): { start: number; end: number; bytes: Buffer; arena: Arena } {
    const start = this.#sealed;
    const end = alignUp(this.#tail, this.#layout.blockSize);
    const base = this.#arenaOffset - start;
    // The pad record says "the group ends here"; without it the zeroes after the last record end the log.
    const arena = this.#arena;
    if (end - this.#tail >= WAL_RECORD_HEADER_SIZE) writeHeader(arena.bytes, base + this.#tail, KIND_PAD, end - this.#tail - WAL_RECORD_HEADER_SIZE, this.#epoch, this.#tail);
    const bytes = arena.bytes.subarray(this.#arenaOffset, base + end);
    arena.writers++;
    this.#arenaOffset = base + end;
    this.#tail = end;
    this.#sealed = end;
    return { start, end, bytes, arena };
  }

  #startGroup(sealed: { start: number; end: number; bytes: Buffer; arena: Arena }): void {
    const group: Group = { start: sealed.start, end: sealed.end, state: 'writing', done: RESOLVED, arena: sealed.arena };
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
    const segmentSize = this.#layout.segmentSize;
    const first = Math.floor(start / segmentSize);
    if (first === Math.floor((start + bytes.length - 1) / segmentSize)) {
      // The usual case: one segment, one write, one sync at most.
      const file = await this.#writeFully(await this.#segmentFile(first), bytes, start % segmentSize);
      if (this.durability === 'fdatasync') {
        this.stats.syncs++;
        await file.datasync();
      }
      return;
    }
    const pieces: Promise<AioFile>[] = [];
    for (let at = 0; at < bytes.length; ) {
      const position = start + at;
      const length = Math.min(bytes.length - at, this.#segmentLeft(position));
      const piece = bytes.subarray(at, at + length);
      pieces.push(Promise.resolve(this.#segmentFile(Math.floor(position / segmentSize))).then((file) => this.#writeFully(file, piece, position % segmentSize)));
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
    group.arena.writers--;
    this.#releaseArena(group.arena);
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

  /**
   * The open segment file `index`, or a promise of it when the segment is
   * not prepared yet.  Opening a segment starts the preparation of the next
   * one, so crossing into it finds the file ready.
   */
  #segmentFile(index: number): AioFile | Promise<AioFile> {
    const open = this.#files.get(index);
    if (open !== undefined) return open;
    const ready = this.#segmentReady(index);
    return ready === null ? this.#openSegment(index) : ready.then(() => this.#openSegment(index));
  }

  #openSegment(index: number): AioFile {
    // Two groups may have waited for the same segment: the first opens it.
    const open = this.#files.get(index);
    if (open !== undefined) return open;
    const file = this.#aio.open(path.join(this.dir, segmentName(index)), {
      read: true,
      write: true,
      dsync: this.durability !== 'fdatasync',
      direct: this.durability === 'direct-dsync',
    });
    this.#files.set(index, file);
    void this.#segmentReady(index + 1);
    return file;
  }

  /** Null when segment `index` is ready; otherwise its preparation, started now if it was not asked for before. */
  #segmentReady(index: number): Promise<void> | null {
    if (index <= this.#highestSegment) return null;
    if (index > this.#requestedSegment) {
      const from = this.#requestedSegment + 1;
      this.#requestedSegment = index;
      this.#preparing = this.#preparing.then(() => this.#prepareSegments(from, index));
      // The group that needs the segment sees a failure; a preparation ahead of need has no one else to tell.
      this.#preparing.catch(() => undefined);
    }
    return this.#preparing;
  }

  /**
   * Makes segments `from`..`to` exist at their full size: each renamed
   * from a recyclable old segment, or created zero-filled (so appends
   * overwrite allocated blocks and need no metadata journal commit per
   * write); then the directory entries are made durable, and only then are
   * the segments ready for writes.
   */
  async #prepareSegments(from: number, to: number): Promise<void> {
    for (let next = from; next <= to; next++) {
      const target = path.join(this.dir, segmentName(next));
      const old = this.#recyclable.shift();
      if (old !== undefined) {
        const file = this.#files.get(old);
        if (file !== undefined) {
          this.#files.delete(old);
          await file.close().catch(() => undefined);
        }
        // Not durable on its own: the one directory sync below covers every rename and create of this preparation.
        await this.#aio.rename(path.join(this.dir, segmentName(old)), target, { durable: false });
        this.stats.segmentsRecycled++;
      } else {
        await this.#createZeroFilled(target, this.#layout.segmentSize);
        this.stats.segmentsCreated++;
      }
    }
    await this.#aio.syncDirectory(this.dir);
    this.#highestSegment = to;
  }

  /**
   * Creates `target` with `size` zero bytes: written under a temporary name
   * and synced, then renamed (not durably: the caller syncs the directory
   * once for the whole preparation).  Every step goes through the method,
   * so the power-loss simulator sees the file's writes, its sync and the
   * rename like any other IO.
   */
  async #createZeroFilled(target: string, size: number): Promise<void> {
    const temporary = `${target}.tmp`;
    const file = this.#aio.open(temporary, { read: true, write: true, create: true, truncate: true });
    try {
      const zeroes = Buffer.alloc(Math.min(size, 1 << 20));
      for (let at = 0; at < size; ) {
        const n = await file.write(zeroes.subarray(0, Math.min(zeroes.length, size - at)), at);
        if (n <= 0) {
          throw new AioIoError({
            code: 'AIO_SHORT_WRITE',
            syscall: 'write',
            path: temporary,
            target: file.describe(),
            method: this.#aio.methodName,
            detail: `a write of zeroes into a new WAL segment at offset ${at} wrote nothing`,
            result: { status: 'partial', result: n },
          });
        }
        at += n;
      }
      await file.datasync();
    } finally {
      await file.close();
    }
    await this.#aio.rename(temporary, target, { durable: false });
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
    const file = await this.#segmentFile(Math.floor(blockStart / layout.segmentSize));
    const offset = blockStart % layout.segmentSize;
    // The valid records before `end` in this block are rewritten as they are
    // (the whole block is read: a direct file reads whole blocks only).
    if (at > blockStart) {
      const n = await file.read(block, offset);
      if (n < at - blockStart) throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `the WAL segment ends before lsn ${at}`);
      block.fill(0, at - blockStart);
    }
    const padLength = blockEnd - at - WAL_RECORD_HEADER_SIZE;
    writeHeader(block, at - blockStart, KIND_RESTART, padLength, this.#epoch, at);
    await this.#writeFully(file, block, offset);
    if (this.durability === 'fdatasync') await file.datasync();
    this.#tail = blockEnd;
    this.#sealed = blockEnd;
    this.#durable = blockEnd;
  }
}

