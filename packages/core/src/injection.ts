/**
 * The fault-injection point, PostgreSQL's `aio-process-completion-before-shared`.
 *
 * Every completion of every method passes through the core's
 * `processCompletion`, which asks the installed injection (if any) whether
 * to rewrite the raw result before anything else sees it.  Tests use it to
 * produce short reads, EIO, EROFS or ENOSPC on any method, and so exercise
 * partial handling, callbacks and error reports without a broken disk.
 *
 * The injection is per thread (per module instance) and meant for tests only.
 */
import type { AioIoView, AioOpName } from './method.js';


/** What an injection is told about the completing IO. */
export interface AioInjectionInfo {
  readonly method: string;
  readonly op: AioOpName;
  readonly path: string | undefined;
  readonly offset: number;
  readonly length: number;
  /** The raw result the method reported. */
  readonly raw: number;
}

/** Returns the raw result to use instead, or undefined to leave it alone. */
export type AioInjection = (info: AioInjectionInfo) => number | undefined;

let installed: AioInjection | null = null;

/** Installs an injection (replacing any other), or removes it with null. */
export function setInjection(injection: AioInjection | null): void {
  installed = injection;
}

/** Whether an injection is installed; the completion path checks this first. */
export function injectionActive(): boolean {
  return installed !== null;
}

/**
 * Applies the injection to one completion.  When it shortens a read, the
 * bytes past the new length are zeroed, as PostgreSQL's test module does, so
 * a caller that ignores the short count sees zeroes, not the real data.
 */
export function applyInjection(handle: AioIoView, method: string, raw: number): number {
  if (installed === null) return raw;
  const info: AioInjectionInfo = {
    method,
    op: handle.opName,
    path: handle.file?.path,
    offset: handle.offset,
    length: handle.length,
    raw,
  };
  const replaced = installed(info);
  if (replaced === undefined || replaced === raw) return raw;
  if ((handle.op === 1 || handle.op === 2) && replaced >= 0 && replaced < Math.max(raw, 0)) {
    zeroFrom(handle, replaced);
  }
  return replaced;
}

function zeroFrom(handle: AioIoView, start: number): void {
  const views = handle.buffer !== null ? [handle.buffer] : (handle.buffers ?? []);
  let position = 0;
  let remaining = handle.buffer !== null ? handle.length : Infinity;
  for (const view of views) {
    const bytes = new Uint8Array(view.buffer, view.byteOffset, Math.min(view.byteLength, remaining));
    const from = Math.max(0, start - position);
    if (from < bytes.length) bytes.fill(0, from);
    position += bytes.length;
    remaining -= bytes.length;
  }
}
