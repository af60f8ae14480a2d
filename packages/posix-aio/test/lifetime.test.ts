import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { patternFile, scratchDir, unavailable } from './helpers.js';

const skip = unavailable();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const exitScript = fileURLToPath(new URL('./fixtures/exit-in-flight.mjs', import.meta.url));

function node(args: string[], input?: string) {
  return spawnSync(process.execPath, args, { cwd: fileURLToPath(new URL('..', import.meta.url)), input, encoding: 'utf8', timeout: 20_000 });
}

describe.skipIf(skip !== undefined)('exit and teardown', () => {
  const path = patternFile(dir, 'exit.bin', 64 * 65536);

  for (const how of ['exit', 'worker-exit', 'worker-terminate']) {
    it(`posix_aio: ${how} with a thousand IOs in flight does not crash`, () => {
      const result = node([exitScript, how, path]);
      expect(result.signal, result.stderr).toBeNull();
      expect(result.status, result.stderr).toBe(0);
      if (how !== 'exit') expect(result.stdout).toMatch(/main still fine: true/);
    });
  }

  it('posix_aio: an uncaught exception with IO in flight exits with the error, not a crash', () => {
    const result = node([exitScript, 'throw', path]);
    expect(result.signal).toBeNull();
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/uncaught, with IO in flight/);
  });

  it('posix_aio: an idle context does not keep the process alive, and top-level await on a read does', () => {
    const script = `
      import { Aio } from '@aio/core';
      import { posixAio } from '@aio/posix-aio';
      const aio = new Aio({ method: posixAio() });
      const file = aio.open(${JSON.stringify(join(dir, 'exit.bin'))});
      const buf = Buffer.alloc(4096);
      console.log('read', await file.read(buf, 65536));
      // Never closed: the idle context must not hold the event loop.
    `;
    const started = Date.now();
    const result = node(['--input-type=module', '-'], script);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/read 4096/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
