/**
 * The event loop and process exit: an idle context never keeps the process
 * alive, a context with IO in flight does (so a top-level `await` of a read
 * works), and exiting with IO in flight is clean.  Each case runs in a
 * child process.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { patternFile, runScript, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function makeFifo(name: string): string {
  const fifoPath = path.join(dir, name);
  execFileSync('mkfifo', [fifoPath]);
  return fifoPath;
}

describe.skipIf(skip !== undefined)('io_uring liveness', () => {
  it('io_uring: an idle context that was never closed does not keep the process alive', () => {
    const file = patternFile(dir, 4096);
    const run = runScript(`
      import { Aio } from '@aio/core';
      import { ioUring } from '@aio/io-uring';
      const aio = new Aio({ method: ioUring() });
      const f = aio.open(${JSON.stringify(file)});
      console.log(await f.read(Buffer.alloc(4096), 0));
    `);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe('4096');
    expect(run.ms).toBeLessThan(10_000);
  });

  it('io_uring: a top-level await of a read keeps the process alive until the read completes', () => {
    const fifo = makeFifo('tla');
    const run = runScript(`
      import * as fs from 'node:fs';
      import { Aio } from '@aio/core';
      import { ioUring } from '@aio/io-uring';
      const aio = new Aio({ method: ioUring() });
      const fd = fs.openSync(${JSON.stringify(fifo)}, fs.constants.O_RDWR);
      const f = aio.fromFd(fd, { read: true });
      // Only the in-flight read keeps the loop alive: this timer is unreferenced.
      setTimeout(() => fs.writeSync(fd, 'hello'), 300).unref();
      const buffer = Buffer.alloc(5);
      const n = await f.read(buffer, 0);
      console.log(n, buffer.toString());
    `);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe('5 hello');
  });

  it('io_uring: process.exit() with a read in flight exits cleanly', () => {
    const fifo = makeFifo('exit');
    const run = runScript(`
      import * as fs from 'node:fs';
      import { Aio } from '@aio/core';
      import { ioUring } from '@aio/io-uring';
      const aio = new Aio({ method: ioUring() });
      const f = aio.fromFd(fs.openSync(${JSON.stringify(fifo)}, fs.constants.O_RDWR), { read: true });
      f.read(Buffer.alloc(5), 0).then(() => console.log('unexpected'));
      setTimeout(() => { console.log('exiting'); process.exit(3); }, 100);
    `);
    expect(run.signal).toBeNull();
    expect(run.status).toBe(3);
    expect(run.stdout.trim()).toBe('exiting');
  });

  it('io_uring: an IO in flight whose context the program dropped still completes and is delivered', () => {
    const fifo = makeFifo('dropped');
    const run = runScript(`
      import * as fs from 'node:fs';
      import { Aio } from '@aio/core';
      import { ioUring } from '@aio/io-uring';
      const fd = fs.openSync(${JSON.stringify(fifo)}, fs.constants.O_RDWR);
      let read = (() => {
        const aio = new Aio({ method: ioUring() });
        return aio.fromFd(fd, { read: true }).read(Buffer.alloc(3), 0);
      })();
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); }
      fs.writeSync(fd, 'abc');
      console.log(await read);
    `.replace('import * as fs', 'import * as fs'), { env: { NODE_OPTIONS: '--expose-gc' } });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('3');
  });
});
