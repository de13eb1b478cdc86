/**
 * A fixed-bucket histogram: `observe()` is a short scan over a handful of bounds and two
 * additions, allocates nothing and never grows, so it can sit on the delivery path. The
 * snapshot has the cumulative shape Prometheus expects (`le` buckets, `_sum`, `_count`).
 * @module
 */

/** Upper bounds in seconds for latencies from 50 µs to 10 s. */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);
/** Upper bounds for message counts (catch-up sizes). */
export const COUNT_BUCKETS: readonly number[] = Object.freeze([0, 1, 10, 100, 1_000, 10_000, 100_000]);
/** Upper bounds in bytes for send queues, from 1 KiB to 64 MiB. */
export const BYTE_BUCKETS: readonly number[] = Object.freeze([
  0, 1_024, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864,
]);

/** A histogram as it is at one moment. `counts[i]` counts observations `<= buckets[i]` (cumulative); `count` includes those above the last bound. */
export interface HistogramSnapshot {
  buckets: readonly number[];
  counts: number[];
  sum: number;
  count: number;
}

/** Counts observations into fixed buckets. */
export class Histogram {
  private readonly perBucket: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(readonly buckets: readonly number[]) {
    this.perBucket = new Float64Array(buckets.length + 1);
  }

  observe(value: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.perBucket[i]!++;
    this.sum += value;
    this.count++;
  }

  snapshot(): HistogramSnapshot {
    const counts: number[] = [];
    let running = 0;
    for (let i = 0; i < this.buckets.length; i++) counts.push((running += this.perBucket[i]!));
    return { buckets: this.buckets, counts, sum: this.sum, count: this.count };
  }
}

/**
 * An estimate of quantile `q` (0–1) from a snapshot: the upper bound of the bucket that holds
 * it (so it errs high), `Infinity` when it lies above the last bound, 0 when nothing was observed.
 */
export function quantile(h: HistogramSnapshot, q: number): number {
  if (h.count === 0) return 0;
  const rank = q * h.count;
  for (let i = 0; i < h.buckets.length; i++) if (h.counts[i]! >= rank) return h.buckets[i]!;
  return Infinity;
}
