import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { AioReturn, AioWaitRef } from '@aio/core';
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

  it('posix_aio: an IO whose buffer no longer matches its description is sent back and reported by the sync path', async () => {
    const path = patternFile(dir, 'detached.bin', 4096);
    const aio = context();
    const file = aio.open(path);
    const ab = new ArrayBuffer(4096);
    const view = new Uint8Array(ab);
    // The core checked the length when the IO was defined; transferring the
    // buffer afterwards detaches it, which the addon must notice.
    const ret = new AioReturn();
    const ref = new AioWaitRef();
    aio.batch(() => {
      const handle = aio.acquire(ret);
      handle.getWaitRef(ref);
      handle.startRead(file, view, 0);
      structuredClone(ab, { transfer: [ab] });
    });
    await ref.wait();
    expect(ret.result.status).not.toBe('unknown');
    expect(methodStats(aio).unsupported).toBe(1);
    await finish(aio, file);
  });
});
