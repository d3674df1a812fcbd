// Summary statistics of repeated timings.

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The geometric mean: how tuning compares schedules over shapes of different sizes. */
export function geomean(values: readonly number[]): number {
  return Math.exp(values.reduce((s, x) => s + Math.log(x), 0) / values.length);
}
