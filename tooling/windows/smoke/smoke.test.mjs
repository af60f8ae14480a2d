// Runs inside the official Windows node.exe under Wine (tooling/windows/smoke.sh),
// never under Linux Node: it loads a win32-x64 addon.  node:test rather than
// vitest, because this must run in the Windows Node, where the workspace's
// vitest (and its Linux-only native deps) are not what is being tested.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

// smoke.sh builds the addon into the repo-local cache, outside the source tree.
const addonPath = fileURLToPath(new URL('../../../.cache/windows/smoke/smoke.node', import.meta.url));
const isWindowsNode = process.platform === 'win32';

describe('Windows smoke addon (Windows build, tested under Wine)', { skip: !isWindowsNode && 'needs the Windows node.exe: run tooling/windows/smoke.sh' }, () => {
  let addon;
  let dir;

  before(() => {
    addon = createRequire(import.meta.url)(addonPath);
    dir = mkdtempSync(path.join(tmpdir(), 'aio-smoke-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('processId() returns GetCurrentProcessId(), the pid Node reports', () => {
    assert.equal(addon.processId(), process.pid);
  });

  it('roundTrip() writes with WriteFile and reads the same bytes back with ReadFile', () => {
    // A non-ASCII name and text check the UTF-16 path and the byte counts.
    const file = path.join(dir, 'round-trip-é.txt');
    const text = 'héllo from CreateFileW ✓\n';
    assert.equal(addon.roundTrip(file, text), text);
    assert.equal(readFileSync(file, 'utf8'), text, 'Node sees what the addon wrote');
  });

  it('roundTrip() throws with the Win32 error code when CreateFileW fails', () => {
    // ERROR_PATH_NOT_FOUND (3): the parent folder does not exist.
    assert.throws(() => addon.roundTrip(path.join(dir, 'missing', 'f.txt'), 'x'), /GetLastError\(\) = 3$/);
  });

  it('four worker threads each load the addon and call it', async () => {
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.addonPath);
      parentPort.postMessage({ pid: addon.processId(), text: addon.roundTrip(workerData.file, workerData.text) });
    `;
    const runs = [0, 1, 2, 3].map((i) => {
      const workerData = { addonPath, file: path.join(dir, `worker-${i}.txt`), text: `worker ${i}` };
      const worker = new Worker(source, { eval: true, workerData });
      return new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    });
    const results = await Promise.all(runs);
    assert.deepEqual(results, [0, 1, 2, 3].map((i) => ({ pid: process.pid, text: `worker ${i}` })));
  });

  it('os.tmpdir() is a writable Windows path and process.getuid does not exist', (t) => {
    t.diagnostic(`os.tmpdir() = ${tmpdir()}`);
    assert.match(tmpdir(), /^[A-Za-z]:\\/);
    assert.equal(typeof process.getuid, 'undefined');
    const file = path.join(dir, 'plain-fs.txt');
    writeFileSync(file, 'written by node:fs');
    assert.equal(readFileSync(file, 'utf8'), 'written by node:fs');
  });
});
