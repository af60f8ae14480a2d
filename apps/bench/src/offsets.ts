/**
 * Where each IO of a workload goes.  Every method of one invocation draws its
 * offsets from a source built with the same seed, so they all touch the same
 * blocks in the same order and differ only in how they issue the IO.
 */

/** A stream of byte offsets; `next()` returns -1 once the workload has no more IO to issue. */
export interface OffsetSource {
  next(): number;
}

const TWO_POW_32 = 0x1_0000_0000;

/**
 * xoshiro128** (Blackman and Vigna): a small, fast generator with a 128-bit
 * state kept in four 32-bit numbers, so drawing an offset allocates nothing.
 * The state is seeded by running splitmix32 over the seed's two 32-bit halves,
 * which spreads even small seeds (0, 1, 2) over the whole state.
 */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
    }
    let mix = (seed >>> 0) ^ Math.imul(Math.floor(seed / TWO_POW_32) >>> 0, 0x85ebca6b);
    const splitmix32 = (): number => {
      mix = (mix + 0x9e3779b9) | 0;
      let z = mix;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = splitmix32();
    this.s1 = splitmix32();
    this.s2 = splitmix32();
    this.s3 = splitmix32();
    // An all-zero state would only ever produce zeros.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Returns the next 32-bit unsigned value. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Returns a number in [0, 1) with 53 random bits, built from two draws. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }
}

function rotl(value: number, shift: number): number {
  return (value << shift) | (value >>> (32 - shift));
}

/**
 * Uniformly random block-aligned offsets over the whole file, with
 * replacement, forever (randread, writeback).  Offsets are multiples of the
 * block size and a whole block always fits before the end of the file, which
 * is also what fio does by default (blockalign = bs).
 */
export class RandomOffsets implements OffsetSource {
  private readonly random: Xoshiro128;
  private readonly blockCount: number;

  constructor(
    fileSize: number,
    private readonly blockSize: number,
    seed: number,
  ) {
    this.blockCount = Math.floor(fileSize / blockSize);
    if (this.blockCount < 1) {
      throw new RangeError(`the file (${fileSize} bytes) is smaller than one block (${blockSize} bytes)`);
    }
    this.random = new Xoshiro128(seed);
  }

  next(): number {
    return Math.floor(this.random.nextFloat() * this.blockCount) * this.blockSize;
  }
}

/**
 * Consecutive blocks from offset 0.  Without `wrap` the source ends after the
 * last whole block (seqread reads the file once); with `wrap` it starts again
 * at 0, the way a log recycles a preallocated segment (wal).
 */
export class SequentialOffsets implements OffsetSource {
  private position = 0;

  constructor(
    private readonly fileSize: number,
    private readonly blockSize: number,
    private readonly wrap: boolean,
  ) {
    if (fileSize < blockSize) {
      throw new RangeError(`the file (${fileSize} bytes) is smaller than one block (${blockSize} bytes)`);
    }
  }

  next(): number {
    if (this.position + this.blockSize > this.fileSize) {
      if (!this.wrap) return -1;
      this.position = 0;
    }
    const offset = this.position;
    this.position += this.blockSize;
    return offset;
  }
}
