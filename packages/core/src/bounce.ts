/**
 * Bounce memory: where IO on detachable buffers really runs.
 *
 * The kernel (or a pool thread) writes into an IO's memory until the IO
 * completes.  A plain ArrayBuffer can be detached in the meantime
 * (`postMessage` or `structuredClone` with a transfer list) and then
 * collected; the kernel would write into freed memory.  Memory that cannot
 * be detached (our WebAssembly memory, SharedArrayBuffers; see
 * `isNonDetachable`) is handed to the method as it is, and the handle
 * references it until completion.  Every other buffer is replaced, for the
 * method, by bounce memory the context owns: copied in when a write starts,
 * copied out (the bytes transferred) when a read completes.
 *
 * Bounce buffers are WebAssembly memory from `allocAligned`, 4096-aligned,
 * so direct I/O works on them too.  They come in power-of-two size classes
 * from 4 KiB; each context keeps the ones it used on free lists (up to
 * {@link BOUNCE_CACHE_BYTES}), so a steady workload allocates nothing after
 * warm-up.  The pool belongs to one context and its thread: no locking.
 */
import { allocAligned, isKnownAligned, isNonDetachable, markNonDetachable, AIO_MAX_ALIGNMENT } from './aligned.js';
import { errnoOf } from './errors.js';
import type { AioHandle } from './handle.js';

let EFAULT: number | undefined;

/**
 * The mark of a view found to be on allocAligned memory (see
 * BouncePool#cannotDetach).  A module-private symbol in a non-enumerable
 * property: it changes no comparison or printout of the caller's view, and
 * that memory never becomes detachable, so the mark never goes stale.
 */
const SEEN: unique symbol = Symbol('aio.bounce.nonDetachable');

/** The most bytes of free bounce buffers one context keeps for reuse. */
export const BOUNCE_CACHE_BYTES = 32 * 1024 * 1024;

/** The smallest bounce buffer (one page). */
const MIN_CLASS_BYTES = 4096;
/** Above this a request is rounded to pages instead of a power of two (and not cached). */
const MAX_CLASS_BYTES = 1 << 24;

export class BouncePool {
  /** Free buffers by size class (index k holds buffers of 4096 << k bytes). */
  readonly #free: Buffer[][] = [];
  #cachedBytes = 0;
  /** Buffers handed out over the pool's life (for stats: steady state means no growth). */
  allocated = 0;

  /**
   * A buffer of at least `bytes` bytes, aligned to 4096.  Its content is
   * whatever its last user left; the caller copies in what the IO needs.
   */
  take(bytes: number): Buffer {
    const size = classBytes(bytes);
    const list = size <= MAX_CLASS_BYTES ? this.#free[classIndex(size)] : undefined;
    const buffer = list?.pop();
    if (buffer !== undefined) {
      this.#cachedBytes -= buffer.byteLength;
      return buffer;
    }
    this.allocated++;
    return allocAligned(size, AIO_MAX_ALIGNMENT);
  }

  /**
   * Takes back a buffer from {@link take} once the method is done with it
   * (its IO's completion was reported).  Beyond the cache budget the buffer
   * is dropped and its memory goes back to the system with the slab.
   */
  give(buffer: Buffer): void {
    const size = buffer.byteLength;
    if (size > MAX_CLASS_BYTES || this.#cachedBytes + size > BOUNCE_CACHE_BYTES) return;
    const index = classIndex(size);
    (this.#free[index] ??= []).push(buffer);
    this.#cachedBytes += size;
  }

  /** Bytes held on the free lists. */
  get cachedBytes(): number {
    return this.#cachedBytes;
  }

  /**
   * Makes an IO that is about to run asynchronously use memory that cannot
   * be detached; returns whether it copied.  Non-detachable views
   * (allocAligned, page pools, SharedArrayBuffers) stay as they are: zero
   * copy, nothing allocated.  Any other view is swapped for bounce memory
   * (written data copied in now); {@link swapOut} swaps it back.
   */
  swapIn(handle: AioHandle): boolean {
    const io = handle.io;
    const buffer = io.buffer;
    if (buffer !== null) {
      if (io.length === 0 || this.#cannotDetach(buffer)) return false;
      const bounce = this.take(io.length);
      if (io.op === 3) bounce.set(bytesOf(buffer, io.length));
      handle.userBuffer = buffer;
      handle.bounceBuffer = bounce;
      io.buffer = bounce;
      return true;
    }
    const views = io.buffers;
    if (views === null) return false;
    let i = 0;
    while (i < views.length && (views[i].byteLength === 0 || this.#cannotDetach(views[i]))) i++;
    if (i === views.length) return false;
    const bounces = new Array<Buffer | null>(views.length).fill(null);
    const ioViews = views.slice();
    for (; i < views.length; i++) {
      const view = views[i];
      if (view.byteLength === 0 || this.#cannotDetach(view)) continue;
      const bounce = this.take(view.byteLength);
      if (io.op === 4) bounce.set(bytesOf(view));
      bounces[i] = bounce;
      ioViews[i] = markNonDetachable(bounce.subarray(0, view.byteLength));
    }
    handle.userBuffers = views;
    handle.bounceBuffers = bounces;
    io.buffers = ioViews;
    return true;
  }

  /**
   * isNonDetachable(view), remembered on the view: a view on allocAligned
   * memory gets the {@link SEEN} mark the first time, so the next IO on it
   * costs one property load.  Without it, a view that carries no mark of
   * aligned.ts (a slot an engine cut from an aligned slab with `subarray`)
   * costs `view.buffer` and a WeakSet lookup per IO, about 40 ns on Node 20.
   */
  #cannotDetach(view: ArrayBufferView): boolean {
    if ((view as { [SEEN]?: true })[SEEN] === true) return true;
    if (!isNonDetachable(view)) return false;
    if (Object.isExtensible(view) && isKnownAligned(view, 1)) Object.defineProperty(view, SEEN, { value: true });
    return true;
  }

  /**
   * At completion, before anything else sees the IO: copies what a read
   * transferred (only those bytes) into the caller's views, gives the bounce
   * memory back and restores the caller's views; returns the raw result.
   * If a view of a read was detached meanwhile (it is shorter than the IO
   * now), the data is dropped and the result is -EFAULT: never a silent
   * success.  A write's result stands (its bytes were copied at start).
   */
  swapOut(handle: AioHandle, raw: number): number {
    const io = handle.io;
    const isRead = io.op === 1 || io.op === 2;
    if (handle.userBuffer !== null) {
      const user = handle.userBuffer;
      const bounce = handle.bounceBuffer as Buffer;
      if (isRead && raw >= 0) {
        if (user.byteLength < io.length) raw = (EFAULT ??= errnoOf('EFAULT'));
        else if (raw > 0) bytesOf(user, raw).set(bytesOf(bounce, raw));
      }
      io.buffer = user;
      handle.userBuffer = null;
      handle.bounceBuffer = null;
      this.give(bounce);
      return raw;
    }
    const users = handle.userBuffers as ArrayBufferView[];
    const bounces = handle.bounceBuffers as (Buffer | null)[];
    const ioViews = io.buffers as ArrayBufferView[];
    if (isRead && raw >= 0) {
      let gone = false;
      for (let i = 0; i < users.length; i++) if (users[i].byteLength < ioViews[i].byteLength) gone = true;
      if (gone) raw = (EFAULT ??= errnoOf('EFAULT'));
      let left = gone ? 0 : raw;
      for (let i = 0; i < users.length && left > 0; i++) {
        const n = Math.min(left, ioViews[i].byteLength);
        const bounce = bounces[i];
        if (bounce !== null) bytesOf(users[i], n).set(bytesOf(bounce, n));
        left -= n;
      }
    }
    for (const bounce of bounces) if (bounce !== null) this.give(bounce);
    io.buffers = users;
    handle.userBuffers = null;
    handle.bounceBuffers = null;
    return raw;
  }
}

function classBytes(bytes: number): number {
  if (bytes <= MIN_CLASS_BYTES) return MIN_CLASS_BYTES;
  if (bytes > MAX_CLASS_BYTES) return Math.ceil(bytes / MIN_CLASS_BYTES) * MIN_CLASS_BYTES;
  return 2 ** Math.ceil(Math.log2(bytes));
}

function classIndex(size: number): number {
  return Math.log2(size / MIN_CLASS_BYTES);
}

/** A Uint8Array over exactly the bytes of `view` (for copying). */
export function bytesOf(view: ArrayBufferView, length = view.byteLength): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, length);
}
