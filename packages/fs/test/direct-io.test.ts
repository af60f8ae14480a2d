import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { allocAligned, AlignedPagePool, open } from '../src/index.js';
import { describeEachMethod, scratchDir } from './parity.js';

const PAGE = 4096;
const CONTENTS = Buffer.from(Array.from({ length: 4 * PAGE }, (_, i) => (i * 13 + 5) & 0xff));

/** Why O_DIRECT cannot be tested in this directory (tmpfs refuses it), or null when it can. */
function directUnsupported(dir: string): string | null {
  if (fs.constants.O_DIRECT === undefined) return `O_DIRECT does not exist on ${process.platform}`;
  try {
    fs.closeSync(fs.openSync(path.join(dir, 'data.bin'), fs.constants.O_RDONLY | fs.constants.O_DIRECT));
    return null;
  } catch (error) {
    return `the file system of ${dir} refuses O_DIRECT (${(error as NodeJS.ErrnoException).code})`;
  }
}

const probeDir = scratchDir({ 'data.bin': CONTENTS });
const skipReason = directUnsupported(probeDir);

describeEachMethod('direct I/O, the one addition', (method) => {
  if (skipReason !== null) {
    it.skip(`${method}: skipped: ${skipReason}`, () => {});
    return;
  }

  it(`${method}: open(path, flags, mode, { direct: true }) reads and writes aligned buffers past the page cache`, async () => {
    const dir = scratchDir({ 'data.bin': CONTENTS });
    const file = path.join(dir, 'data.bin');
    const h = await open(file, 'r+', undefined, { direct: true });
    expect(h.aioFile.flags.direct).toBe(true);
    const page = allocAligned(PAGE);
    const read = await h.read(page, 0, PAGE, 2 * PAGE);
    expect(read.bytesRead).toBe(PAGE);
    expect(read.buffer.equals(CONTENTS.subarray(2 * PAGE, 3 * PAGE))).toBe(true);
    page.fill(0x5a);
    expect((await h.write(page, 0, PAGE, PAGE)).bytesWritten).toBe(PAGE);
    await h.close();
    expect(fs.readFileSync(file).subarray(PAGE, 2 * PAGE).every((byte) => byte === 0x5a)).toBe(true);
  });

  it(`${method}: a direct read at an unaligned position or into an unaligned buffer is EINVAL, as with node:fs on an O_DIRECT fd`, async () => {
    const dir = scratchDir({ 'data.bin': CONTENTS });
    const h = await open(path.join(dir, 'data.bin'), fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    const pool = new AlignedPagePool(PAGE, 2);
    const page = pool.get() as Buffer;
    await expect(h.read(page, 0, PAGE, 100)).rejects.toMatchObject({ code: 'EINVAL', syscall: 'read' });
    const unaligned = allocAligned(2 * PAGE).subarray(1, PAGE + 1);
    await expect(h.read(unaligned, 0, PAGE, 0)).rejects.toMatchObject({ code: 'EINVAL', syscall: 'read' });
    expect((await h.read(page, 0, PAGE, 0)).bytesRead).toBe(PAGE);
    pool.put(page);
    await h.close();
  });

  it(`${method}: writes at the current position issued together land in the order they were called`, async () => {
    const dir = scratchDir();
    const h = await open(path.join(dir, 'ordered.txt'), 'w+');
    const parts = Array.from({ length: 40 }, (_, i) => `[${String(i).padStart(2, '0')}]`);
    const results = await Promise.all(parts.map((part) => h.write(part)));
    expect(results.map((r) => r.bytesWritten)).toEqual(parts.map(() => 4));
    expect(await h.readFile({ encoding: 'utf8' })).toBe('');
    expect((await h.read(Buffer.alloc(160), 0, 160, 0)).buffer.toString()).toBe(parts.join(''));
    await h.close();
  });
});
