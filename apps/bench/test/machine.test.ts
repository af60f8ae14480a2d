import { describe, expect, it } from 'vitest';
import { collectMachineFacts, findMount, formatBytes, formatMachineFacts } from '../src/machine.js';

const MOUNTS = [
  '/dev/vda / ext4 rw,relatime 0 0',
  'tmpfs /tmp tmpfs rw,nosuid 0 0',
  '/dev/vdb /tmp/data xfs rw 0 0',
  '/dev/vdc /mnt/with\\040space btrfs rw 0 0',
  'overlay /tmp/data overlay rw 0 0',
  '',
].join('\n');

describe('findMount', () => {
  it('picks the longest mount point that holds the path', () => {
    expect(findMount(MOUNTS, '/home/me/file')).toMatchObject({ mountPoint: '/', fsType: 'ext4' });
    expect(findMount(MOUNTS, '/tmp/aio-bench/x.dat')).toMatchObject({ mountPoint: '/tmp', fsType: 'tmpfs' });
    expect(findMount(MOUNTS, '/tmpfoo/x')).toMatchObject({ mountPoint: '/' });
  });

  it('lets a later mount on the same point hide the earlier one', () => {
    expect(findMount(MOUNTS, '/tmp/data/x')).toMatchObject({ fsType: 'overlay' });
  });

  it('decodes the octal escapes of /proc/mounts', () => {
    expect(findMount(MOUNTS, '/mnt/with space/f')).toEqual({ device: '/dev/vdc', mountPoint: '/mnt/with space', fsType: 'btrfs' });
  });
});

describe('machine facts', () => {
  it('names kernel, cores, CPU, file system, Node, fio and the date', () => {
    const facts = collectMachineFacts(process.cwd(), 4096, 512);
    expect(facts.cores).toBeGreaterThan(0);
    expect(facts.node).toBe(process.version);
    expect(() => new Date(facts.date).toISOString()).not.toThrow();
    const text = formatMachineFacts(facts);
    expect(text).toContain(facts.kernel);
    expect(text).toContain(facts.fio ?? 'fio not installed');
    expect(text).toContain(`${facts.fsType} on`);
    expect(text).toContain('O_DIRECT memory alignment 512 B');
  });

  it('formats byte counts with binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(4096)).toBe('4 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(1024 ** 3)).toBe('1 GiB');
  });
});
