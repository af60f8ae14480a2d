import * as fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeAll, newAio, pattern, patternFile, scratchDir, skipReason } from './helpers.js';

const skip = skipReason({ sqpoll: true });
const dir = scratchDir();
afterEach(closeAll);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const IORING_SETUP_SQPOLL = 1 << 1;

describe('io_uring with SQPOLL', () => {
  it('io_uring: no SQPOLL unless asked', () => {
    if (skipReason() !== undefined) return;
    expect(newAio().stats().methodStats.setupFlags & IORING_SETUP_SQPOLL).toBe(0);
  });

  it.skipIf(skip !== undefined)('io_uring: with sqpoll the ring polls submissions in the kernel and IO round-trips', async () => {
    const aio = newAio({ sqpoll: true, sqpollIdleMs: 10 });
    expect(aio.stats().methodStats.setupFlags & IORING_SETUP_SQPOLL).toBe(IORING_SETUP_SQPOLL);
    const file = aio.open(patternFile(dir, 64 * 1024), { read: true, write: true });
    const buffers = Array.from({ length: 16 }, () => Buffer.alloc(4096));
    expect(await Promise.all(buffers.map((b, i) => file.read(b, i * 4096)))).toEqual(Array(16).fill(4096));
    buffers.forEach((b, i) => expect(b.equals(pattern(4096, 1, i * 4096))).toBe(true));
    expect(await file.write(Buffer.alloc(100, 3), 0)).toBe(100);
    await file.datasync();
  });
});
