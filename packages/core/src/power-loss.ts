/**
 * The power-loss simulator: a method wrapper that remembers which writes a
 * power cut could still take away, and on `crash()` builds one of the file
 * states such a cut could leave behind.
 *
 * A SIGKILL test never loses a completed write (the page cache survives the
 * process).  A power cut does: every write not yet covered by a sync may be
 * lost, a later one may survive while an earlier one is lost (the page cache
 * and the drive write back in any order), and a write of several sectors may
 * land only in part (a sector is the unit the drive writes atomically).  This
 * follows SQLite's crash-test VFS (unsynced sectors kept or not at a crash
 * point), LazyFS (unsynced data held aside and dropped on command) and
 * TigerBeetle's storage simulator (every fault drawn from one seed, so a
 * failure replays).
 *
 * How it works.  The wrapper sees every IO of the context: at submission it
 * copies a write's bytes (and, the first time a file is written, the file's
 * whole content, taken as durable), and at completion it journals the write
 * with the bytes it really moved.  A successful fsync/fdatasync makes durable
 * every write on that path that had completed before the sync was submitted
 * (a write still in flight then is not covered, as on a real kernel); a write
 * on a file opened with `dsync` is durable when it completes.  A failed sync
 * makes nothing durable, and the writes it covered stay at risk even after a
 * later sync succeeds: Linux may drop the dirty pages of a failed fsync and
 * report the next one clean ("fsyncgate").
 *
 * `crash()` cuts the power: from then on every IO through the wrapper fails
 * with EIO without reaching the disk, like a dead device.  It returns a crash
 * state: for each file, the durable content plus the writes the seed chose to
 * keep, whole or torn; writes completed or still in flight at the cut are all
 * candidates.  The state is an image in memory until `apply()` writes it over
 * the real files, which the test does after the program stopped using them
 * (after `aio.close()`), before it runs recovery.  Asking again with another
 * seed gives another possible state of the same cut, so one workload run can
 * be checked against many crash states.
 *
 * What must stay true: a write that completed before a successful sync of its
 * file was submitted, or that completed on a dsync file, is in every crash
 * state, whatever the seed; the same journal and seed give the same state.
 * Only data is modelled: file creation, size changes outside writes, renames
 * and directory entries are taken as durable.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { AioUsageError, errnoOf } from './errors.js';
import { checkBoolean, checkInteger, checkOptions } from './validate.js';
import type { AioIoView, AioMethod, AioMethodFactory, AioMethodHost } from './method.js';

/** Options of {@link powerLoss}. */
export interface AioPowerLossOptions {
  /** The seed of every random choice (default: a random one, shown in every crash description). */
  seed?: number;
  /** The atomic unit of a write on the simulated drive, in bytes: a power of two, 512 by default. */
  sectorSize?: number;
  /** Whether a write of several sectors may land in part (default true). */
  tornWrites?: boolean;
}

/** What a crash did to one write that was not durable at the cut. */
export type AioPowerLossFate = 'kept' | 'lost' | 'torn';

/** One write that a power cut could take away, and what this crash state did with it. */
export interface AioPowerLossWrite {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
  /** The order in which the simulator saw the write submitted (from 1). */
  readonly sequence: number;
  /** 'completed' if the program saw it complete, 'in-flight' if it was still running at the cut. */
  readonly state: 'completed' | 'in-flight';
  readonly fate: AioPowerLossFate;
  /** For a torn write: the file offsets of the sectors that landed. */
  readonly sectorsKept?: readonly number[];
}

/** One possible content of the files after a power cut. */
export interface AioCrashState {
  /** The seed that chose this state; `sim.crash({ seed })` gives the same state again. */
  readonly seed: number;
  /** Each file's content after the cut, by absolute path. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** Every write that was at risk, in submission order, with its fate. */
  readonly writes: readonly AioPowerLossWrite[];
  /** Whether a later write was kept while an earlier one on the same file was lost or torn. */
  readonly reordered: boolean;
  /** A few lines for a test failure message: the seed, then what was lost or torn. */
  describe(): string;
  /** Writes every file's post-crash content over the real file (node:fs, synchronously). */
  apply(): void;
}

/** A method factory that records writes for crash simulation; pass it to `new Aio({ method })`. */
export interface AioPowerLossSimulator extends AioMethodFactory {
  /** The seed `crash()` uses when given none. */
  readonly seed: number;
  /** True once `crash()` cut the power. */
  readonly poweredOff: boolean;
  /** Cuts the power (once; later calls only choose another state) and returns one possible crash state. */
  crash(options?: { seed?: number }): AioCrashState;
}

/** One write as the simulator journals it. */
interface JournaledWrite {
  readonly sequence: number;
  readonly offset: number;
  /** The bytes the write moved (or, while in flight, asked to move). */
  data: Buffer;
  completed: boolean;
  durable: boolean;
  /** Covered by a sync that failed: no later sync can vouch for it. */
  doomed: boolean;
}

/** What the simulator knows of one file, by absolute path. */
interface FileJournal {
  readonly path: string;
  /**
   * The content taken as durable: the file as it was when first written
   * through the simulator, with the durable prefix of `writes` folded in
   * (so memory holds only what is still at risk, and what follows it).
   */
  base: Buffer;
  /** How many writes were folded into `base`: sync coverage counts from the first write ever journaled. */
  folded: number;
  /** Writes in completion order (in-flight ones are added at the cut). */
  readonly writes: JournaledWrite[];
}

/** A write's fate in one crash state. */
interface Fate {
  readonly fate: AioPowerLossFate;
  readonly sectorsKept?: readonly number[];
}

/** An IO seen at submission, waiting for its completion. */
interface PendingIo {
  readonly generation: number;
  readonly journal: FileJournal;
  readonly kind: 'write' | 'sync';
  readonly write?: JournaledWrite;
  /** For a sync: how many writes on the file (folded ones included) had completed when it was submitted. */
  readonly covers?: number;
  readonly dsync: boolean;
}

const OPTION_KEYS = ['seed', 'sectorSize', 'tornWrites'] as const;

/**
 * Wraps a method factory so that every context created on it journals its
 * writes for crash simulation.  One simulator serves one context.
 */
export function powerLoss(inner: AioMethodFactory, options?: AioPowerLossOptions): AioPowerLossSimulator {
  if (typeof inner !== 'object' || inner === null || typeof inner.create !== 'function') {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', 'powerLoss() wraps a method factory such as syncMethod()');
  }
  const opts = checkOptions<AioPowerLossOptions>(options, 'options', OPTION_KEYS);
  const seed = opts.seed === undefined ? Math.floor(Math.random() * 0x100000000) : checkInteger(opts.seed, 'options.seed', 0, 0xffffffff);
  const sectorSize = opts.sectorSize === undefined ? 512 : checkInteger(opts.sectorSize, 'options.sectorSize', 1, 1 << 20);
  if ((sectorSize & (sectorSize - 1)) !== 0) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', `options.sectorSize must be a power of two, got ${sectorSize}`);
  }
  const recorder = new PowerLossRecorder(sectorSize, checkBoolean(opts.tornWrites, 'options.tornWrites', true));
  let created = false;
  return {
    name: inner.name,
    seed,
    get poweredOff() {
      return recorder.poweredOff;
    },
    probe: () => inner.probe(),
    create(host, context) {
      if (created) throw new AioUsageError('AIO_ERR_INVALID_OPTION', 'a power-loss simulator serves one Aio context; create another with powerLoss()');
      created = true;
      return recorder.wrap(inner, host, context);
    },
    crash(crashOptions) {
      const chosen = checkOptions<{ seed?: number }>(crashOptions, 'options', ['seed']).seed;
      return recorder.crash(chosen === undefined ? seed : checkInteger(chosen, 'options.seed', 0, 0xffffffff));
    },
  };
}

class PowerLossRecorder {
  poweredOff = false;
  readonly #sectorSize: number;
  readonly #tornWrites: boolean;
  readonly #files = new Map<string, FileJournal>();
  /** IOs submitted and not completed, by handle index. */
  readonly #pending = new Map<number, PendingIo>();
  #sequence = 0;
  #eio = 0;

  constructor(sectorSize: number, tornWrites: boolean) {
    this.#sectorSize = sectorSize;
    this.#tornWrites = tornWrites;
  }

  /**
   * The wrapper: the inner method gets a host whose completions pass through
   * the journal first, and the core gets a method whose submissions do.
   * Members the inner method adds beyond these are forwarded as they are.
   */
  wrap(inner: AioMethodFactory, host: AioMethodHost, context: Parameters<AioMethodFactory['create']>[1]): AioMethod {
    this.#eio = errnoOf('EIO');
    const wrappedHost: AioMethodHost = {
      ios: host.ios,
      handles: host.handles,
      prepareSubmit: (io) => host.prepareSubmit(io),
      processCompletion: (io, raw) => {
        this.#complete(io.index, io.generation, raw);
        host.processCompletion(io, raw);
      },
      processCompletions: (table, count) => {
        for (let i = 0; i < count; i++) this.#complete(table[i * 3], table[i * 3 + 1], table[i * 3 + 2]);
        host.processCompletions(table, count);
      },
      performSynchronously: (io, reason) => host.performSynchronously(io, reason),
      executeSynchronously: (io) => host.executeSynchronously(io),
    };
    const method = inner.create(wrappedHost, context);
    const execute = (io: AioIoView): number =>
      method.executeSynchronously !== undefined ? method.executeSynchronously(io) : host.executeSynchronously(io);
    const wrapper: AioMethod = {
      name: method.name,
      capabilities: method.capabilities,
      waitOnFileBeforeClose: method.waitOnFileBeforeClose,
      needsSynchronousExecution: (io) => method.needsSynchronousExecution(io),
      submit: (ios, count) => {
        if (this.poweredOff) {
          // A dead device: nothing reaches the disk after the cut.
          for (let i = 0; i < count; i++) {
            host.prepareSubmit(ios[i]);
            host.processCompletion(ios[i], -Math.abs(this.#eio));
          }
          return count;
        }
        for (let i = 0; i < count; i++) this.#submit(ios[i]);
        return method.submit(ios, count);
      },
      // The core runs synchronous IO (the sync method, fallbacks, the
      // synchronous flag) through here, so it is journaled like the rest.
      executeSynchronously: (io) => {
        if (this.poweredOff) return -Math.abs(this.#eio);
        this.#submit(io);
        const raw = execute(io);
        this.#complete(io.index, io.generation, raw);
        return raw;
      },
      close: () => method.close(),
    };
    if (method.waitOne !== undefined) wrapper.waitOne = method.waitOne.bind(method);
    if (method.poll !== undefined) wrapper.poll = method.poll.bind(method);
    if (method.cancel !== undefined) wrapper.cancel = method.cancel.bind(method);
    if (method.openFile !== undefined) wrapper.openFile = method.openFile.bind(method);
    if (method.closeFile !== undefined) wrapper.closeFile = method.closeFile.bind(method);
    if (method.stats !== undefined) wrapper.stats = method.stats.bind(method);
    forwardOtherMembers(method, wrapper);
    return wrapper;
  }

  /** Journals an IO at submission: a write's bytes, a sync's coverage. */
  #submit(io: AioIoView): void {
    const path = io.file?.path;
    const op = io.opName;
    // Files opened from a bare fd have no path to rebuild; they are not simulated.
    if (path === undefined || (op !== 'write' && op !== 'writev' && op !== 'fsync' && op !== 'fdatasync')) return;
    const journal = this.#journalOf(path);
    const dsync = io.file?.flags.dsync === true;
    if (op === 'fsync' || op === 'fdatasync') {
      const covers = journal.folded + journal.writes.length;
      this.#pending.set(io.index, { generation: io.generation, journal, kind: 'sync', covers, dsync });
      return;
    }
    const write: JournaledWrite = {
      sequence: ++this.#sequence,
      offset: io.offset,
      data: copyWriteData(io),
      completed: false,
      durable: false,
      doomed: false,
    };
    this.#pending.set(io.index, { generation: io.generation, journal, kind: 'write', write, dsync });
  }

  /** Journals a completion; `generation` may be truncated to 32 bits (native tables). */
  #complete(index: number, generation: number, raw: number): void {
    const pending = this.#pending.get(index);
    if (pending === undefined || (pending.generation | 0) !== (generation | 0)) return;
    this.#pending.delete(index);
    // After the cut the journal is frozen: what completes now changes nothing.
    if (this.poweredOff) return;
    const { journal } = pending;
    if (pending.kind === 'write') {
      const write = pending.write as JournaledWrite;
      if (raw <= 0) return;
      write.data = write.data.subarray(0, raw);
      write.completed = true;
      write.durable = pending.dsync;
      journal.writes.push(write);
      foldDurablePrefix(journal);
      return;
    }
    const covered = journal.writes.slice(0, Math.max(0, (pending.covers as number) - journal.folded));
    for (const write of covered) {
      if (raw < 0) write.doomed = !write.durable;
      else if (!write.doomed) write.durable = true;
    }
    foldDurablePrefix(journal);
  }

  #journalOf(path: string): FileJournal {
    const absolute = nodePath.resolve(path);
    let journal = this.#files.get(absolute);
    if (journal === undefined) {
      journal = { path: absolute, base: readWhole(absolute), folded: 0, writes: [] };
      this.#files.set(absolute, journal);
    }
    return journal;
  }

  crash(seed: number): AioCrashState {
    if (!this.poweredOff) {
      this.poweredOff = true;
      // Writes still in flight may or may not have reached the disk.
      for (const pending of [...this.#pending.values()].sort(bySequence)) {
        if (pending.kind === 'write') pending.journal.writes.push(pending.write as JournaledWrite);
      }
    }
    return this.#chooseState(seed);
  }

  /**
   * Draws every at-risk write's fate from the seed, in journal order, and
   * builds each file: the base, then every write in completion order that
   * is durable, kept, or (sector by sector) torn.
   */
  #chooseState(seed: number): AioCrashState {
    const random = splitMix32(seed);
    // One keep and one tear probability per crash state, so that over many
    // seeds some states lose everything at risk, some keep everything, some
    // tear nothing, and most mix.
    const keep = [0, 0.25, 0.5, 0.75, 1][Math.floor(random() * 5)];
    const tear = this.#tornWrites ? [0, 0.25, 0.5][Math.floor(random() * 3)] : 0;
    const files = new Map<string, Buffer>();
    const writes: AioPowerLossWrite[] = [];
    let reordered = false;
    for (const journal of this.#files.values()) {
      const image = this.#imageOf(journal, (write) => this.#drawFate(write, keep, tear, random), writes);
      files.set(journal.path, image.content);
      reordered ||= image.reordered;
    }
    writes.sort((a, b) => a.sequence - b.sequence);
    return {
      seed,
      files,
      writes,
      reordered,
      describe: () => describeState(seed, writes, reordered),
      apply: () => {
        for (const [path, image] of files) fs.writeFileSync(path, image);
      },
    };
  }

  /**
   * One file after the cut: the base, then in completion order every durable
   * write, and every write at risk as `fateOf` decides (whole, not at all,
   * or the sectors that landed).  Appends the writes at risk to `writes`.
   */
  #imageOf(
    journal: FileJournal,
    fateOf: (write: JournaledWrite) => Fate,
    writes: AioPowerLossWrite[],
  ): { content: Buffer; reordered: boolean } {
    let content: Buffer = Buffer.from(journal.base);
    let lostEarlier = false;
    let reordered = false;
    for (const write of journal.writes) {
      if (write.durable) {
        content = overlay(content, write.offset, write.data);
        continue;
      }
      const fate = fateOf(write);
      if (fate.fate === 'kept') {
        content = overlay(content, write.offset, write.data);
        reordered ||= lostEarlier;
      } else {
        lostEarlier = true;
        for (const sector of fate.sectorsKept ?? []) {
          // The first sector may begin before the write: only the write's own bytes land.
          const from = Math.max(0, sector - write.offset);
          const to = sector + this.#sectorSize - write.offset;
          content = overlay(content, write.offset + from, write.data.subarray(from, to));
        }
      }
      const state = write.completed ? 'completed' : 'in-flight';
      writes.push({ path: journal.path, offset: write.offset, length: write.data.length, sequence: write.sequence, state, ...fate });
    }
    return { content, reordered };
  }

  #drawFate(write: JournaledWrite, keep: number, tear: number, random: () => number): Fate {
    if (random() < keep) return { fate: 'kept' };
    const sectors = sectorStarts(write.offset, write.data.length, this.#sectorSize);
    if (sectors.length < 2 || random() >= tear) return { fate: 'lost' };
    // Torn: each sector lands or not, but not all and not none (those are 'kept' and 'lost').
    const landed = sectors.map(() => random() < 0.5);
    if (landed.every(Boolean)) landed[Math.floor(random() * landed.length)] = false;
    if (!landed.some(Boolean)) landed[Math.floor(random() * landed.length)] = true;
    return { fate: 'torn', sectorsKept: sectors.filter((_, i) => landed[i]) };
  }
}

/**
 * Moves the leading durable writes into the base image.  Every crash state
 * applies durable writes, in order, after the base, so folding a prefix of
 * them changes no state; a write at risk stops the folding, because durable
 * writes after it must still be applied after it.
 */
function foldDurablePrefix(journal: FileJournal): void {
  let count = 0;
  while (count < journal.writes.length && journal.writes[count].durable) {
    const write = journal.writes[count++];
    journal.base = overlay(journal.base, write.offset, write.data);
  }
  journal.writes.splice(0, count);
  journal.folded += count;
}

function bySequence(a: PendingIo, b: PendingIo): number {
  return (a.write?.sequence ?? 0) - (b.write?.sequence ?? 0);
}

/**
 * Copies every optional or future member of the inner method the wrapper
 * does not define itself (file operations added to the interface later, for
 * example), bound to the inner method, so wrapping never hides a capability.
 */
function forwardOtherMembers(method: AioMethod, wrapper: AioMethod): void {
  const target = wrapper as unknown as Record<string, unknown>;
  for (let object: object | null = method; object !== null && object !== Object.prototype; object = Object.getPrototypeOf(object)) {
    for (const key of Object.getOwnPropertyNames(object)) {
      if (key === 'constructor' || key in target) continue;
      const value = (method as unknown as Record<string, unknown>)[key];
      if (typeof value === 'function') target[key] = (value as (...args: unknown[]) => unknown).bind(method);
    }
  }
}

/** A copy of what a write asks to move: the IO's memory may be reused once it completes. */
function copyWriteData(io: AioIoView): Buffer {
  if (io.buffer !== null) return Buffer.from(new Uint8Array(io.buffer.buffer, io.buffer.byteOffset, io.length));
  const parts = (io.buffers ?? []).map((view) => Buffer.from(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)));
  return Buffer.concat(parts).subarray(0, io.length);
}

function readWhole(path: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch {
    return Buffer.alloc(0);
  }
}

/** `image` with `data` written at `offset`, grown (zero-filled) if the write ends past it. */
function overlay(image: Buffer, offset: number, data: Buffer): Buffer {
  const end = offset + data.length;
  let target = image;
  if (end > image.length) {
    target = Buffer.alloc(end);
    image.copy(target);
  }
  data.copy(target, offset);
  return target;
}

/** The file offsets where the sectors a write touches begin (the first may start before the write). */
function sectorStarts(offset: number, length: number, sectorSize: number): number[] {
  const starts: number[] = [];
  for (let sector = offset - (offset % sectorSize); sector < offset + length; sector += sectorSize) starts.push(sector);
  return starts;
}

function describeState(seed: number, writes: readonly AioPowerLossWrite[], reordered: boolean): string {
  const lines = [`power-loss crash state, seed ${seed} (replay: powerLoss(method, { seed: ${seed} }) or sim.crash({ seed: ${seed} }))`];
  const lost = writes.filter((write) => write.fate !== 'kept');
  lines.push(`${writes.length} writes at risk: ${writes.length - lost.length} kept, ${lost.length} lost or torn${reordered ? ', reordered' : ''}`);
  for (const write of lost) {
    const torn = write.fate === 'torn' ? ` (sectors at ${(write.sectorsKept ?? []).join(', ')} landed)` : '';
    lines.push(`  #${write.sequence} ${write.fate}: ${write.length} bytes at ${write.offset} in ${write.path} (${write.state})${torn}`);
  }
  return lines.join('\n');
}

/** A small seeded generator (SplitMix32 style): the same seed gives the same sequence. */
function splitMix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 0x100000000;
  };
}
