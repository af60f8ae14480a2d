/**
 * What the io_uring tests share: a scratch directory on ext4 (/tmp, where
 * O_DIRECT is real), the method under test or the reason it cannot run,
 * and a runner for scripts in child processes (liveness and exit tests).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aio, type AioOptions } from '@aio/core';
import { ioUring, loadBinding, probe, type IoUringBinding, type IoUringOptions } from '../src/index.js';

export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Why io_uring cannot run here (printed, so a skipped file says why), or undefined when it can. */
export function skipReason(options?: IoUringOptions): string | undefined {
  const result = probe(options);
  if (result.available) return undefined;
  const reason = `io_uring unavailable${options === undefined ? '' : ` with ${JSON.stringify(options)}`}: ${result.reason}`;
  console.warn(`skipped: ${reason}`);
  return reason;
}

/** The file operations, and the io_uring opcode each needs (IORING_OP_FTRUNCATE: Linux 6.9). */
export const FILE_OPS = { stat: 'statx', truncate: 'ftruncate', allocate: 'fallocate' } as const;

/**
 * Why the ring cannot run file operation `op` here, or undefined: io_uring
 * missing, the kernel's opcode missing, or the shared native kit
 * (tooling/native/src/io.c) not decoding the op, which then runs through
 * the core's synchronous path (counted as `invalid` by the addon).
 */
export async function fileOpSkipReason(op: keyof typeof FILE_OPS): Promise<string | undefined> {
  const unavailable = skipReason();
  if (unavailable !== undefined) return unavailable;
  const gap = await ringFileOpGap(op);
  if (gap !== undefined) console.warn(`skipped: ${gap}`);
  return gap;
}

async function ringFileOpGap(op: keyof typeof FILE_OPS): Promise<string | undefined> {
  const opcodes = String(probe().details?.opcodes ?? '').split(',');
  if (!opcodes.includes(FILE_OPS[op])) return `this kernel's io_uring has no ${FILE_OPS[op]} opcode`;
  const aio = new Aio({ method: ioUring() });
  try {
    const dir = scratchDir();
    const file = aio.open(path.join(dir, 'kit-check'), { read: true, write: true, create: true });
    await file.stat();
    await file.close();
    fs.rmSync(dir, { recursive: true, force: true });
    if (aio.stats().methodStats.invalid > 0) return 'the shared native kit (tooling/native/src/io.c) does not decode the file operations yet';
    return undefined;
  } finally {
    await aio.close();
  }
}

/** The addon itself, for tests that call it directly. */
export function binding(): IoUringBinding {
  const loaded = loadBinding();
  if ('reason' in loaded) throw new Error(loaded.reason);
  return loaded.binding;
}

/** A context on the io_uring method; closed by `closeAll`. */
const open: Aio[] = [];
export function newAio(options?: IoUringOptions, aioOptions: Omit<AioOptions, 'method'> = {}): Aio {
  const aio = new Aio({ ...aioOptions, method: ioUring(options) });
  open.push(aio);
  return aio;
}

export async function closeAll(): Promise<void> {
  for (const aio of open.splice(0)) await aio.close();
}

/** A fresh scratch directory under /tmp (ext4 here, so O_DIRECT is real). */
export function scratchDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'aio-io-uring-'));
}

/** A file of `size` bytes where byte i is (i * 7 + seed) & 0xff. */
export function patternFile(dir: string, size: number, seed = 1, name = `f-${size}-${seed}`): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, pattern(size, seed));
  return file;
}

export function pattern(size: number, seed = 1, start = 0): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = ((start + i) * 7 + seed) & 0xff;
  return buffer;
}

export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

export interface ScriptResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs an ES module `source` in a child node from the package folder (so it
 * imports '@aio/core' and '@aio/io-uring' like a user would), with a timeout.
 */
export function runScript(source: string, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; wrap?: string[] } = {}): ScriptResult {
  const started = Date.now();
  const command = options.wrap ?? [];
  const args = [...command.slice(1), process.execPath, '--input-type=module', '-e', source];
  const result = spawnSync(command[0] ?? args.shift()!, args, {
    cwd: packageDir,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 20_000,
    env: { ...process.env, ...options.env },
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr, ms: Date.now() - started };
}

/** Compiles a small C program into `dir`; returns its path or undefined when there is no compiler. */
export function compileC(dir: string, name: string, source: string): string | undefined {
  const src = path.join(dir, `${name}.c`);
  const out = path.join(dir, name);
  fs.writeFileSync(src, source);
  try {
    execFileSync(process.env.CC ?? 'cc', ['-O1', '-o', out, src], { stdio: 'pipe' });
    return out;
  } catch {
    return undefined;
  }
}
