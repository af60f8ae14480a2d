/**
 * Heap growth and garbage collections per million IOs on the hot path.
 *
 *   node --expose-gc scripts/heap-growth.mjs [--ios 1000000] [--api handle|promise] [--qd 32]
 *
 * Runs the reads through the handle API the way a storage engine would
 * (batch mode, one AioReturn and AioWaitRef per slot, reused), measures
 * `heapUsed` after a forced collection before and after, and counts the
 * collections V8 ran meanwhile (perf_hooks 'gc' entries, by kind).  A path
 * that allocates nothing per IO shows no growth and (almost) no
 * collections.  `--api promise` shows the convenience API for comparison:
 * it returns a Promise per IO, so it must allocate.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Aio, AioReturn, AioWaitRef, allocAligned } from '@aio/core';
import { ioUring } from '@aio/io-uring';

const { values } = parseArgs({
  options: { ios: { type: 'string', default: '1000000' }, api: { type: 'string', default: 'handle' }, qd: { type: 'string', default: '32' } },
});
const total = Number(values.ios);
const qd = Number(values.qd);
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');

const BLOCK = 4096;
const BLOCKS = 1024;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-heap-'));
const filePath = path.join(dir, 'data');
fs.writeFileSync(filePath, Buffer.alloc(BLOCK * BLOCKS, 1));

const aio = new Aio({ method: ioUring(), maxConcurrency: Math.max(64, qd) });
const file = aio.open(filePath);
// allocAligned memory cannot be detached, so the core hands it to the ring as
// it is (zero copy); a Buffer.alloc buffer would go through bounce memory.
const buffers = Array.from({ length: qd }, () => allocAligned(BLOCK));
const returns = Array.from({ length: qd }, () => new AioReturn());
const refs = Array.from({ length: qd }, () => new AioWaitRef());
let seed = 0x2545f491;
const nextBlock = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % BLOCKS;
};

/** The bench's handle loop: refill to qd in one batch, wait for the oldest, consume in order. */
async function handleLoop(count) {
  let issued = 0;
  let head = 0;
  let tail = 0;
  let inFlight = 0;
  while (issued < count || inFlight > 0) {
    if (issued < count && inFlight < qd) {
      aio.enterBatchMode();
      while (inFlight < qd && issued < count) {
        const handle = aio.acquire(returns[tail]);
        handle.getWaitRef(refs[tail]);
        handle.startRead(file, buffers[tail], nextBlock() * BLOCK);
        tail = tail + 1 === qd ? 0 : tail + 1;
        inFlight++;
        issued++;
      }
      aio.exitBatchMode();
    }
    if (!refs[head].isDone()) await refs[head].wait();
    while (inFlight > 0 && refs[head].isDone()) {
      if (returns[head].result.status !== 'ok') throw new Error(`read failed: ${returns[head].result.status}`);
      head = head + 1 === qd ? 0 : head + 1;
      inFlight--;
    }
  }
}

async function promiseLoop(count) {
  let issued = 0;
  const loop = async (buffer) => {
    while (issued < count) {
      issued++;
      await file.read(buffer, nextBlock() * BLOCK);
    }
  };
  await Promise.all(buffers.map(loop));
}

const run = values.api === 'promise' ? promiseLoop : handleLoop;
await run(50_000); // warm up: JIT, pools, the ring

const collections = { minor: 0, major: 0, incremental: 0, weakcb: 0 };
const kinds = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
let gcMs = 0;
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    collections[kinds[entry.detail?.kind ?? entry.kind] ?? 'minor']++;
    gcMs += entry.duration;
  }
});

globalThis.gc();
const before = process.memoryUsage().heapUsed;
observer.observe({ entryTypes: ['gc'] });
const started = performance.now();
await run(total);
const seconds = (performance.now() - started) / 1000;
await new Promise((resolve) => setImmediate(resolve)); // let the observer see the last entries
observer.disconnect();
const afterNoGc = process.memoryUsage().heapUsed;
globalThis.gc();
const after = process.memoryUsage().heapUsed;

const perMillion = (n) => Math.round((n * 1e6) / total);
console.log(
  JSON.stringify(
    {
      api: values.api,
      ios: total,
      qd,
      opsPerSec: Math.round(total / seconds),
      heapUsedBefore: before,
      heapUsedAfterWithoutGc: afterNoGc,
      heapUsedAfterGc: after,
      retainedBytesPerMillionIos: perMillion(after - before),
      allocatedBytesPerIoLowerBound: +((afterNoGc - before) / total).toFixed(3),
      collections,
      collectionsPerMillionIos: perMillion(collections.minor + collections.major + collections.incremental),
      gcMsTotal: +gcMs.toFixed(1),
    },
    null,
    2,
  ),
);
await file.close();
await aio.close();
fs.rmSync(dir, { recursive: true, force: true });
