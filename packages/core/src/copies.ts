/**
 * Two copies of @aio/core in one program.
 *
 * The backends, @aio/auto and @aio/fs take @aio/core as a peer, so a normal
 * install has one copy.  A second copy still happens (a dependency that pins
 * another version, a bundled copy, a workspace link next to an installed
 * one), and then an object made by one copy reaches the other: an AioReturn
 * the program made with its own import, given to an Aio that @aio/auto's copy
 * created.  `instanceof` says no across copies, with the baffling message
 * "needs an AioReturn, got an instance of AioReturn".
 *
 * So, in this file:
 * - Each copy registers itself in a registry on `globalThis`, keyed by
 *   `Symbol.for('@aio/core.copies')` (the same key for every copy of every
 *   version): its version, its folder, and a function returning its classes.
 *   The second copy to register emits one warning (code AIO_CORE_DUPLICATE)
 *   naming both.  `globalThis` is per thread, so a worker_thread's own copy
 *   is not a duplicate.
 * - The `is...` checks try `instanceof` with this copy's class first, then
 *   with the same class of every registered copy.  AioReturn and AioResult
 *   are plain data with public fields, so one of another copy is accepted.
 *   AioFile, AioWaitRef and AlignedPagePool hold state only their own copy
 *   can reach, so one of another copy is a usage error naming both copies
 *   instead of a failure deep inside.
 * - The classes are reached through a function, only when a check runs,
 *   never while the modules are evaluated: this file is imported from
 *   modules that are part of import cycles (handle.ts), where a class may not
 *   be defined yet when this file's body runs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AioUsageError } from './errors.js';
import { AioFile } from './file.js';
import { AioWaitRef } from './handle.js';
import { AlignedPagePool } from './page-pool.js';
import { AioResult, AioReturn } from './result.js';

/** The registry key on globalThis. */
export const AIO_COPIES = Symbol.for('@aio/core.copies');

/** The classes whose objects cross package boundaries, by name. */
export type AioBrandName = 'AioReturn' | 'AioResult' | 'AioFile' | 'AioWaitRef' | 'AlignedPagePool';

/** One loaded copy of @aio/core. */
export interface AioCoreCopy {
  readonly version: string;
  /** The package folder of the copy. */
  readonly path: string;
}

/** Any class. */
type AnyClass = abstract new (...args: never[]) => unknown;

/** A registry entry: a copy and how to reach its classes. */
interface RegisteredCopy extends AioCoreCopy {
  readonly classes: () => Readonly<Record<AioBrandName, AnyClass>>;
}

const self: RegisteredCopy = {
  version: ownVersion(),
  path: fileURLToPath(new URL('..', import.meta.url)).replace(/[\\/]$/, ''),
  classes: () => ({ AioReturn, AioResult, AioFile, AioWaitRef, AlignedPagePool }),
};

/** Which of the crossing classes `value` is an instance of, in this or any registered copy; undefined for anything else. */
export function aioBrandOf(value: unknown): AioBrandName | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  for (const copy of [self, ...registry().filter((other) => other !== self)]) {
    for (const [name, ctor] of Object.entries(copy.classes())) {
      // A class still undefined (a check from inside an import cycle, before its module ran) matches nothing.
      if (typeof ctor === 'function' && value instanceof ctor) return name as AioBrandName;
    }
  }
  return undefined;
}

/** Whether `value` is an AioReturn of this or another copy (its fields are public, so either works). */
export function isAioReturn(value: unknown): value is AioReturn {
  return value instanceof AioReturn || aioBrandOf(value) === 'AioReturn';
}

/** Whether `value` is an AioResult of this or another copy (plain data, so either works). */
export function isAioResult(value: unknown): value is AioResult {
  return value instanceof AioResult || aioBrandOf(value) === 'AioResult';
}

/** Whether `value` is an AioFile of this copy; one of another copy is an AioUsageError naming both. */
export function isAioFile(value: unknown): value is AioFile {
  return ownOrThrow(value, AioFile, 'AioFile');
}

/** Whether `value` is an AioWaitRef of this copy; one of another copy is an AioUsageError naming both. */
export function isAioWaitRef(value: unknown): value is AioWaitRef {
  return ownOrThrow(value, AioWaitRef, 'AioWaitRef');
}

/** Whether `value` is an AlignedPagePool of this copy; one of another copy is an AioUsageError naming both. */
export function isAlignedPagePool(value: unknown): value is AlignedPagePool {
  return ownOrThrow(value, AlignedPagePool, 'AlignedPagePool');
}

/** The copies of @aio/core loaded on this thread, this one included, in load order. */
export function aioCoreCopies(): readonly AioCoreCopy[] {
  return registry().map(({ version, path }) => ({ version, path }));
}

function ownOrThrow(value: unknown, ctor: AnyClass, brand: AioBrandName): boolean {
  if (value instanceof ctor) return true;
  if (aioBrandOf(value) !== brand) return false;
  const others = registry().filter((copy) => copy.path !== self.path);
  const where = others.length === 0 ? 'another copy' : others.map((copy) => `${copy.version} at ${copy.path}`).join(', ');
  throw new AioUsageError(
    'AIO_ERR_INVALID_TYPE',
    `this ${brand} comes from another copy of @aio/core (${where}) than the one using it (${self.version} at ${self.path}); ` +
      'a program must load one copy: run `npm ls @aio/core`, then `npm dedupe` (the @aio packages take @aio/core as a peer)',
  );
}

function registry(): RegisteredCopy[] {
  const holder = globalThis as { [AIO_COPIES]?: RegisteredCopy[] };
  return (holder[AIO_COPIES] ??= []);
}

function ownVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Registers this copy; warns once when another copy is already registered. */
function registerCopy(): void {
  const copies = registry();
  if (copies.some((copy) => copy.path === self.path)) return;
  const first = copies[0];
  copies.push(self);
  if (first === undefined) return;
  process.emitWarning(
    `two copies of @aio/core are loaded: ${first.version} at ${first.path} and ${self.version} at ${self.path}. ` +
      'Objects such as AioFile from one cannot be used with the other. Run `npm ls @aio/core`, then `npm dedupe` ' +
      '(the @aio packages take @aio/core as a peer, so one copy is enough).',
    { code: 'AIO_CORE_DUPLICATE' },
  );
}

registerCopy();
