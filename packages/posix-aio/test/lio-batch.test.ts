import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { batchReads, context, finish, methodStats, pattern, patternFile, scratchDir, unavailable } from './helpers.js';

const skip = unavailable();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)('lio_listio batches', () => {
  it('posix_aio: a batch of reads goes to the OS in one lio_listio call', async () => {
    const path = patternFile(dir, 'batch.bin', 64 * 4096);
    const aio = context();
    const file = aio.open(path);
    const before = methodStats(aio);
    const ios = batchReads(aio, file, Array.from({ length: 16 }, (_, i) => ((i * 7) % 64) * 4096));
    await Promise.all(ios.map((io) => io.ref.wait()));
    const after = methodStats(aio);
    expect(after.lioListioCalls - before.lioListioCalls).toBe(1);
    expect(after.singleCalls - before.singleCalls).toBe(0);
    for (const io of ios) {
      expect(io.ret.result).toMatchObject({ status: 'ok', result: 4096 });
      expect(io.buf.equals(pattern(4096, io.offset))).toBe(true);
    }
    await finish(aio, file);
  });

  it('posix_aio: one IO outside batch mode is one aio_read, and syncs go through aio_fsync', async () => {
    const path = patternFile(dir, 'single.bin', 8192);
    const aio = context();
    const file = aio.open(path, { read: true, write: true });
    expect(await file.write(Buffer.from('hello'), 4096)).toBe(5);
    await file.sync();
    await file.datasync();
    const stats = methodStats(aio);
    expect(stats.singleCalls).toBe(1);
    expect(stats.aioFsyncCalls).toBe(2);
    expect(aio.stats().fallbacks).toBe(0);
    expect(fs.readFileSync(path).subarray(4096, 4101).toString()).toBe('hello');
    await finish(aio, file);
  });
});
