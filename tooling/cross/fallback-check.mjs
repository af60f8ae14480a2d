// The selector's fallback on a Linux where io_uring is missing: run in the
// arm64 Node under qemu-user, whose emulated kernel answers io_uring_setup
// with ENOSYS.  The io_uring addon must load (it is the arm64 build) and its
// probe must say why it cannot run; the selector must then choose posix_aio,
// the next method in the order that works on Linux, and that method must
// move bytes.  Exits 1 with the reason when any of that does not hold.
//
//   AIO_ADDON_PLATFORM=linux-arm64-gnu NODE_OPTIONS=--require=tooling/cross/preload.cjs \
//     tooling/cross/bin/node-arm64 tooling/cross/fallback-check.mjs
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { chooseMethod, createAio, describeChoice } = await import(new URL('../../packages/auto/dist/index.js', import.meta.url).href);

const choice = await chooseMethod();
console.log(describeChoice(choice));
const uring = choice.skipped.find((method) => method.name === 'io_uring');
assert.ok(uring, 'io_uring was not passed over: is this really qemu-user?');
// "ENOSYS" proves the arm64 addon loaded and its ring setup was refused; a
// load failure ("addon failed to load") would mean the fallback was never tested.
assert.match(uring.reason, /ENOSYS/, `io_uring was skipped for another reason than ENOSYS: ${uring.reason}`);
assert.equal(choice.name, 'posix_aio', `the selector chose ${choice.name}, not posix_aio`);

const dir = mkdtempSync(join(tmpdir(), 'aio-fallback-'));
const aio = await createAio();
try {
  const file = aio.open(join(dir, 'data'), { read: true, write: true, create: true });
  const written = Buffer.from(`written by ${aio.methodName} on ${process.arch}`);
  await file.writeFully(written, 0);
  const read = Buffer.alloc(written.length);
  await file.readFully(read, 0);
  assert.deepEqual(read, written);
  await file.close();
  console.log(`fallback: ${aio.methodName} on ${process.arch} wrote and read back ${written.length} bytes`);
} finally {
  await aio.close();
  rmSync(dir, { recursive: true, force: true });
}
