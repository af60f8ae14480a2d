/**
 * The arithmetic behind the figures: medians over runs, percentiles over
 * per-IO latencies, and ratios to a baseline.
 */

/** Returns the median of `values` (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Returns the nearest-rank percentile `p` (0 < p <= 100) of `values`: the
 * smallest value such that at least p% of the values are less than or equal
 * to it.  p = 0 returns the minimum.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** Returns value / baseline, or null when there is no usable baseline. */
export function ratio(value: number, baseline: number | undefined): number | null {
  if (baseline === undefined || !(baseline > 0) || !Number.isFinite(value)) return null;
  return value / baseline;
}

/*
 * Latency histogram with log-linear buckets, in the manner of HdrHistogram:
 * values below 128 ns get a bucket each, and every power of two above that is
 * cut into 128 equal buckets, so a reported percentile is within 1/128 (0.8%)
 * of the true value.  It holds one preallocated Uint32Array and recording a
 * value allocates nothing, so it can sit inside the IO loop.
 */
const SUB_BUCKET_BITS = 7;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
const MAX_EXPONENT = 31;
const BUCKET_COUNT = SUB_BUCKETS + (MAX_EXPONENT - SUB_BUCKET_BITS + 1) * SUB_BUCKETS;
const MAX_RECORDABLE_NS = 0xffff_ffff;

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKET_COUNT);
  private total = 0;

  /** Records one latency in nanoseconds; values above ~4.29 s are clamped to it. */
  record(latencyNs: number): void {
    const value = latencyNs <= 0 ? 0 : latencyNs >= MAX_RECORDABLE_NS ? MAX_RECORDABLE_NS : Math.round(latencyNs);
    this.counts[bucketIndex(value)]++;
    this.total++;
  }

  get count(): number {
    return this.total;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
  }

  /**
   * Returns the nearest-rank percentile `p` in nanoseconds, as the midpoint of
   * the bucket holding that rank, or NaN when nothing was recorded.
   */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let index = 0; index < BUCKET_COUNT; index++) {
      seen += this.counts[index];
      if (seen >= rank) return bucketMidpoint(index);
    }
    return bucketMidpoint(BUCKET_COUNT - 1);
  }
}

function bucketIndex(value: number): number {
  if (value < SUB_BUCKETS) return value;
  const exponent = 31 - Math.clz32(value);
  const shift = exponent - SUB_BUCKET_BITS;
  // value < 2^32, so an unsigned shift divides exactly (no Math.pow on the hot path).
  const mantissa = (value >>> shift) - SUB_BUCKETS;
  return SUB_BUCKETS + shift * SUB_BUCKETS + mantissa;
}

function bucketMidpoint(index: number): number {
  if (index < SUB_BUCKETS) return index;
  const shift = Math.floor((index - SUB_BUCKETS) / SUB_BUCKETS);
  const mantissa = SUB_BUCKETS + ((index - SUB_BUCKETS) % SUB_BUCKETS);
  const width = 2 ** shift;
  return mantissa * width + (width - 1) / 2;
}
