// The workload the memcheck runs under AddressSanitizer (the asan build of
// the addon, AIO_NATIVE_VARIANT=asan): every native path of the method at
// least once, checked for right answers, and then an exit with IO in flight
// so the environment cleanup hook runs too.  Exits 0 if every check passed.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { Aio } from '@aio/core';
import { posixAio } from '@aio/posix-aio';

const check = (ok, what) => {
  if (!ok) throw new Error(`memcheck workload: ${what}`);
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pattern = (size, start) => Buffer.from(Array.from({ length: size }, (_, i) => ((start + i) * 31 + 7) & 0xff));

/** Random reads, writes, readv/writev and syncs on one file, checked against a model. */
async function mixed(dir, options, rounds) {
  const aio = new Aio({ method: posixAio(options), maxConcurrency: 32 });
  const path = join(dir, `mixed-${options.doorbell ?? 'default'}-${Math.random()}.bin`);
  const file = aio.open(path, { read: true, write: true, create: true, truncate: true });
  const size = 128 * 1024;
  const model = Buffer.alloc(size);
  await file.write(model, 0);
  let seed = 7;
  const random = (n) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  for (let round = 0; round < rounds; round++) {
    const ios = [];
    for (let i = 0; i < 16; i++) {
      const offset = i * (size / 16) + random(size / 16 - 3000);
      const length = 1 + random(3000);
      const kind = random(5);
      if (kind === 0) {
        const data = Buffer.alloc(length, random(256));
        data.copy(model, offset);
        ios.push(file.write(data, offset));
      } else if (kind === 1) {
        const data = Buffer.alloc(length, random(256));
        data.copy(model, offset);
        ios.push(file.writev([data.subarray(0, 1), data.subarray(1, length >> 1), data.subarray(length >> 1)], offset));
      } else if (kind === 2) {
        const bufs = [Buffer.alloc(length >> 1), Buffer.alloc(length - (length >> 1))];
        ios.push(file.readv(bufs, offset).then((n) => check(Buffer.concat(bufs).subarray(0, n).equals(model.subarray(offset, offset + n)), 'readv data')));
      } else {
        const buf = Buffer.alloc(length);
        ios.push(file.read(buf, offset).then((n) => check(buf.subarray(0, n).equals(model.subarray(offset, offset + n)), 'read data')));
      }
    }
    if (round % 8 === 0) ios.push(file.datasync(), file.sync());
    await Promise.all(ios);
  }
  check(aio.stats().methodStats.iosCompleted === aio.stats().methodStats.iosAccepted, 'every accepted IO completed');
  await file.close();
  await aio.close();
}

/** Table full, too many buffers, a shrunk buffer: every send-back path. */
async function fallbacks(dir) {
  const path = join(dir, 'fallbacks.bin');
  fs.writeFileSync(path, pattern(65536, 0));
  const aio = new Aio({ method: posixAio({ tableSize: 3, maxVectored: 2 }) });
  const file = aio.open(path);
  const reads = [];
  aio.batch(() => {
    for (let i = 0; i < 12; i++) reads.push(file.read(Buffer.alloc(4096), i * 4096));
    reads.push(file.readv([Buffer.alloc(10), Buffer.alloc(10), Buffer.alloc(10)], 0));
  });
  const counts = await Promise.all(reads);
  check(counts.slice(0, 12).every((n) => n === 4096) && counts[12] === 30, 'fallback results');
  check(aio.stats().fallbacks >= 10, 'fallbacks counted');
  await file.close();
  await aio.close();
}

/**
 * A context with one lane and a file on a new FIFO, opened read-write so that
 * opening does not block: a read on it waits in read(2) until we write.
 */
function fifoContext(dir, name) {
  const fifoPath = join(dir, name);
  execFileSync('mkfifo', [fifoPath]);
  const fd = fs.openSync(fifoPath, fs.constants.O_RDWR);
  const aio = new Aio({ method: posixAio({ lanes: 1 }) });
  return { fd, aio, file: aio.fromFd(fd, { read: true }) };
}

/** Cancel a queued IO and try to cancel a running one, on a FIFO. */
async function cancellation(dir) {
  const { fd, aio, file } = fifoContext(dir, 'fifo');
  const running = new AbortController();
  const first = file.read(Buffer.alloc(4), 0, { signal: running.signal });
  await sleep(20);
  const queued = new AbortController();
  const second = file.read(Buffer.alloc(4), 0, { signal: queued.signal });
  queued.abort();
  running.abort();
  const outcome = await second.then(() => 'resolved', (e) => e.name);
  check(outcome === 'AbortError', `queued IO cancelled (${outcome})`);
  fs.writeSync(fd, Buffer.alloc(4, 1));
  check((await first) === 4, 'running IO completed');
  await file.close();
  await aio.close();
  fs.closeSync(fd);
}

/** Lanes under concurrency, an fd closed behind the library, and its number reused. */
async function lanes(dir) {
  const path = join(dir, 'lanes.bin');
  fs.writeFileSync(path, pattern(64 * 4096, 0));
  const aio = new Aio({ method: posixAio({ lanes: 4 }) });
  const fd = fs.openSync(path, 'r');
  const file = aio.fromFd(fd, { read: true });
  const burst = () => {
    const reads = [];
    aio.batch(() => {
      for (let i = 0; i < 32; i++) reads.push(file.read(Buffer.alloc(4096), i * 4096).catch((e) => e.code));
    });
    return Promise.all(reads);
  };
  check((await burst()).every((n) => n === 4096), 'lane reads');
  fs.closeSync(fd);
  check((await burst()).every((r) => r === 'EBADF'), 'EBADF after closing behind');
  const again = aio.fromFd(fs.openSync(path, 'r'), { read: true, ownsFd: true });
  await again.read(Buffer.alloc(4096), 0);
  await again.close();
  await file.close();
  await aio.close();
}

/** The addon with garbage input. */
function garbage() {
  const binding = createRequire(import.meta.url)('../build/asan/aio_posix_aio.node');
  const words = new Float64Array(320);
  const context = binding.create({ maxConcurrency: 4 }, words, new Int32Array(12), () => {});
  words.set([1, 0, 1, 0, 0, 0, 1 << 20, 0, 1, -1, 4, 1, 1, 0, 0, 0, 16, 0, 9, -1, 99, 2, 1, 0, 0, 0, 0, 0, 0, -1]);
  binding.submit(context, 3, [Buffer.alloc(16)]);
  check(binding.wait(context, 1, 1) === 0 && binding.cancel(context, 2, 1) === 1, 'unknown IOs');
  binding.close(context);
  for (const bad of [() => binding.submit(context, 1, []), () => binding.create({ maxConcurrency: 1e9 }), () => binding.stats(null)]) {
    try {
      bad();
      check(false, 'garbage accepted');
    } catch (error) {
      check(typeof error.code === 'string', 'garbage error has a code');
    }
  }
}

/** A context dropped without close(): collected, and the finalizer frees everything (ASan sees any leak). */
async function dropped(dir) {
  const binding = createRequire(import.meta.url)('../build/asan/aio_posix_aio.node');
  // Contexts closed earlier live on (closed) until collected: collect them first.
  for (let i = 0; i < 5; i++) {
    globalThis.gc();
    await sleep(10);
  }
  const before = binding.liveContexts();
  let collected = false;
  const registry = new FinalizationRegistry(() => (collected = true));
  await (async () => {
    const aio = new Aio({ method: posixAio({ doorbell: 'pipe', lanes: 4 }) });
    const file = aio.open(join(dir, 'lanes.bin'));
    const reads = [];
    aio.batch(() => {
      for (let i = 0; i < 16; i++) reads.push(file.read(Buffer.alloc(4096), i * 4096));
    });
    check((await Promise.all(reads)).every((n) => n === 4096), 'reads before the drop');
    registry.register(aio, 'dropped');
  })();
  for (let i = 0; i < 500 && !(collected && binding.liveContexts() <= before); i++) {
    globalThis.gc();
    await sleep(10);
  }
  check(collected && binding.liveContexts() <= before, 'a dropped context is collected and freed');
}

/** Reads whose buffers are transferred away and collected in flight: EFAULT, nothing written elsewhere. */
async function transferred(dir) {
  const { fd, aio, file } = fifoContext(dir, 'fifo-transfer');
  for (let round = 0; round < 10; round++) {
    const view = new Uint8Array(4096);
    const read = file.read(view, 0).then(() => 'resolved', (e) => e.code);
    structuredClone(view.buffer, { transfer: [view.buffer] });
    globalThis.gc();
    fs.writeSync(fd, Buffer.alloc(4096, 0x5a));
    check((await read) === 'EFAULT', 'a read into a transferred buffer ends with EFAULT');
  }
  await file.close();
  await aio.close();
  fs.closeSync(fd);
}

/** A worker that starts IO and is terminated, and one that finishes its work. */
function workers(dir) {
  const one = (mode) =>
    new Promise((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), { workerData: { dir, mode } });
      worker.on('message', (message) => (message === 'started' ? worker.terminate() : null));
      worker.on('error', reject);
      worker.on('exit', resolve);
    });
  return Promise.all([one('terminate'), one('finish'), one('finish')]);
}

async function workerMain({ dir, mode }) {
  if (mode === 'finish') {
    await mixed(dir, { doorbell: 'cancel' }, 8);
    return;
  }
  const aio = new Aio({ method: posixAio(), maxConcurrency: 128 });
  const path = join(dir, `worker-${Math.random()}.bin`);
  fs.writeFileSync(path, Buffer.alloc(1 << 20));
  const file = aio.open(path, { read: true, write: true });
  for (let i = 0; i < 400; i++) file.write(Buffer.alloc(8192, i), (i % 128) * 8192).catch(() => {});
  parentPort.postMessage('started');
}

async function main() {
  const dir = fs.mkdtempSync(join(tmpdir(), 'aio-posix-memcheck-'));
  try {
    for (const doorbell of ['cancel', 'pipe', 'timeout']) await mixed(dir, { doorbell }, 24);
    await fallbacks(dir);
    await cancellation(dir);
    await lanes(dir);
    garbage();
    await dropped(dir);
    await transferred(dir);
    await workers(dir);
    // Leave a context with IO in flight and never close it: the cleanup hook must wait and free.
    const aio = new Aio({ method: posixAio(), maxConcurrency: 64 });
    const file = aio.open(join(dir, 'lanes.bin'));
    for (let i = 0; i < 64; i++) file.read(Buffer.alloc(4096), i * 4096).catch(() => {});
    console.log('memcheck workload: all checks passed');
  } finally {
    setTimeout(() => fs.rmSync(dir, { recursive: true, force: true }), 0).unref();
  }
}

if (isMainThread) await main();
else await workerMain(workerData);
