/*
 * When a warm-up is done.  A fixed 0.2 s warm-up left V8 still compiling the
 * loops during the first timed run (seqread's above all), so by default the
 * bench warms up until the JIT has settled: it runs short untimed slices and
 * stops once the throughput of the last few agrees, which is what a loop
 * whose code no longer changes looks like.  A noisy machine may never agree,
 * so there is a cap.
 */

/** The length of one untimed slice, in seconds. */
export const WARMUP_SLICE_SECONDS = 0.25;
/** Slices compared: the last this many must agree. */
export const WARMUP_WINDOW = 3;
/** How far (as a share of their median) the compared slices may spread and still count as settled. */
export const WARMUP_TOLERANCE = 0.06;
/** The most warm-up seconds per method and case, settled or not. */
export const WARMUP_MAX_SECONDS = 4;

/**
 * Whether throughputs measured in consecutive slices (oldest first) show a
 * settled loop: at least `window` of them, and the last `window` all within
 * `tolerance` of their median.  A slice that did nothing never counts as settled.
 */
export function warmupSettled(rates: readonly number[], window = WARMUP_WINDOW, tolerance = WARMUP_TOLERANCE): boolean {
  if (rates.length < window) return false;
  const last = rates.slice(-window);
  const sorted = [...last].sort((a, b) => a - b);
  const middle = sorted[sorted.length >> 1];
  if (!(middle > 0)) return false;
  return last.every((rate) => Math.abs(rate - middle) <= tolerance * middle);
}

/**
 * The order of the methods in timed round `round` (1-based): every round
 * starts one method later, so that no method always runs right after the
 * same other one (whose writes or cache footprint it would inherit) or always
 * first, when the machine is freshest.
 */
export function roundOrder(count: number, round: number): number[] {
  const shift = count === 0 ? 0 : (round - 1) % count;
  return Array.from({ length: count }, (_, i) => (i + shift) % count);
}
