import { describe, expect, it } from 'vitest';
import { WARMUP_WINDOW, roundOrder, warmupSettled } from '../src/warmup.js';

describe('warm-up until settled', () => {
  it('is not settled before a full window of slices', () => {
    expect(warmupSettled([])).toBe(false);
    expect(warmupSettled(Array.from({ length: WARMUP_WINDOW - 1 }, () => 100))).toBe(false);
    expect(warmupSettled(Array.from({ length: WARMUP_WINDOW }, () => 100))).toBe(true);
  });

  it('waits while the JIT still speeds the loop up, and settles once the last slices agree', () => {
    const rising = [40, 70, 90, 97];
    expect(warmupSettled(rising)).toBe(false);
    expect(warmupSettled([...rising, 100, 99])).toBe(true);
  });

  it('compares only the last slices, within the tolerance of their median', () => {
    expect(warmupSettled([5, 100, 104, 98], 3, 0.06)).toBe(true);
    expect(warmupSettled([100, 100, 110], 3, 0.06)).toBe(false);
    expect(warmupSettled([100, 100, 110], 3, 0.1)).toBe(true);
  });

  it('never counts slices that did no IO as settled', () => {
    expect(warmupSettled([0, 0, 0])).toBe(false);
  });
});

describe('interleaved rounds', () => {
  it('starts every round one method later, so each method runs once in every position', () => {
    expect(roundOrder(3, 1)).toEqual([0, 1, 2]);
    expect(roundOrder(3, 2)).toEqual([1, 2, 0]);
    expect(roundOrder(3, 3)).toEqual([2, 0, 1]);
    expect(roundOrder(3, 4)).toEqual([0, 1, 2]);
    expect(roundOrder(0, 2)).toEqual([]);
  });
});
