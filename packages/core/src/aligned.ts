/**
 * Aligned buffers for direct I/O, allocated inside the JavaScript heap.
 *
 * O_DIRECT (and FILE_FLAG_NO_BUFFERING) need buffers whose address is a
 * multiple of the device's logical block size (512 or 4096 bytes).  Node's
 * Buffers give no such guarantee and JavaScript cannot see addresses, and
 * memory allocated natively (posix_memalign + an external ArrayBuffer) is
 * refused where V8's memory cage is on (Electron >= 21).
 *
 * The memory of a `WebAssembly.Memory` is allocated by V8's page allocator:
 * its first byte is at the start of an OS page, on every platform, and it
 * lives inside the cage.  So we allocate slabs of WebAssembly memory and
 * carve buffers out of them at offsets that are multiples of the requested
 * alignment: the address is computed, not guessed.  Alignments up to the
 * smallest OS page size (4096) are guaranteed this way.
 *
 * Memory is returned to the system when every buffer carved from a slab is
 * unreachable (the slab is then garbage collected); there is no free().
 */
import { AioUsageError } from './errors.js';
import { checkInteger } from './validate.js';

/** The part of the WebAssembly global we use (not in the ES library typings). */
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer };
};

/** The largest alignment this module can guarantee: the smallest OS page size. */
export const AIO_MAX_ALIGNMENT = 4096;

const WASM_PAGE = 65536;
/** Small requests share slabs of this size; larger ones get their own memory. */
const SLAB_BYTES = 4 * 1024 * 1024;

/** Every memory this module created, to recognise its buffers. */
const wasmBuffers = new WeakSet<ArrayBufferLike>();

/**
 * A mark on the views this module (and the page pool, and bounce memory)
 * hands out, so the IO path recognises them with one property load instead
 * of `view.buffer` plus a WeakSet lookup (about 20 ns per IO on Node 20).
 * Non-enumerable and module-private: it changes no comparison or printout.
 */
const NON_DETACHABLE: unique symbol = Symbol('aio.nonDetachable');

/** Marks a view on memory from {@link allocAligned} as non-detachable (see {@link isNonDetachable}). */
export function markNonDetachable<T extends ArrayBufferView>(view: T): T {
  if (!wasmBuffers.has(view.buffer)) throw new Error('aio: only views on allocAligned memory can be marked non-detachable');
  Object.defineProperty(view, NON_DETACHABLE, { value: true });
  return view;
}
let slab: ArrayBuffer | null = null;
let slabUsed = 0;

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function newMemory(bytes: number): ArrayBuffer {
  const pages = Math.ceil(bytes / WASM_PAGE);
  try {
    const buffer = new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer;
    wasmBuffers.add(buffer);
    return buffer;
  } catch (error) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `cannot allocate ${bytes} bytes of aligned memory: ${(error as Error).message}`);
  }
}

/**
 * Returns a zero-filled Buffer of `size` bytes whose address is a multiple
 * of `alignment` (a power of two from 1 to 4096).  Usable with direct I/O on
 * every method.
 */
export function allocAligned(size: number, alignment = AIO_MAX_ALIGNMENT): Buffer {
  checkInteger(size, 'size', 0, 0x7fff_f000);
  checkInteger(alignment, 'alignment', 1, AIO_MAX_ALIGNMENT);
  if (!isPowerOfTwo(alignment)) {
    throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `alignment must be a power of two, got ${alignment}`);
  }
  if (size >= SLAB_BYTES / 4) return markNonDetachable(Buffer.from(newMemory(size), 0, size));
  let start = Math.ceil(slabUsed / alignment) * alignment;
  if (slab === null || start + size > slab.byteLength) {
    slab = newMemory(SLAB_BYTES);
    start = 0;
  }
  slabUsed = start + size;
  return markNonDetachable(Buffer.from(slab, start, size));
}

/**
 * Whether the memory under `view` can never be detached: true for views on
 * memory from {@link allocAligned} (and {@link AlignedPagePool}), which is
 * WebAssembly memory (V8 never detaches it: a transfer copies it; only
 * `Memory.grow()` would, and the Memory object never leaves this module,
 * which must stay so), and for views on a SharedArrayBuffer.  Such memory stays valid for as long as the
 * view is referenced, so the core hands it to the kernel as it is (zero
 * copy); any other memory could be transferred away while the kernel uses
 * it, so IO on it runs on library-owned bounce memory.
 */
export function isNonDetachable(view: ArrayBufferView): boolean {
  if ((view as { [NON_DETACHABLE]?: boolean })[NON_DETACHABLE] === true) return true;
  const buffer = view.buffer;
  return wasmBuffers.has(buffer) || (typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer);
}

/**
 * Whether `view` starts at a multiple of `alignment` as far as this module
 * can tell: true for buffers from {@link allocAligned} with that alignment
 * (and views into WebAssembly memory at aligned offsets); false when the
 * address is unknown.
 */
export function isKnownAligned(view: ArrayBufferView, alignment = AIO_MAX_ALIGNMENT): boolean {
  if (alignment > AIO_MAX_ALIGNMENT || !isPowerOfTwo(alignment)) return false;
  return wasmBuffers.has(view.buffer) && view.byteOffset % alignment === 0;
}

