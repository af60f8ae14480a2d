import { describe, expect, it } from 'vitest';
import { ZRAM_DISKSIZE, setUpZram, unusedZram0, zramRefusal, type ZramSystem } from '../src/zram.js';

/**
 * A machine on paper: sysfs files, mounts and a log of what was done.  The
 * tests check the plan and its undoing; the real commands need root and are
 * run by `--zram` itself.
 */
function fakeSystem(files: Record<string, string>, options: { mounts?: string; failOn?: string } = {}) {
  const done: string[] = [];
  const system: ZramSystem = {
    exists: (file) => Object.keys(files).some((known) => known === file || known.startsWith(`${file}/`)),
    read: (file) => {
      if (!(file in files)) throw new Error(`ENOENT ${file}`);
      return files[file];
    },
    write: (file, text) => {
      done.push(`write ${file} ${text}`);
      if (options.failOn !== undefined && file.endsWith(options.failOn)) throw new Error(`cannot write ${file}`);
    },
    run: (command, args) => {
      done.push(`${command} ${args.join(' ')}`);
      if (command === options.failOn) throw new Error(`${command} failed`);
    },
    mounts: () => options.mounts ?? '/dev/vda / ext4 rw 0 0\n',
    makeTempDir: () => '/tmp/aio-bench-zram-x',
    removeDir: (directory) => void done.push(`rmdir ${directory}`),
  };
  return { system, done };
}

const quiet = () => {};

describe('--zram', () => {
  it('is refused without root and for a file too big for the device', () => {
    expect(zramRefusal(1000, 1024 ** 3)).toMatch(/needs root/);
    expect(zramRefusal(undefined, 1024 ** 3)).toMatch(/needs root/);
    expect(zramRefusal(0, 2 * 1024 ** 3)).toMatch(/at most/);
    expect(zramRefusal(0, 1024 ** 3)).toBeNull();
  });

  it('takes zram0 only when it is unused: no size and not mounted', () => {
    expect(unusedZram0(fakeSystem({ '/sys/block/zram0/disksize': '0' }).system)).toBe(0);
    expect(unusedZram0(fakeSystem({ '/sys/block/zram0/disksize': '3221225472' }).system)).toBeNull();
    expect(unusedZram0(fakeSystem({ '/sys/block/zram0/disksize': '0' }, { mounts: '/dev/zram0 /mnt ext4 rw 0 0\n' }).system)).toBeNull();
    expect(unusedZram0(fakeSystem({}).system)).toBeNull();
  });

  it('sizes, formats and mounts an unused zram0, then undoes it all in reverse, once', () => {
    const { system, done } = fakeSystem({ '/sys/block/zram0/disksize': '0', '/sys/class/zram-control/hot_add': '1' });
    const zram = setUpZram(quiet, system);
    expect(zram).toMatchObject({ device: '/dev/zram0', directory: '/tmp/aio-bench-zram-x', hotAdded: false });
    expect(done).toEqual([
      `write /sys/block/zram0/disksize ${ZRAM_DISKSIZE}`,
      'mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/zram0',
      'mount /dev/zram0 /tmp/aio-bench-zram-x',
    ]);
    done.length = 0;
    zram.tearDown();
    zram.tearDown();
    expect(done).toEqual(['umount /tmp/aio-bench-zram-x', 'rmdir /tmp/aio-bench-zram-x', 'write /sys/block/zram0/reset 1']);
  });

  it('hot-adds a device when zram0 is in use, and hot-removes it at the end', () => {
    const { system, done } = fakeSystem({ '/sys/block/zram0/disksize': '100', '/sys/class/zram-control/hot_add': '2' });
    const zram = setUpZram(quiet, system);
    expect(zram).toMatchObject({ device: '/dev/zram2', hotAdded: true });
    zram.tearDown();
    expect(done.at(-1)).toBe('write /sys/class/zram-control/hot_remove 2');
  });

  it('undoes the steps already done when a later one fails, and reports the failure', () => {
    const { system, done } = fakeSystem({ '/sys/block/zram0/disksize': '0' }, { failOn: 'mount' });
    expect(() => setUpZram(quiet, system)).toThrow(/--zram setup failed: mount failed/);
    expect(done.slice(-2)).toEqual(['rmdir /tmp/aio-bench-zram-x', 'write /sys/block/zram0/reset 1']);
    expect(done).not.toContain('umount /tmp/aio-bench-zram-x');
  });

  it('keeps tearing down when one undo step fails, and logs it', () => {
    const { system, done } = fakeSystem({ '/sys/block/zram0/disksize': '0' });
    const zram = setUpZram(quiet, system);
    const logged: string[] = [];
    system.removeDir = () => {
      throw new Error('EBUSY');
    };
    const failing = setUpZram((m) => logged.push(m), system);
    failing.tearDown();
    expect(logged.join('\n')).toMatch(/could not remove .*EBUSY/);
    expect(done.at(-1)).toBe('write /sys/block/zram0/reset 1');
    zram.tearDown();
  });
});
