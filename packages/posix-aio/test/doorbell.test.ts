import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { context, fifo, finish, methodStats, pattern, patternFile, scratchDir, sleep, unavailable } from './helpers.js';
import type { PosixAioDoorbell } from '../src/index.js';

const skip = unavailable();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const MODES: readonly PosixAioDoorbell[] = ['cancel', 'pipe', 'timeout'];
const MODE_CODE: Record<PosixAioDoorbell, number> = { cancel: 0, pipe: 1, timeout: 2 };

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`${what} did not complete within ${ms} ms`)))]);
}

describe.skipIf(skip !== undefined)('the doorbell', () => {
  for (const mode of MODES) {
    it(`posix_aio: with the ${mode} doorbell, an IO submitted while the reaper sleeps on a slow one completes first`, async () => {
      const path = patternFile(dir, `${mode}.bin`, 8192);
      const pipe = fifo(dir, `fifo-${mode}`);
      const aio = context({ doorbell: mode, lanes: 1 });
      expect(methodStats(aio).doorbellMode).toBe(process.platform === 'linux' ? MODE_CODE[mode] : methodStats(aio).doorbellMode);
      const slowFile = aio.fromFd(pipe.fd, { read: true });
      const slow = slowFile.read(Buffer.alloc(16), 0); // waits in read(2) until we feed the FIFO
      await sleep(20); // the reaper is now asleep in aio_suspend on the slow read alone
      const file = aio.open(path);
      const buf = Buffer.alloc(4096);
      expect(await within(file.read(buf, 4096), 2000, 'the fast read')).toBe(4096);
      expect(buf.equals(pattern(4096, 4096))).toBe(true);
      if (mode !== 'timeout') expect(methodStats(aio).doorbellRings).toBeGreaterThanOrEqual(1);
      pipe.feed(16);
      expect(await within(slow, 2000, 'the FIFO read')).toBe(16);
      await finish(aio, file, slowFile);
      pipe.close();
    });
  }

  it('posix_aio: an idle reaper sleeps on its condition variable and wakes for the next IO', async () => {
    const path = patternFile(dir, 'idle.bin', 4096);
    const aio = context();
    const file = aio.open(path);
    for (let i = 0; i < 5; i++) {
      expect(await file.read(Buffer.alloc(512), 512 * i)).toBe(512);
      await sleep(5);
    }
    expect(methodStats(aio).reaperIdleWaits).toBeGreaterThanOrEqual(5);
    await finish(aio, file);
  });
});
