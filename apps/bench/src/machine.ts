import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The facts printed above every table, so a reader can tell what the numbers were measured on. */
export interface MachineFacts {
  date: string;
  kernel: string;
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  /** `fio-3.33`, or null when fio is not installed. */
  fio: string | null;
  file: string;
  fileSize: number;
  /** The file system type of the file's directory (ext4, xfs, tmpfs...). */
  fsType: string;
  mountPoint: string;
  device: string;
  /** The memory alignment O_DIRECT needs on this file (bytes), or null when the file system refuses O_DIRECT. */
  directAlignment: number | null;
}

export interface MountEntry {
  device: string;
  mountPoint: string;
  fsType: string;
}

export function collectMachineFacts(file: string, fileSize: number, directAlignment: number | null): MachineFacts {
  const cpus = os.cpus();
  const mount = mountOf(file);
  return {
    date: new Date().toISOString(),
    kernel: `${os.type()} ${os.release()}`,
    cores: os.availableParallelism(),
    cpuModel: cpus[0]?.model.trim() || 'unknown',
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    fio: fioVersion(),
    file,
    fileSize,
    fsType: mount?.fsType ?? 'unknown',
    mountPoint: mount?.mountPoint ?? 'unknown',
    device: mount?.device ?? 'unknown',
    directAlignment,
  };
}

let cachedFioVersion: string | null | undefined;

/** Returns fio's version string (`fio-3.33`), or null when fio is not installed; asked once per process. */
export function fioVersion(): string | null {
  if (cachedFioVersion === undefined) {
    const result = spawnSync('fio', ['--version'], { encoding: 'utf8' });
    cachedFioVersion = result.error || result.status !== 0 ? null : result.stdout.trim();
  }
  return cachedFioVersion;
}

/** Returns the mount that holds `file` (its directory when it does not exist yet), from /proc/mounts. */
export function mountOf(file: string): MountEntry | null {
  let mountsText: string;
  try {
    mountsText = fs.readFileSync('/proc/mounts', 'utf8');
  } catch {
    return null;
  }
  return findMount(mountsText, realDirectory(file));
}

function realDirectory(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return fs.realpathSync(path.dirname(file));
  }
}

/**
 * Returns the entry of `mountsText` (the format of /proc/mounts) whose mount
 * point is the longest prefix of `absolutePath`; later entries win ties,
 * because a later mount hides an earlier one on the same point.
 */
export function findMount(mountsText: string, absolutePath: string): MountEntry | null {
  let best: MountEntry | null = null;
  for (const line of mountsText.split('\n')) {
    const [device, rawMountPoint, fsType] = line.split(' ');
    if (!device || !rawMountPoint || !fsType) continue;
    const mountPoint = unescapeMountField(rawMountPoint);
    if (!isPathInside(absolutePath, mountPoint)) continue;
    if (!best || mountPoint.length >= best.mountPoint.length) best = { device, mountPoint, fsType };
  }
  return best;
}

/** /proc/mounts writes space, tab, newline and backslash as octal escapes (\040). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function isPathInside(candidate: string, directory: string): boolean {
  if (directory === '/') return candidate.startsWith('/');
  return candidate === directory || candidate.startsWith(`${directory}/`);
}

export function formatMachineFacts(facts: MachineFacts): string {
  const direct =
    facts.directAlignment === null ? 'O_DIRECT refused' : `O_DIRECT memory alignment ${facts.directAlignment} B`;
  return [
    `machine  ${facts.kernel} · ${facts.cores} cores · ${facts.cpuModel} · ${facts.memoryGiB} GiB RAM`,
    `software Node ${facts.node} · ${facts.fio ?? 'fio not installed'} · ${facts.date}`,
    `file     ${facts.file} (${formatBytes(facts.fileSize)}, ${facts.fsType} on ${facts.device} at ${facts.mountPoint}, ${direct})`,
  ].join('\n');
}

/** Formats a byte count with a binary unit: 4096 → "4 KiB", 1073741824 → "1 GiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${text} ${units[unit]}`;
}
