import { describe, expect, it } from 'vitest';
import { LatencyHistogram, median, percentile, ratio } from '../src/stats.js';

describe('median', () => {
  it('takes the middle value, or the mean of the two middle values', () => {
    expect(median([5])).toBe(5);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10, 1, 1000])).toBe(10);
  });

  it('does not reorder its input and refuses an empty list', () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('percentile', () => {
  const hundred = Array.from({ length: 100 }, (_, index) => 100 - index); // 100 … 1

  it('uses the nearest rank', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([7], 99)).toBe(7);
  });

  it('refuses out-of-range percentiles and empty input', () => {
    expect(() => percentile(hundred, 101)).toThrow(RangeError);
    expect(() => percentile(hundred, Number.NaN)).toThrow(RangeError);
    expect(() => percentile([], 50)).toThrow(RangeError);
  });
});

describe('ratio', () => {
  it('divides by the baseline, and is null without a usable one', () => {
    expect(ratio(300, 100)).toBe(3);
    expect(ratio(50, 200)).toBe(0.25);
    expect(ratio(50, undefined)).toBeNull();
    expect(ratio(50, 0)).toBeNull();
    expect(ratio(Number.NaN, 10)).toBeNull();
  });
});

describe('LatencyHistogram', () => {
  it('is exact below 128 ns and within 1/128 above, for the same ranks as percentile()', () => {
    const histogram = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 1; i <= 10_000; i++) {
      const value = i < 100 ? i : i * 137; // small exact values, then up to 1.37 ms
      values.push(value);
      histogram.record(value);
    }
    expect(histogram.count).toBe(10_000);
    for (const p of [1, 50, 90, 99, 99.9, 100]) {
      const exact = percentile(values, p);
      expect(Math.abs(histogram.percentile(p) - exact) / exact).toBeLessThanOrEqual(1 / 128);
    }
    expect(histogram.percentile(0.5)).toBe(50);
  });

  it('handles a heavy tail: p50 stays low when 1% of IOs are slow', () => {
    const histogram = new LatencyHistogram();
    for (let i = 0; i < 990; i++) histogram.record(20_000);
    for (let i = 0; i < 10; i++) histogram.record(5_000_000);
    expect(histogram.percentile(50)).toBeCloseTo(20_000, -3);
    expect(histogram.percentile(99)).toBeCloseTo(20_000, -3);
    expect(histogram.percentile(99.5)).toBeGreaterThan(4_900_000);
  });

  it('clamps values outside its range, resets, and reports NaN when empty', () => {
    const histogram = new LatencyHistogram();
    expect(histogram.percentile(50)).toBeNaN();
    histogram.record(-5);
    histogram.record(1e12);
    expect(histogram.percentile(1)).toBe(0);
    expect(histogram.percentile(100)).toBeGreaterThan(4.2e9);
    histogram.reset();
    expect(histogram.count).toBe(0);
    expect(histogram.percentile(50)).toBeNaN();
  });
});
