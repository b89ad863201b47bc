// Percentiles for the benchmarks. Nearest-rank on the sorted samples: the
// value reported is always one that was actually measured, so a p99 of 12 ms
// means at least 99 % of the samples took 12 ms or less — no interpolation
// between two samples that may sit far apart in a long tail.

/** The p-th percentile (0 < p ≤ 100) of `sorted` (ascending) by nearest rank; NaN when empty. */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The p-th percentile of `samples` in any order; NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  return percentileOfSorted([...samples].sort((a, b) => a - b), p);
}

export interface Summary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** count, min, p50, p90, p99, max and mean of `samples` (NaN fields when empty). */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    count: sorted.length,
    min: sorted.length === 0 ? Number.NaN : sorted[0]!,
    p50: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    p99: percentileOfSorted(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  };
}

/** Milliseconds on the monotonic clock (CLOCK_MONOTONIC, shared by every process on the machine). */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
