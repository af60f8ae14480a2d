import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { context, fifo, finish, scratchDir, unavailable } from './helpers.js';

const skip = unavailable();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

declare const gc: (() => void) | undefined;

describe.skipIf(skip !== undefined || typeof gc !== 'function')('buffers transferred away in flight', () => {
  // Against the raw addon this corrupts the heap: glibc's helper thread reads
  // into the transferred (and then freed) memory.  Through the core the addon
  // only ever sees memory that cannot be detached (see the core README).
  it('posix_aio: a read whose buffer is transferred away and collected while in flight ends with EFAULT, and writes no other memory', async () => {
    const pipe = fifo(dir, 'fifo-transfer');
    const aio = context({ lanes: 1 });
    const file = aio.fromFd(pipe.fd, { read: true });
    for (let round = 0; round < 50; round++) {
      let buffer: ArrayBuffer | null = new ArrayBuffer(4096);
      const read = file.read(new Uint8Array(buffer), 0); // waits in read(2) until we feed the FIFO
      structuredClone(buffer, { transfer: [buffer] }); // the clone, owner of the memory now, is garbage at once
      buffer = null;
      gc?.();
      // Fresh zeroed buffers that may take the freed memory's place.
      const others = Array.from({ length: 8 }, () => new Uint8Array(new ArrayBuffer(4096)));
      pipe.feed(4096);
      await expect(read).rejects.toMatchObject({ code: 'EFAULT' });
      expect(others.every((other) => other.every((byte) => byte === 0))).toBe(true);
    }
    await finish(aio, file);
    pipe.close();
  });
});
