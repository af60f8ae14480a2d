import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/*
 * `--zram`: a stable, CPU-bound block device for the software path, the way
 * the kernel's own io_uring figures are taken on null_blk.  The virtio disk
 * here swings between 13k and 62k O_DIRECT IOPS from one round to the next;
 * ext4 on zram runs the same kernel paths (page cache, O_DIRECT, the block
 * layer) at the speed of a memory copy and a compression, which the run to
 * run noise does not drown.
 *
 * It needs root and changes the machine while the bench runs, so it is an
 * explicit option: it takes /dev/zram0 if that is unused (disksize 0, not
 * mounted), else hot-adds a device; sets its size to 3 GiB; makes an ext4 file
 * system on it (its lazy initialisation off, so no background writer runs
 * during the timed runs); and mounts it on a new temp dir.  Every step that
 * succeeded is undone in reverse order at the end, on an error in a later
 * step, and on SIGINT/SIGTERM: unmount, remove the dir, reset the device
 * (which frees its memory), hot-remove it if it was added.
 */

/** The zram device's size: the 1 GiB test file, the file system and room to spare. */
export const ZRAM_DISKSIZE = '3G';
const ZRAM_DISKSIZE_BYTES = 3 * 1024 ** 3;
const SYS_BLOCK = '/sys/block';
const ZRAM_CONTROL = '/sys/class/zram-control';

/** What setting up zram does to the machine; the real one runs the commands, tests pass a fake. */
export interface ZramSystem {
  exists(file: string): boolean;
  read(file: string): string;
  write(file: string, text: string): void;
  /** Runs a command; throws if it fails. */
  run(command: string, args: readonly string[]): void;
  /** The lines of /proc/mounts. */
  mounts(): string;
  makeTempDir(): string;
  removeDir(directory: string): void;
}

export const REAL_ZRAM_SYSTEM: ZramSystem = {
  exists: (file) => fs.existsSync(file),
  read: (file) => fs.readFileSync(file, 'utf8').trim(),
  write: (file, text) => fs.writeFileSync(file, text),
  run: (command, args) => {
    execFileSync(command, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  },
  mounts: () => fs.readFileSync('/proc/mounts', 'utf8'),
  makeTempDir: () => fs.mkdtempSync(path.join(os.tmpdir(), 'aio-bench-zram-')),
  removeDir: (directory) => fs.rmdirSync(directory),
};

export interface ZramMount {
  /** e.g. /dev/zram0 */
  device: string;
  /** Where its ext4 file system is mounted. */
  directory: string;
  /** Whether the bench hot-added the device (else it took an unused /dev/zram0). */
  hotAdded: boolean;
  /** Undoes every step, in reverse; runs once, however often it is called.  Problems are logged, not thrown. */
  tearDown(): void;
}

/** Which zram device to use: an unused zram0 (disksize 0, not mounted), else null (hot-add one). */
export function unusedZram0(system: ZramSystem): number | null {
  const disksize = path.join(SYS_BLOCK, 'zram0', 'disksize');
  if (!system.exists(disksize)) return null;
  if (system.read(disksize) !== '0') return null;
  return isMounted(system, '/dev/zram0') ? null : 0;
}

function isMounted(system: ZramSystem, device: string): boolean {
  return system.mounts().split('\n').some((line) => line.split(' ')[0] === device);
}

/** Why `--zram` cannot run here, or null: it needs root and a file small enough for the device. */
export function zramRefusal(uid: number | undefined, fileSize: number): string | null {
  if (uid !== 0) return '--zram sets up a block device and mounts it, which needs root (run the bench as root, or leave --zram out)';
  if (fileSize > ZRAM_DISKSIZE_BYTES / 2) return `--zram holds a test file of at most ${ZRAM_DISKSIZE_BYTES / 2} bytes, got --size ${fileSize}`;
  return null;
}

/**
 * Sets up the zram device and mounts it.  On a failing step, undoes the
 * steps done so far and throws.
 */
export function setUpZram(log: (message: string) => void, system: ZramSystem = REAL_ZRAM_SYSTEM): ZramMount {
  const undo: Array<{ what: string; run: () => void }> = [];
  let tornDown = false;
  const tearDown = (): void => {
    if (tornDown) return;
    tornDown = true;
    for (const step of undo.reverse()) {
      try {
        step.run();
      } catch (error) {
        log(`warning: --zram teardown could not ${step.what}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  };
  try {
    if (!system.exists(path.join(SYS_BLOCK, 'zram0')) && !system.exists(ZRAM_CONTROL)) system.run('modprobe', ['zram']);
    let index = unusedZram0(system);
    const hotAdded = index === null;
    if (index === null) {
      index = Number(system.read(path.join(ZRAM_CONTROL, 'hot_add')));
      if (!Number.isInteger(index)) throw new Error('zram hot_add did not return a device number');
      const added = index;
      undo.push({ what: `hot-remove zram${added}`, run: () => system.write(path.join(ZRAM_CONTROL, 'hot_remove'), String(added)) });
    }
    const name = `zram${index}`;
    const device = `/dev/${name}`;
    system.write(path.join(SYS_BLOCK, name, 'disksize'), ZRAM_DISKSIZE);
    undo.push({ what: `reset ${device}`, run: () => system.write(path.join(SYS_BLOCK, name, 'reset'), '1') });
    system.run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', device]);
    const directory = system.makeTempDir();
    undo.push({ what: `remove ${directory}`, run: () => system.removeDir(directory) });
    system.run('mount', [device, directory]);
    undo.push({ what: `unmount ${directory}`, run: () => system.run('umount', [directory]) });
    return { device, directory, hotAdded, tearDown };
  } catch (error) {
    tearDown();
    throw new Error(`--zram setup failed: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
}
