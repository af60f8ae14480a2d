/**
 * The workload `test:memcheck` runs under AddressSanitizer: every native
 * path of the threadpool addon, with results checked, so that a
 * use-after-free, an overflow or a leak in the addon shows up as a
 * sanitizer report.  It is a plain Node script (no test runner), because the
 * sanitizer runtime has to be preloaded into the process that loads the
 * addon; run it through scripts/memcheck.mjs.
 *
 * Modes (argv[2]): `main` (default) runs everything; the other modes are
 * the child processes and worker threads it starts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Aio, AioReturn, AioWaitRef, AioAbortError, syncMethod } from '@aio/core';
import { threadpool, poolInfo, loadBinding } from '@aio/threadpool';
import { pauseWorkers, resumeWorkers } from '@aio/threadpool/testing';

const self = new URL(import.meta.url);
const mode = process.argv[2] ?? 'main';
const dir = process.argv[3] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'aio-threadpool-memcheck-'));

function pattern(size, seed = 1) {
  const bytes = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

function step(name) {
  if (mode === 'main') console.log(`memcheck: ${name}`);
}

/** Random reads, writes, readv/writev with many buffers, syncs; checked against the sync method. */
async function mixedIo(seed) {
  const file = path.join(dir, `mixed-${seed}-${process.pid}`);
  fs.writeFileSync(file, pattern(1 << 20, seed));
  const aio = new Aio({ method: threadpool(), maxConcurrency: 32 });
  const oracle = new Aio({ method: syncMethod() });
  const a = aio.open(file, { read: true, write: true });
  const b = oracle.open(`${file}`, { read: true });
  let x = seed;
  const rand = (n) => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const pending = [];
  for (let i = 0; i < 2000; i++) {
    const offset = rand(1 << 20);
    const kind = rand(6);
    if (kind === 0) pending.push(a.write(pattern(1 + rand(8192), i), offset));
    else if (kind === 1) pending.push(a.writev(Array.from({ length: 1 + rand(9) }, (_, k) => pattern(1 + rand(700), i + k)), offset));
    else if (kind === 2) pending.push(a.readv(Array.from({ length: 1 + rand(9) }, () => Buffer.alloc(1 + rand(700))), offset));
    else if (kind === 3 && rand(20) === 0) pending.push(a.datasync());
    else pending.push(a.read(Buffer.alloc(1 + rand(8192)), offset));
    if (pending.length >= 48) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const mine = Buffer.alloc(1 << 20);
  const theirs = Buffer.alloc(1 << 20);
  assert.equal(await a.read(mine, 0), 1 << 20);
  assert.equal(await b.read(theirs, 0), 1 << 20);
  assert.ok(mine.equals(theirs), 'the threadpool and the sync method read the same bytes');
  await a.close();
  await b.close();
  await aio.close();
  await oracle.close();
}

/** The handle API: batch mode, waitSync, synchronous and references-local IO, a full queue, cancel. */
async function handles() {
  const file = path.join(dir, `handles-${process.pid}`);
  const content = pattern(256 * 1024, 7);
  fs.writeFileSync(file, content);
  const aio = new Aio({ method: threadpool({ queueSize: 8 }), maxConcurrency: 64 });
  const f = aio.open(file, { read: true, write: true });
  const rets = Array.from({ length: 48 }, () => new AioReturn());
  const refs = Array.from({ length: 48 }, () => new AioWaitRef());
  const bufs = Array.from({ length: 48 }, () => Buffer.alloc(4096));
  pauseWorkers();
  try {
    aio.batch(() => {
      for (let i = 0; i < 48; i++) {
        const h = aio.acquire(rets[i]);
        h.getWaitRef(refs[i]);
        if (i % 7 === 3) h.setFlag('references-local');
        h.startRead(f, bufs[i], i * 4096);
      }
    });
  } finally {
    resumeWorkers();
  }
  for (const ref of refs) ref.waitSync();
  rets.forEach((ret, i) => {
    assert.equal(ret.result.result, 4096);
    assert.ok(bufs[i].equals(content.subarray(i * 4096, (i + 1) * 4096)));
  });
  assert.ok(aio.stats().methodStats.ranInSubmit > 0, 'the full queue was exercised');
  // Cancel a queued write (it must never happen) and let a read through.
  const controller = new AbortController();
  pauseWorkers();
  const write = f.write(Buffer.alloc(4096, 0xee), 0, { signal: controller.signal });
  const read = f.read(Buffer.alloc(4096), 4096);
  controller.abort();
  resumeWorkers();
  await assert.rejects(write, AioAbortError);
  assert.equal(await read, 4096);
  f.closeSync();
  aio.closeSync();
}

/** The addon called directly with bad input. */
function misuse() {
  const { binding } = loadBinding();
  const words = new Float64Array(320);
  const context = binding.create({ maxConcurrency: 2 }, words, new Int32Array(6), () => {});
  for (const bad of [[0, 0], [1, 5], [1, 0, 1, 0, 0, -1], [2, 0, 1, 0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 0, 0, 99, 0, 1]]) {
    words.fill(0, 0, 10);
    words.set(bad);
    binding.submit(context, 1, [Buffer.alloc(16)]);
    assert.equal(words[9], 1);
  }
  assert.throws(() => binding.submit({}, 1, []));
  assert.equal(binding.wait(context, 1, 99), 0);
  binding.close(context);
  assert.throws(() => binding.poll(context), /closed/);
}

/** A worker_thread doing IO; `teardown` ends it with IO queued and the context open. */
async function workerBody(kind) {
  const file = path.join(dir, `worker-${kind}-${process.pid}-${Math.random()}`);
  fs.writeFileSync(file, pattern(64 * 1024, 3));
  const aio = new Aio({ method: threadpool() });
  const f = aio.open(file, { read: true, write: true });
  if (kind === 'teardown') {
    for (let i = 0; i < 16; i++) f.write(Buffer.alloc(4096, i), i * 4096);
    process.exit(0); // the environment's cleanup hook waits for the writes
  }
  const reads = await Promise.all(Array.from({ length: 300 }, (_, i) => f.read(Buffer.alloc(200), (i * 200) % 65536)));
  assert.ok(reads.every((n) => n === 200));
  if (kind === 'open') return; // leave the context open: the environment's cleanup closes it
  await f.close();
  await aio.close();
}

async function workers() {
  const start = (kind) => new Worker(self, { argv: ['worker', dir, kind] });
  const four = ['closed', 'open', 'closed', 'open'].map(start);
  const terminated = start('open');
  setTimeout(() => terminated.terminate(), 5);
  const teardown = start('teardown');
  const results = await Promise.all([...four, terminated, teardown].map((w) => once(w, 'exit')));
  assert.deepEqual(results.slice(0, 4).map(([code]) => code), [0, 0, 0, 0]);
}

/** Child processes: exit paths the main process cannot take itself. */
function children() {
  for (const kind of ['exit-in-flight', 'unclosed', 'workers-alone']) {
    const child = spawnSync(process.execPath, [self.pathname, kind, dir], { encoding: 'utf8', env: process.env });
    if (child.status !== 0) {
      process.stderr.write(child.stderr);
      throw new Error(`child ${kind} exited with ${child.status ?? child.signal}`);
    }
  }
}

async function childExitInFlight() {
  const file = path.join(dir, `exit-${process.pid}`);
  fs.writeFileSync(file, pattern(1 << 20));
  const aio = new Aio({ method: threadpool() });
  const f = aio.open(file);
  for (let i = 0; i < 64; i++) f.read(Buffer.alloc(16384), i * 16384);
  process.exit(0);
}

async function childUnclosed() {
  const file = path.join(dir, `unclosed-${process.pid}`);
  fs.writeFileSync(file, pattern(8192));
  const aio = new Aio({ method: threadpool() });
  const f = aio.open(file);
  assert.equal(await f.read(Buffer.alloc(8192), 0), 8192);
  f.read(Buffer.alloc(8192), 0); // still in flight when the script ends: the loop waits for it
}

async function childWorkersAlone() {
  for (let round = 0; round < 3; round++) {
    const worker = new Worker(self, { argv: ['worker', dir, 'open'] });
    const [code] = await once(worker, 'exit');
    assert.equal(code, 0);
  }
}

/**
 * Contexts dropped without close(), idle: the GC collects them and the kit's
 * finalizer closes them (unregisters from the pool, frees the queue and the
 * slots), which is the path a forgetful program takes.
 */
async function dropped() {
  const { binding } = loadBinding();
  const before = binding.liveContexts();
  const file = path.join(dir, 'dropped');
  fs.writeFileSync(file, pattern(8192));
  for (let i = 0; i < 8; i++) {
    const aio = new Aio({ method: threadpool() });
    assert.equal(await aio.open(file).read(Buffer.alloc(8192), 0), 8192);
  }
  // Contexts closed earlier but not yet collected may go too: at most `before` remain.
  for (let round = 0; round < 50 && binding.liveContexts() > before; round++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(binding.liveContexts() <= before, `dropped idle contexts were collected and freed (${binding.liveContexts()} > ${before})`);
}

/** The addon this process really loaded (Linux): the ASan build, not a release build by mistake. */
function loadedAddon() {
  loadBinding();
  const line = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => l.includes('aio_threadpool') && l.includes('.node'));
  return line?.slice(line.indexOf('/')) ?? 'none';
}

async function main() {
  const addon = loadedAddon();
  step(`addon ${addon}`);
  if (!addon.includes('asan') && process.env.AIO_THREADPOOL_ADDON === undefined) throw new Error(`not the ASan build: ${addon}`);
  step('mixed IO against the sync method');
  await Promise.all([mixedIo(1), mixedIo(2)]);
  step('handles, batch mode, a full queue, cancel');
  await handles();
  step('the addon with bad input');
  misuse();
  step('contexts dropped without close(), collected by the GC');
  await dropped();
  step('worker_threads: four at once, one terminated, one exiting with IO queued');
  await workers();
  step('child processes: process.exit with IO in flight, an unclosed context, workers loading the addon alone');
  children();
  step(`done; pool ${JSON.stringify(poolInfo())}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

const modes = {
  main,
  worker: () => workerBody(process.argv[4]),
  'exit-in-flight': childExitInFlight,
  unclosed: childUnclosed,
  'workers-alone': childWorkersAlone,
};
await modes[mode]();
