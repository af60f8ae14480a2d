import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { batchReads, context, fifo, liveContexts, openFds, pattern, patternFile, reaperThreads, scratchDir, sleep, unavailable } from './helpers.js';

const skip = unavailable();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

declare const gc: (() => void) | undefined;

/** Collects until `done()` holds or `ms` pass; finalizers of Node-API objects and FinalizationRegistry run between turns. */
async function collectUntil(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) {
    gc?.();
    await sleep(10);
  }
  return done();
}

/**
 * Uses a context (a lane-opening burst of reads on `fd`, with its own
 * doorbell pipe) and drops it without close(); returns what it held at its
 * busiest.  Kept in its own function so that no local keeps the context alive.
 */
async function useAndDrop(fd: number, registry: FinalizationRegistry<string>): Promise<{ fds: number; reapers: number; contexts: number }> {
  const aio = context({ doorbell: 'pipe', lanes: 4 });
  const file = aio.fromFd(fd, { read: true });
  const ios = batchReads(aio, file, [0, 4096, 8192, 12288, 16384, 20480, 24576, 28672]);
  await Promise.all(ios.map((io) => io.ref.wait()));
  for (const io of ios) expect(io.ret.result.result).toBe(4096);
  registry.register(aio, 'context');
  return { fds: openFds(), reapers: reaperThreads(), contexts: liveContexts() };
}

describe.skipIf(skip !== undefined || typeof gc !== 'function')('garbage collection', () => {
  it('posix_aio: an idle context dropped without close() is collected after gc(), and its reaper thread and fds are gone', async () => {
    const path = patternFile(dir, 'dropped.bin', 65536);
    const fd = fs.openSync(path, 'r');
    await collectUntil(() => false, 50); // contexts closed earlier are freed when collected: not counted below
    const before = { fds: openFds(), reapers: reaperThreads(), contexts: liveContexts() };
    let collected = false;
    const registry = new FinalizationRegistry<string>(() => (collected = true));
    const busiest = await useAndDrop(fd, registry);
    // The context really held a reaper and fds of its own (the doorbell's pipe, the lanes).
    expect(busiest.reapers).toBe(before.reapers + 1);
    expect(busiest.fds).toBeGreaterThan(before.fds + 2);
    expect(busiest.contexts).toBe(before.contexts + 1);
    expect(await collectUntil(() => collected, 5000)).toBe(true);
    // The finalizer stopped the reaper, closed the pipe and the lanes and freed the context; the caller's fd stays open.
    const freed = () => reaperThreads() === before.reapers && openFds() === before.fds && liveContexts() === before.contexts;
    expect(await collectUntil(freed, 5000)).toBe(true);
    expect(fs.fstatSync(fd).size).toBe(65536);
    fs.closeSync(fd);
  });

  it('posix_aio: a context with an IO in flight is not collected, and the IO completes into its buffer', async () => {
    const pipe = fifo(dir, 'fifo-in-flight');
    let collected = false;
    const registry = new FinalizationRegistry<string>(() => (collected = true));
    const start = (): { read: Promise<number>; buf: Buffer } => {
      const aio = context({ lanes: 1 });
      const buf = Buffer.alloc(16);
      const read = aio.fromFd(pipe.fd, { read: true }).read(buf, 0); // waits in read(2) until we feed the FIFO
      registry.register(aio, 'context');
      return { read, buf };
    };
    const { read, buf } = start();
    await collectUntil(() => collected, 300);
    expect(collected).toBe(false);
    fs.writeSync(pipe.fd, pattern(16, 0));
    expect(await read).toBe(16);
    expect(buf.equals(pattern(16, 0))).toBe(true);
    // Idle again: now it goes.
    expect(await collectUntil(() => collected, 5000)).toBe(true);
    pipe.close();
  });
});
