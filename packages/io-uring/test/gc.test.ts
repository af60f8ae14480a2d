import * as fs from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { Aio } from '@aio/core';
import { ioUring } from '../src/index.js';
import { openFdCount, patternFile, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const gc = (globalThis as { gc?: () => void }).gc;

describe.skipIf(skip !== undefined || gc === undefined)('io_uring and the garbage collector', () => {
  it('io_uring: an idle context dropped without close() is collected and its ring and eventfd freed', async () => {
    const path = patternFile(dir, 4096);
    const fd = fs.openSync(path, 'r');
    const before = openFdCount();
    await (async () => {
      const aio = new Aio({ method: ioUring() });
      expect(await aio.fromFd(fd, { read: true }).read(Buffer.alloc(4096), 0)).toBe(4096);
      expect(openFdCount()).toBe(before + 2); // the ring and its eventfd
    })();
    for (let i = 0; i < 20 && openFdCount() > before; i++) {
      gc?.();
      await nextTurn();
    }
    expect(openFdCount()).toBe(before);
    fs.closeSync(fd);
  });
});
