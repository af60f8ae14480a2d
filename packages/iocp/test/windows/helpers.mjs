// Shared by the Windows-side tests of @aio/iocp.  They are node:test files
// that only mean something inside the Windows node.exe; tooling/windows/
// test-windows.sh runs them there (under Wine in this project's CI).  On
// any other platform every test skips with the reason.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Aio } from '@aio/core';
import { iocp, loadBinding, probe } from '../../dist/index.js';

const probed = probe();

/** Why the tests cannot run here, or undefined on Windows with a working method. */
export const skipReason =
  process.platform !== 'win32'
    ? `the iocp method needs Windows (this is ${process.platform}); run pnpm test:windows`
    : probed.available
      ? undefined
      : `the iocp method is unavailable: ${probed.reason}`;

/** Whether this runs under Wine (the probe reads Wine's version from ntdll). */
export const underWine = typeof probed.details?.wine === 'string';

/** The addon itself, for the tests that look below the core. */
export function binding() {
  const addon = loadBinding();
  if (!('binding' in addon)) throw new Error(addon.reason);
  return addon.binding;
}

/** A temporary directory and the contexts a test opens; `dispose()` closes and removes them. */
export function fixture() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-iocp-'));
  const contexts = [];
  return {
    dir,
    file: (name) => path.join(dir, name),
    aio(options = {}, methodOptions = undefined) {
      const aio = new Aio({ ...options, method: iocp(methodOptions) });
      contexts.push(aio);
      return aio;
    },
    async dispose() {
      for (const aio of contexts) if (!aio.closed) await aio.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `body` with a fresh fixture and disposes of it afterwards, whatever happens. */
export async function withFixture(body) {
  const fx = fixture();
  try {
    return await body(fx);
  } finally {
    await fx.dispose();
  }
}

/** `length` bytes that depend on `seed`. */
export function pattern(length, seed) {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return bytes;
}
