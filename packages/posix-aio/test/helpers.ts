/**
 * Shared pieces of the posix_aio tests: scratch files on ext4 (/tmp, where
 * O_DIRECT is real), a FIFO whose reads block until the test writes (the
 * only way to hold an IO in flight on purpose: glibc falls back from pread
 * to read on a pipe), and the fd census the leak checks use.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aio, AioReturn, AioWaitRef, type AioFile } from '@aio/core';
import { assertQuiescent } from '@aio/core/testing';
import { posixAio, probe, type PosixAioOptions } from '../src/index.js';

export const METHOD = 'posix_aio';

/** Why the tests cannot run here, or undefined. */
export function unavailable(): string | undefined {
  const result = probe();
  return result.available ? undefined : result.reason;
}

export function scratchDir(): string {
  return fs.mkdtempSync(join(tmpdir(), 'aio-posix-test-'));
}

/** A file of `size` bytes whose byte i is (i * 31 + 7) & 0xff. */
export function patternFile(dir: string, name: string, size: number): string {
  const path = join(dir, name);
  fs.writeFileSync(path, pattern(size, 0));
  return path;
}

export function pattern(size: number, start: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = ((start + i) * 31 + 7) & 0xff;
  return buf;
}

declare const WebAssembly: { Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer } };

/**
 * A page-aligned buffer (for O_DIRECT): WebAssembly memory starts at an OS
 * page, so its address is known to be aligned.
 */
export function aligned(size: number): Buffer {
  return Buffer.from(new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(size / 65536)) }).buffer, 0, size);
}

export function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** The name every reaper thread gives itself (shown in /proc/self/task/<tid>/comm). */
export const REAPER_THREAD_NAME = 'aio_posix_reap';

/** The reaper threads of this process, counted by name in /proc/self/task. */
export function reaperThreads(): number {
  let count = 0;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      if (fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === REAPER_THREAD_NAME) count++;
    } catch {
      // The thread ended while we looked: it is not a reaper any more.
    }
  }
  return count;
}

/** Native contexts of the addon that are not freed yet (the kit's count, over every environment). */
export function liveContexts(): number {
  const addon = createRequire(import.meta.url)('../build/Release/aio_posix_aio.node') as { liveContexts(): number };
  return addon.liveContexts();
}

/** A context on the posix_aio method. */
export function context(options?: PosixAioOptions, maxConcurrency = 64): Aio {
  return new Aio({ method: posixAio(options), maxConcurrency });
}

/** Closes a context after checking that nothing was left behind. */
export async function finish(aio: Aio, ...files: AioFile[]): Promise<void> {
  for (const file of files) await file.close();
  assertQuiescent(aio);
  await aio.close();
}

/** The method's own counters. */
export function methodStats(aio: Aio): Record<string, number> {
  return aio.stats().methodStats as Record<string, number>;
}

/** A FIFO opened read-write (so opening never blocks): reads on it wait until `feed` writes. */
export function fifo(dir: string, name = 'fifo'): { fd: number; feed: (bytes: number) => void; close: () => void } {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  const fd = fs.openSync(path, fs.constants.O_RDWR);
  return {
    fd,
    feed: (bytes) => {
      fs.writeSync(fd, Buffer.alloc(bytes, 0x5a));
    },
    close: () => fs.closeSync(fd),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One read of a batch started with the handle API. */
export interface BatchRead {
  buf: Buffer;
  ret: AioReturn;
  ref: AioWaitRef;
  offset: number;
}

/** Starts reads of `size` bytes at `offsets` in one batch (one submit call) and returns them. */
export function batchReads(aio: Aio, file: AioFile, offsets: readonly number[], size = 4096): BatchRead[] {
  const ios = offsets.map((offset) => ({ buf: Buffer.alloc(size), ret: new AioReturn(), ref: new AioWaitRef(), offset }));
  aio.batch(() => {
    for (const io of ios) {
      const handle = aio.acquire(io.ret);
      handle.getWaitRef(io.ref);
      handle.startRead(file, io.buf, io.offset);
    }
  });
  return ios;
}
