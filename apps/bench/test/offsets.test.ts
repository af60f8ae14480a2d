import { describe, expect, it } from 'vitest';
import { RandomOffsets, SequentialOffsets, Xoshiro128 } from '../src/offsets.js';

function take(source: { next(): number }, count: number): number[] {
  return Array.from({ length: count }, () => source.next());
}

describe('Xoshiro128', () => {
  it('produces the xoshiro128** sequence (checked against a reference implementation)', () => {
    // The state seeded from 7, stepped with the published algorithm in Python.
    const random = new Xoshiro128(7);
    expect(take({ next: () => random.nextUint32() }, 5)).toEqual([1004282400, 2200021487, 1928073449, 741806228, 2429532727]);
  });

  it('is deterministic per seed, different across seeds, and uses the high half of large seeds', () => {
    const first = (seed: number) => take({ next: () => new Xoshiro128(seed).nextUint32() }, 1)[0];
    expect(first(1)).toBe(first(1));
    expect(new Set([0, 1, 2, 3, 2 ** 32, 2 ** 32 + 1].map(first)).size).toBe(6);
  });

  it('returns floats in [0, 1)', () => {
    const random = new Xoshiro128(3);
    for (let i = 0; i < 10_000; i++) {
      const value = random.nextFloat();
      expect(value >= 0 && value < 1).toBe(true);
    }
  });

  it('rejects seeds that are not non-negative safe integers', () => {
    expect(() => new Xoshiro128(-1)).toThrow(RangeError);
    expect(() => new Xoshiro128(1.5)).toThrow(RangeError);
  });
});

describe('RandomOffsets', () => {
  const size = 64 * 1024 ** 2;
  const bs = 4096;

  it('gives every method the same sequence for the same seed', () => {
    expect(take(new RandomOffsets(size, bs, 42), 1000)).toEqual(take(new RandomOffsets(size, bs, 42), 1000));
    expect(take(new RandomOffsets(size, bs, 42), 1000)).not.toEqual(take(new RandomOffsets(size, bs, 43), 1000));
  });

  it('stays block-aligned and keeps a whole block inside the file, even when the size is not a multiple of the block', () => {
    const oddSize = 10 * 8192 + 4096;
    for (const offset of take(new RandomOffsets(oddSize, 8192, 5), 5000)) {
      expect(offset % 8192).toBe(0);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset + 8192).toBeLessThanOrEqual(oddSize);
    }
  });

  it('covers the whole file roughly uniformly', () => {
    const blocks = 16;
    const counts = new Array<number>(blocks).fill(0);
    for (const offset of take(new RandomOffsets(blocks * bs, bs, 9), 16_000)) counts[offset / bs]++;
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it('refuses a file smaller than one block', () => {
    expect(() => new RandomOffsets(4095, 4096, 1)).toThrow(RangeError);
  });
});

describe('SequentialOffsets', () => {
  it('reads the file once, block after block, then ends', () => {
    expect(take(new SequentialOffsets(4 * 4096 + 100, 4096, false), 6)).toEqual([0, 4096, 8192, 12288, -1, -1]);
  });

  it('wraps to the start of the file when asked (a recycled log)', () => {
    expect(take(new SequentialOffsets(3 * 8192, 8192, true), 7)).toEqual([0, 8192, 16384, 0, 8192, 16384, 0]);
  });
});
