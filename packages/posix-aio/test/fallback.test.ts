import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { batchReads, context, finish, methodStats, pattern, patternFile, scratchDir, unavailable } from './helpers.js';

const skip = unavailable();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)('synchronous fallbacks', () => {
  it('posix_aio: IOs beyond a full aiocb table run synchronously, correctly, and are counted as queue-full', async () => {
    const path = patternFile(dir, 'full.bin', 32 * 4096);
    const aio = context({ tableSize: 4 });
    const file = aio.open(path);
    const ios = batchReads(aio, file, Array.from({ length: 16 }, (_, i) => i * 4096));
    await Promise.all(ios.map((io) => io.ref.wait()));
    for (const io of ios) expect(io.buf.equals(pattern(4096, io.offset))).toBe(true);
    expect(methodStats(aio).queueFull).toBe(12);
    expect(aio.stats().fallbacks).toBe(12);
    expect(methodStats(aio).tableSize).toBe(4);
    await finish(aio, file);
  });
});
