// The LessIsMore selection specification (docs/algorithm.md), implemented literally: per-head sorts and
// the rank-major walk. Slow on purpose; the GPU kernels must produce exactly these lists.

/** How a budget K splits: `middle` ranked tokens, `recent` tokens at the end, S sinks at the start. */
export function budgetSplit(budget: number, recencyRatio: number, sinks: number): { middle: number; recent: number } {
  const middle = Math.floor(budget * (1 - recencyRatio));
  return { middle, recent: budget - middle - sinks };
}

/** Larger first; ties to the lower position; NaN below every number. */
export function compareRanked(values: ArrayLike<number>, a: number, b: number): number {
  const va = values[a];
  const vb = values[b];
  const na = Number.isNaN(va);
  const nb = Number.isNaN(vb);
  if (na !== nb) return na ? 1 : -1;
  if (!na && va !== vb) return vb > va ? 1 : -1;
  return a - b;
}

/** The top k positions of values[begin, end) in rank order (all of them when fewer than k). */
export function topkRanked(values: ArrayLike<number>, begin: number, end: number, k: number): number[] {
  const positions: number[] = [];
  for (let j = begin; j < end; j++) positions.push(j);
  positions.sort((a, b) => compareRanked(values, a, b));
  return positions.slice(0, k);
}

/**
 * LessIsMore's token set for one request: `logits[h]` holds head h's scaled logits for positions 0..n-1.
 * Returns the selected positions in ascending order (exactly min(K, n) of them).
 */
export function lessIsMoreSelect(logits: readonly ArrayLike<number>[], n: number, budget: number, recencyRatio: number, sinks: number): number[] {
  if (budget >= n) return Array.from({ length: n }, (_, j) => j);
  const { middle, recent } = budgetSplit(budget, recencyRatio, sinks);
  const picks = logits.map((z) => topkRanked(z, sinks, n - recent, middle));
  // Rank-major walk: rank 0 of every head, then rank 1, ...; first occurrences only, cut at `middle`.
  const chosen = new Set<number>();
  walk: for (let r = 0; r < middle; r++) {
    for (const headPicks of picks) {
      if (chosen.size === middle) break walk;
      chosen.add(headPicks[r]);
    }
  }
  for (let j = 0; j < sinks; j++) chosen.add(j);
  for (let j = n - recent; j < n; j++) chosen.add(j);
  return [...chosen].sort((a, b) => a - b);
}

/**
 * The set the union makes from first-pick keys (docs/algorithm.md): `keys[j]` is token j's rank-major key
 * r * Hq + h of its first pick, distinct over the picked tokens, and any value >= middle * Hq where no head
 * picked j. The `middle` candidates in [sinks, n - recent) with the smallest keys, plus the sinks and the
 * recency window, ascending (all n tokens when K >= n).
 */
export function unionOfFirstPicks(keys: ArrayLike<number>, n: number, budget: number, recencyRatio: number, sinks: number, heads: number): number[] {
  if (budget >= n) return Array.from({ length: n }, (_, j) => j);
  const { middle, recent } = budgetSplit(budget, recencyRatio, sinks);
  const picked: number[] = [];
  for (let j = sinks; j < n - recent; j++) if (keys[j] < middle * heads) picked.push(j);
  picked.sort((a, b) => keys[a] - keys[b]);
  const chosen = picked.slice(0, middle);
  for (let j = 0; j < sinks; j++) chosen.push(j);
  for (let j = n - recent; j < n; j++) chosen.push(j);
  return chosen.sort((a, b) => a - b);
}

/** TidalDecode-style selection: each head's own top-K of all n tokens, ascending (all tokens when K >= n). */
export function perHeadSelect(logits: readonly ArrayLike<number>[], n: number, budget: number): number[][] {
  return logits.map((z) => topkRanked(z, 0, n, budget).sort((a, b) => a - b));
}

/** Attention recall of a set for one head: sum over the set of softmax(z)[j], with lse = log sum exp z. */
export function attentionRecall(z: ArrayLike<number>, lse: number, set: readonly number[]): number {
  let sum = 0;
  for (const j of set) sum += Math.exp(z[j] - lse);
  return sum;
}

/** log sum_j exp(z[j]) over j < n. */
export function logSumExp(z: ArrayLike<number>, n: number): number {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, z[j]);
  let sum = 0;
  for (let j = 0; j < n; j++) sum += Math.exp(z[j] - max);
  return max + Math.log(sum);
}
