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
 * Size changes and renames (the file operations).  A `truncate` or an
 * `allocate` that changes the size is journaled like a write, in completion
 * order, and made durable the same way (a later successful fsync or
 * fdatasync of the file); at a crash one that is not durable is kept or
 * lost, never torn.  An allocate with keepSize changes no content and is
 * not journaled.  A rename through `aio.rename()` is durable once a
 * successful fsync of its destination directory (and of its source
 * directory, when that differs) was submitted after it; the renames that
 * are not are undone at the crash as a suffix (a journaling filesystem
 * commits directory changes in order): the seed picks how many of them,
 * oldest first, survive.  An undone rename puts the file back under its old
 * name and the replaced target back (or removes the new name when it
 * replaced nothing).  A file opened before a rename keeps its journal (its
 * fd follows the inode), and one opened after it under the new name finds
 * that journal.  On Windows renames are not simulated (taken as durable):
 * there is no directory fsync there that could make one durable.
 *
 * What must stay true: a write, truncate or allocate that completed before a
 * successful sync of its file was submitted, or a write that completed on a
 * dsync file, is in every crash state, whatever the seed; a rename whose
 * directories were synced after it is in every crash state; the same
 * journal and seed give the same state.  File creation and removal outside
 * `aio.rename()` are taken as durable.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { AioIoError, AioUsageError, errnoOf } from './errors.js';
import type { AioFile } from './file.js';
import { checkBoolean, checkInteger, checkOptions } from './validate.js';
import { AIO_FLAG_KEEP_SIZE, type AioIoView, type AioMethod, type AioMethodFactory, type AioMethodHost } from './method.js';

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

/** One write (or size change) that a power cut could take away, and what this crash state did with it. */
export interface AioPowerLossWrite {
  readonly path: string;
  /** `write` (also writev), or a size change: `truncate` (offset is the new length) or `allocate` (the range). */
  readonly op: 'write' | 'truncate' | 'allocate';
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

/** A rename through `aio.rename()` that was not durable at the cut, and whether this crash state kept it. */
export interface AioPowerLossRename {
  /** Absolute paths. */
  readonly from: string;
  readonly to: string;
  /** Its place among the journaled IOs (the same counter as writes). */
  readonly sequence: number;
  /** 'lost': undone, the file is back under `from` and `to` holds what it held before. */
  readonly fate: 'kept' | 'lost';
}

/** One possible content of the files after a power cut. */
export interface AioCrashState {
  /** The seed that chose this state; `sim.crash({ seed })` gives the same state again. */
  readonly seed: number;
  /** Each file's content after the cut, by absolute path. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** Paths that do not exist after the cut (the new name of an undone rename that replaced nothing). */
  readonly removed: readonly string[];
  /** Every write that was at risk, in submission order, with its fate. */
  readonly writes: readonly AioPowerLossWrite[];
  /** Every rename that was at risk, oldest first, with its fate. */
  readonly renames: readonly AioPowerLossRename[];
  /** Whether a later write was kept while an earlier one on the same file was lost or torn. */
  readonly reordered: boolean;
  /** A few lines for a test failure message: the seed, then what was lost or torn. */
  describe(): string;
  /** Writes every file's post-crash content over the real file and removes the removed paths (node:fs, synchronously). */
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

/** One write, truncate or allocate as the simulator journals it. */
interface JournaledWrite {
  readonly sequence: number;
  readonly op: 'write' | 'truncate' | 'allocate';
  /** A write's offset; a truncate's new length; an allocate's range start. */
  readonly offset: number;
  /** An allocate's range length (0 otherwise). */
  readonly length: number;
  /** The bytes the write moved (or, while in flight, asked to move); empty for a size change. */
  data: Buffer;
  completed: boolean;
  durable: boolean;
  /** Covered by a sync that failed: no later sync can vouch for it. */
  doomed: boolean;
}

/** What the simulator knows of one file, by absolute path. */
interface FileJournal {
  /** Its current name: a rename moves the journal with the file. */
  path: string;
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

/** A rename as the simulator journals it. */
interface JournaledRename {
  readonly sequence: number;
  readonly from: string;
  readonly to: string;
  /** The renamed file. */
  readonly journal: FileJournal;
  /** What `to` was before: a journaled file, bytes read from disk, or nothing. */
  readonly replaced: FileJournal | Buffer | null;
  /** The directories whose sync it waits for, removed as they are synced. */
  readonly unsynced: Set<string>;
  durable: boolean;
}

/** An IO seen at submission, waiting for its completion. */
interface PendingIo {
  readonly generation: number;
  readonly journal: FileJournal;
  readonly kind: 'write' | 'sync' | 'directory-sync';
  readonly write?: JournaledWrite;
  /** For a sync: how many writes on the file (folded ones included) had completed when it was submitted; for a directory sync, how many renames had been journaled. */
  readonly covers?: number;
  /** For a directory sync: the directory's absolute path. */
  readonly directory?: string;
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
  /** The journal of each file by its current absolute path. */
  readonly #files = new Map<string, FileJournal>();
  /** Every journal ever made, in creation order (the order crash states draw fates in). */
  readonly #journals: FileJournal[] = [];
  /** The journal of each AioFile, fixed at its first IO: its fd follows the file through renames. */
  readonly #byFile = new WeakMap<AioFile, FileJournal>();
  /** Renames in order; the durable prefix is dropped. */
  readonly #renames: JournaledRename[] = [];
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
      beforeRename: (from, to) => this.#beforeRename(method.name, from, to),
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

  /** Journals an IO at submission: a write's bytes, a size change, a sync's coverage. */
  #submit(io: AioIoView): void {
    const file = io.file;
    const op = io.opName;
    // Files opened from a bare fd have no path to rebuild; they are not simulated.
    if (file === null || file.path === undefined || op === 'read' || op === 'readv' || op === 'stat' || op === 'invalid') return;
    if (op === 'allocate' && (io.flags & AIO_FLAG_KEEP_SIZE) !== 0) return; // no content or size change
    if (file.kind === 'directory') {
      if (op !== 'fsync' && op !== 'fdatasync') return;
      const directory = nodePath.resolve(file.path);
      this.#pending.set(io.index, { generation: io.generation, journal: DIRECTORY, kind: 'directory-sync', covers: this.#renames.length, directory, dsync: false });
      return;
    }
    const journal = this.#journalOfFile(file);
    const dsync = file.flags.dsync && (op === 'write' || op === 'writev');
    if (op === 'fsync' || op === 'fdatasync') {
      const covers = journal.folded + journal.writes.length;
      this.#pending.set(io.index, { generation: io.generation, journal, kind: 'sync', covers, dsync });
      return;
    }
    const write: JournaledWrite = {
      sequence: ++this.#sequence,
      op: op === 'writev' ? 'write' : op,
      offset: io.offset,
      length: op === 'allocate' ? io.length : 0,
      data: op === 'write' || op === 'writev' ? copyWriteData(io) : EMPTY,
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
    if (pending.kind === 'directory-sync') {
      if (raw >= 0) this.#directorySynced(pending.directory as string, pending.covers as number);
      return;
    }
    if (pending.kind === 'write') {
      const write = pending.write as JournaledWrite;
      if (write.op === 'write' ? raw <= 0 : raw < 0) return;
      if (write.op === 'write') write.data = write.data.subarray(0, raw);
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
      this.#journals.push(journal);
    }
    return journal;
  }

  /** The journal of an open file: found by its path at its first IO, then kept (a rename moves the file, not the fd). */
  #journalOfFile(file: AioFile): FileJournal {
    let journal = this.#byFile.get(file);
    if (journal === undefined) {
      journal = this.#journalOf(file.path as string);
      this.#byFile.set(file, journal);
    }
    return journal;
  }

  /**
   * aio.rename() is about to rename `from` to `to`: takes what both names
   * hold now, and journals the rename once it happened.  After the cut the
   * device is dead: the rename is refused with EIO.
   */
  #beforeRename(method: string, from: string, to: string): ((renamed: boolean) => void) | undefined {
    if (this.poweredOff) {
      const target = `rename ${JSON.stringify(from)} to ${JSON.stringify(to)}`;
      throw new AioIoError({ code: 'EIO', errno: -Math.abs(this.#eio), syscall: 'rename', path: from, target, method, detail: `the power is off: ${target}` });
    }
    // Only files are simulated; on Windows there is no directory fsync to make a rename durable, so renames are taken as durable.
    if (process.platform === 'win32' || !isFile(from)) return undefined;
    const journal = this.#journalOf(from);
    const replaced = this.#files.get(to) ?? (isFile(to) ? readWhole(to) : null);
    return (renamed) => {
      if (!renamed) return;
      this.#files.delete(from);
      this.#files.set(to, journal);
      journal.path = to;
      const unsynced = new Set([nodePath.dirname(to), nodePath.dirname(from)]);
      this.#renames.push({ sequence: ++this.#sequence, from, to, journal, replaced, unsynced, durable: false });
    };
  }

  /**
   * A successful fsync of `directory`, submitted when `covers` renames were
   * journaled: those renames no longer wait for it.  A rename with no
   * directory left to wait for is durable, and so is every rename before it
   * (directory changes are committed in order); the durable prefix is dropped.
   */
  #directorySynced(directory: string, covers: number): void {
    let durableUpTo = -1;
    for (let i = 0; i < Math.min(covers, this.#renames.length); i++) {
      const rename = this.#renames[i];
      rename.unsynced.delete(directory);
      if (rename.unsynced.size === 0) durableUpTo = i;
    }
    // Dropping the prefix shifts the indexes that later directory syncs in flight counted: they count from here.
    this.#renames.splice(0, durableUpTo + 1);
    for (const pending of this.#pending.values()) {
      if (pending.kind === 'directory-sync') (pending as { covers: number }).covers = Math.max(0, (pending.covers as number) - (durableUpTo + 1));
    }
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
    const images = new Map<FileJournal, Buffer>();
    const writes: AioPowerLossWrite[] = [];
    let reordered = false;
    for (const journal of this.#journals) {
      const image = this.#imageOf(journal, (write) => this.#drawFate(write, keep, tear, random), writes);
      images.set(journal, image.content);
      reordered ||= image.reordered;
    }
    writes.sort((a, b) => a.sequence - b.sequence);
    // The renames at risk survive as a prefix: the seed picks its length.
    const at = this.#renames;
    const survive = at.length === 0 ? 0 : Math.floor(random() * (at.length + 1));
    const names = new Map<string, FileJournal | Buffer | null>(this.#files);
    for (let i = at.length - 1; i >= survive; i--) {
      names.set(at[i].from, at[i].journal);
      names.set(at[i].to, at[i].replaced);
    }
    const files = new Map<string, Buffer>();
    const removed: string[] = [];
    for (const [path, entry] of names) {
      if (entry === null) removed.push(path);
      else files.set(path, Buffer.isBuffer(entry) ? entry : (images.get(entry) as Buffer));
    }
    const renames = at.map((rename, i): AioPowerLossRename => ({ from: rename.from, to: rename.to, sequence: rename.sequence, fate: i < survive ? 'kept' : 'lost' }));
    return {
      seed,
      files,
      removed,
      writes,
      renames,
      reordered,
      describe: () => describeState(seed, writes, renames, reordered),
      apply: () => {
        for (const path of removed) fs.rmSync(path, { force: true });
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
        content = applyEntry(content, write);
        continue;
      }
      const fate = fateOf(write);
      if (fate.fate === 'kept') {
        content = applyEntry(content, write);
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
      const length = write.op === 'write' ? write.data.length : write.length;
      writes.push({ path: journal.path, op: write.op, offset: write.offset, length, sequence: write.sequence, state, ...fate });
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
    journal.base = applyEntry(journal.base, journal.writes[count++]);
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

/** `image` after one journaled entry: a write's bytes, a truncate's new length, an allocate's growth. */
function applyEntry(image: Buffer, entry: JournaledWrite): Buffer {
  if (entry.op === 'write') return overlay(image, entry.offset, entry.data);
  const size = entry.op === 'truncate' ? entry.offset : Math.max(image.length, entry.offset + entry.length);
  if (size === image.length) return image;
  const resized = Buffer.alloc(size);
  image.copy(resized, 0, 0, Math.min(size, image.length));
  return resized;
}

function isFile(path: string): boolean {
  try {
    return fs.statSync(path).isFile();
  } catch {
    return false;
  }
}

const EMPTY = Buffer.alloc(0);

/** The placeholder journal of a directory sync's pending entry (a directory has no content journal). */
const DIRECTORY: FileJournal = { path: '', base: EMPTY, folded: 0, writes: [] };

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

function describeState(seed: number, writes: readonly AioPowerLossWrite[], renames: readonly AioPowerLossRename[], reordered: boolean): string {
  const lines = [`power-loss crash state, seed ${seed} (replay: powerLoss(method, { seed: ${seed} }) or sim.crash({ seed: ${seed} }))`];
  const lost = writes.filter((write) => write.fate !== 'kept');
  lines.push(`${writes.length} writes at risk: ${writes.length - lost.length} kept, ${lost.length} lost or torn${reordered ? ', reordered' : ''}`);
  for (const write of lost) {
    const torn = write.fate === 'torn' ? ` (sectors at ${(write.sectorsKept ?? []).join(', ')} landed)` : '';
    const what = write.op === 'truncate' ? `truncate to ${write.offset}` : `${write.op === 'write' ? '' : `${write.op} of `}${write.length} bytes at ${write.offset}`;
    lines.push(`  #${write.sequence} ${write.fate}: ${what} in ${write.path} (${write.state})${torn}`);
  }
  for (const rename of renames.filter((each) => each.fate === 'lost')) {
    lines.push(`  #${rename.sequence} rename lost: ${rename.from} -> ${rename.to}`);
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
