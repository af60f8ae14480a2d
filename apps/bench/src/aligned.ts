import fs from 'node:fs';
import { allocAligned as allocAlignedInHeap } from '@aio/core';

/*
 * Aligned buffers for O_DIRECT, for every method including the node:fs
 * baselines: @aio/core's allocAligned (WebAssembly memory inside the JS heap,
 * page-aligned by V8).  probeDirectAlignment below checks the claim on the
 * real file.
 */

const MAX_ALIGNMENT = 4096;

/**
 * Returns a Buffer of `size` bytes whose address is a multiple of
 * `alignment` (a power of two, at most 4096).  The bench's own argument
 * checks throw RangeError, as for its other options.
 */
export function allocAligned(size: number, alignment = MAX_ALIGNMENT): Buffer {
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`size must be a positive integer, got ${size}`);
  if (alignment <= 0 || alignment > MAX_ALIGNMENT || (alignment & (alignment - 1)) !== 0) {
    throw new RangeError(`alignment must be a power of two up to ${MAX_ALIGNMENT}, got ${alignment}`);
  }
  return allocAlignedInHeap(size, alignment);
}

/** Splits a slab into `count` consecutive buffers of `size` bytes; each keeps the slab's alignment if size does. */
export function sliceSlots(slab: Buffer, count: number, size: number): Buffer[] {
  if (slab.length < count * size) throw new RangeError(`slab of ${slab.length} bytes cannot hold ${count} × ${size}`);
  return Array.from({ length: count }, (_, index) => slab.subarray(index * size, (index + 1) * size));
}

export interface DirectAlignmentProbe {
  /** The smallest memory alignment the kernel accepted for an O_DIRECT read of this file, in bytes. */
  requiredAlignment: number;
}

/**
 * Finds the memory alignment O_DIRECT needs on `path`, by reading 4096 bytes
 * with O_DIRECT into slices of an allocAligned buffer that start 1, 2, 4 …
 * 2048 bytes past the aligned base: a slice at offset k is aligned to exactly
 * k, and the kernel refuses a misaligned one with EINVAL.  Offset 0 must work,
 * which checks allocAligned itself.  Returns null when the file system refuses
 * O_DIRECT altogether.  The result depends on the device, so callers cache it.
 */
export function probeDirectAlignment(path: string): DirectAlignmentProbe | null {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return null;
    throw error;
  }
  try {
    const buffer = allocAligned(2 * MAX_ALIGNMENT);
    if (!readsDirect(fd, buffer, 0)) {
      throw new Error(`O_DIRECT refused a buffer from allocAligned on ${path}: it is not aligned on this platform`);
    }
    for (let offset = 1; offset < MAX_ALIGNMENT; offset *= 2) {
      if (readsDirect(fd, buffer, offset)) return { requiredAlignment: offset };
    }
    return { requiredAlignment: MAX_ALIGNMENT };
  } finally {
    fs.closeSync(fd);
  }
}

function readsDirect(fd: number, buffer: Buffer, offset: number): boolean {
  try {
    fs.readSync(fd, buffer, offset, MAX_ALIGNMENT, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return false;
    throw error;
  }
}
