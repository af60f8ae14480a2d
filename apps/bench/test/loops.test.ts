import { describe, expect, it } from 'vitest';
import type { OffsetSource } from '../src/offsets.js';
import { SILENT_PROGRESS } from '../src/progress.js';
import { InOrderStamps, IoLoopState, NOT_SAMPLED, SAMPLE_EVERY } from '../src/runners/loops.js';
import { LatencyHistogram } from '../src/stats.js';

function counting(limit = Number.POSITIVE_INFINITY): OffsetSource {
  let next = 0;
  return { next: () => (next < limit ? 4096 * next++ : -1) };
}

function phase(seconds: number) {
  return { seconds, seed: 1, histogram: new LatencyHistogram(), progress: SILENT_PROGRESS };
}

describe('the measuring cost of the IO loops', () => {
  it('times one IO in SAMPLE_EVERY and counts every one', () => {
    const p = phase(60);
    const state = new IoLoopState(counting(), p);
    for (let i = 0; i < SAMPLE_EVERY * 10; i++) {
      expect(state.issue()).toBe(4096 * i);
      state.done(state.stamp);
    }
    expect(state.ops).toBe(SAMPLE_EVERY * 10);
    expect(p.histogram.count).toBe(10);
  });

  it('gives unsampled IOs no stamp, so completing them reads no clock', () => {
    const state = new IoLoopState(counting(), phase(60));
    const stamps = Array.from({ length: SAMPLE_EVERY }, () => (state.issue(), state.stamp));
    expect(stamps.filter((stamp) => stamp !== NOT_SAMPLED)).toHaveLength(1);
    expect(stamps.at(-1)).toBeGreaterThan(0);
  });

  it('stops at the deadline, checked on samples, and when the offsets run out', () => {
    const late = new IoLoopState(counting(), phase(0));
    let issued = 0;
    while (late.issue() >= 0) issued++;
    expect(issued).toBe(SAMPLE_EVERY - 1);
    expect(late.issue()).toBe(-1);
    const short = new IoLoopState(counting(3), phase(60));
    expect([short.issue(), short.issue(), short.issue(), short.issue(), short.issue()]).toEqual([0, 4096, 8192, -1, -1]);
  });

  it('stops issuing after a failure and reports it at the end', () => {
    const state = new IoLoopState(counting(), phase(60));
    state.fail(new Error('EIO'));
    expect(state.issue()).toBe(-1);
    expect(() => state.finish(4096)).toThrow('EIO');
  });
});

describe('in-order stamps (the read stream)', () => {
  it('hands back the stamp of each sampled IO, in issue order, and NOT_SAMPLED for the others', () => {
    const stamps = new InOrderStamps(4);
    stamps.push(1, NOT_SAMPLED);
    stamps.push(2, 20.5);
    stamps.push(3, NOT_SAMPLED);
    stamps.push(4, 40);
    expect([1, 2, 3, 4].map((key) => stamps.take(key))).toEqual([NOT_SAMPLED, 20.5, NOT_SAMPLED, 40]);
  });

  it('drops a stamp when full instead of allocating, and wraps around', () => {
    const stamps = new InOrderStamps(2);
    stamps.push(1, 10);
    stamps.push(2, 20);
    stamps.push(3, 30);
    expect([stamps.take(1), stamps.take(2), stamps.take(3)]).toEqual([10, 20, NOT_SAMPLED]);
    stamps.push(4, 40);
    stamps.push(5, 50);
    expect([stamps.take(4), stamps.take(5)]).toEqual([40, 50]);
  });
});
