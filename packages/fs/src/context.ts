/**
 * The context every FileHandle of this thread runs on.
 *
 * @aio/core wants one context per thread, never shared; this module's state
 * lives in the module instance, and a module instance belongs to one thread
 * (each worker_thread imports its own), so "one default context per module
 * instance" is exactly "one per thread".  It is created on the first open()
 * with @aio/auto's `createAio()` (the best method that works here), unless
 * the program configured another method or handed in its own context.
 */
import type { Aio } from '@aio/core';
import { createAio } from '@aio/auto';
import { invalidArgType, invalidState } from './errors.js';

/** How the default context is created; the same options as @aio/auto's `createAio()`. */
export interface AioFsConfiguration {
  /** A method name (`io_uring`, `threadpool`, `posix_aio`, `sync`, ...) or `'auto'` (the default). */
  method?: string;
  /** Handles of the context: at most this many IOs in flight (default 64, at most 1024). */
  maxConcurrency?: number;
  /** Options per method name, passed to that method's factory. */
  methodOptions?: Record<string, unknown>;
}

let configuration: AioFsConfiguration = {};
/** The context in use: created here (owned) or handed in with setContext (not owned). */
let current: { aio: Aio; owned: boolean } | null = null;
/** A creation in progress, shared by concurrent first opens. */
let creating: Promise<Aio> | null = null;
/** Open FileHandles per context, so configure() can refuse to pull a context from under them. */
const openCounts = new WeakMap<Aio, number>();

/**
 * Sets how the default context is created.  Takes effect for the next open:
 * a default context this module created and no handle uses any more is
 * closed; while handles are open on it, configure() throws ERR_INVALID_STATE
 * (close them first).  A context handed in with setContext() is left alone.
 */
export function configure(options: AioFsConfiguration): void {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'Object', options);
  if (current !== null && current.owned) {
    if ((openCounts.get(current.aio) ?? 0) > 0) {
      throw invalidState('configure() was called while FileHandles are open on the default context; close them first');
    }
    if (!current.aio.closed) current.aio.closeSync();
  }
  current = null;
  creating = null;
  configuration = { ...options };
}

/**
 * Makes `aio` the context of every later open() on this thread (or, with
 * null, goes back to a context created from the configuration).  The caller
 * keeps ownership: this module never closes a context it did not create.
 */
export function setContext(aio: Aio | null): void {
  if (current !== null && current.owned && (openCounts.get(current.aio) ?? 0) === 0 && !current.aio.closed) {
    current.aio.closeSync();
  }
  current = aio === null ? null : { aio, owned: false };
  creating = null;
}

/** The context open() uses now, created on first use. */
export function getContext(): Promise<Aio> {
  if (current !== null && !current.aio.closed) return Promise.resolve(current.aio);
  if (creating === null) {
    const promise = createOwnedContext(configuration);
    creating = promise;
    // Only this creation clears its own slot: configure() may have started another meanwhile.
    const clear = (): void => {
      if (creating === promise) creating = null;
    };
    promise.then(clear, clear);
  }
  return creating;
}

async function createOwnedContext(wanted: AioFsConfiguration): Promise<Aio> {
  const aio = await createAio(wanted as Parameters<typeof createAio>[0]);
  if (configuration !== wanted || (current !== null && !current.aio.closed)) {
    // configure() or setContext() ran while this context was being created: it is not the one to use any more.
    aio.closeSync();
    if (creating !== null) return creating;
    return current !== null && !current.aio.closed ? current.aio : createOwnedContext(configuration);
  }
  current = { aio, owned: true };
  return aio;
}

/**
 * Closes the default context if this module created it (waiting for its IO),
 * so that a test or a program that wants a clean exit can end with it.  The
 * next open() creates a new one.  FileHandles still open on it fail with
 * EBADF-like errors afterwards, so close them first.
 */
export async function closeContext(): Promise<void> {
  const closing = current;
  current = null;
  if (closing !== null && closing.owned && !closing.aio.closed) await closing.aio.close();
}

/** @internal Counts an open FileHandle on `aio`. */
export function retainContext(aio: Aio): void {
  openCounts.set(aio, (openCounts.get(aio) ?? 0) + 1);
}

/** @internal Counts a closed FileHandle on `aio`. */
export function releaseContext(aio: Aio): void {
  openCounts.set(aio, Math.max(0, (openCounts.get(aio) ?? 0) - 1));
}
