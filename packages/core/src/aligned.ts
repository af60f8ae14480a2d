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
  if (size >= SLAB_BYTES / 4) return Buffer.from(newMemory(size), 0, size);
  let start = Math.ceil(slabUsed / alignment) * alignment;
  if (slab === null || start + size > slab.byteLength) {
    slab = newMemory(SLAB_BYTES);
    start = 0;
  }
  slabUsed = start + size;
  return Buffer.from(slab, start, size);
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

