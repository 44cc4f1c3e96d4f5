/** Order statistics of one series of samples, in the samples' unit. */
export interface Summary {
  n: number;
  min: number;
  median: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Summarizes samples with nearest-rank percentiles (p99 of 200 samples is
 * the 198th smallest), rounded to microseconds.
 */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) {
    throw new RangeError("Cannot summarize samples: there are none");
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) =>
    sorted[
      Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length))) - 1
    ]!;
  const mean = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  return {
    n: sorted.length,
    min: round(sorted[0]!),
    median: round(rank(0.5)),
    p99: round(rank(0.99)),
    max: round(sorted[sorted.length - 1]!),
    mean: round(mean),
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
