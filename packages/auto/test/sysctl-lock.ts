/**
 * A lock around changes of a sysctl, so that two test runs (two vitest
 * projects, or two engineers' runs) never toggle it at once, and a run that
 * died with the sysctl changed is repaired by the next one.
 *
 * The lock is a file created with O_EXCL holding the owner's pid and the
 * value to restore.  A lock whose owner is no longer alive is stale: its
 * recorded value is written back before the lock is taken over.
 */
import { openSync, readFileSync, unlinkSync, writeFileSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SysctlLock {
  /** The value the sysctl had when the lock was taken; restore it before releasing. */
  readonly original: string;
  release(): void;
}

interface LockRecord {
  pid: number;
  sysctl: string;
  original: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readRecord(lockPath: string): LockRecord | null {
  try {
    return JSON.parse(readFileSync(lockPath, 'utf8')) as LockRecord;
  } catch {
    return null;
  }
}

/** Takes the lock for `sysctlPath` (e.g. /proc/sys/kernel/io_uring_disabled), waiting up to `timeoutMs`. */
export async function lockSysctl(sysctlPath: string, lockPath: string, timeoutMs = 120_000): Promise<SysctlLock> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx');
      const original = readFileSync(sysctlPath, 'utf8').trim();
      writeFileSync(fd, JSON.stringify({ pid: process.pid, sysctl: sysctlPath, original } satisfies LockRecord));
      closeSync(fd);
      return {
        original,
        release: () => {
          if (readRecord(lockPath)?.pid === process.pid) unlinkSync(lockPath);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const record = readRecord(lockPath);
    if (record !== null && !alive(record.pid)) {
      // The owner died with the sysctl possibly changed: put back what it found.
      writeFileSync(record.sysctl, record.original);
      unlinkSync(lockPath);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockPath} (held by pid ${record?.pid ?? 'unknown'})`);
    await sleep(100);
  }
}
