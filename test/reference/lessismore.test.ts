// Hand-built cases that pin the exact LessIsMore semantics of the reference.

import { describe, expect, it } from "vitest";
import { attentionRecall, budgetSplit, lessIsMoreSelect, logSumExp, perHeadSelect, topkRanked, unionOfFirstPicks } from "../../reference/lessismore.js";
import { rng } from "../../reference/random.js";

describe("budget split", () => {
  it("K 2048, r 0.25, S 4: 1536 ranked, 508 recent", () => {
    expect(budgetSplit(2048, 0.25, 4)).toEqual({ middle: 1536, recent: 508 });
  });
  it("floors the ranked part", () => {
    expect(budgetSplit(10, 0.25, 2)).toEqual({ middle: 7, recent: 1 });
  });
});

describe("per-head top-k", () => {
  it("ranks descending with ties to the lower position and NaN last", () => {
    const z = [0.5, NaN, 2, 0.5, -Infinity, 2, 1];
    expect(topkRanked(z, 0, z.length, 7)).toEqual([2, 5, 6, 0, 3, 4, 1]);
    expect(topkRanked(z, 1, 6, 3)).toEqual([2, 5, 3]);
  });
});

describe("LessIsMore selection", () => {
  it("takes the rank-major union with first occurrences, then sinks and the recency window", () => {
    // K 7, r 0.3, S 1: middle = floor(4.9) = 4, recent = 2. n = 12: candidates [1, 10).
    const h0 = [0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 100, 100]; // head 0 ranks 1, 2, 3, 4, ...
    const h1 = [0, 1, 9, 2, 3, 4, 5, 6, 7, 8, 100, 100]; // head 1 ranks 2, 9, 8, 7, ...
    // Rank-major: r0: h0 -> 1, h1 -> 2; r1: h0 -> 2 (dup), h1 -> 9; r2: h0 -> 3 -> 4 distinct: {1, 2, 9, 3}.
    expect(lessIsMoreSelect([h0, h1], 12, 7, 0.3, 1)).toEqual([0, 1, 2, 3, 9, 10, 11]);
  });

  it("counts a token picked by several heads at different ranks once, at its earliest rank-major slot", () => {
    // K 6, r 0.4, S 1: middle 3, recent 2; n = 10, candidates [1, 8).
    const h0 = [0, 5, 1, 9, 1, 1, 1, 8, 0, 0]; // ranks 3, 7, 1, ...
    const h1 = [0, 1, 1, 9, 1, 1, 1, 1, 0, 0]; // ranks 3, then ties 1, 2, 4, ... (lower position first)
    const h2 = [0, 7, 1, 1, 1, 1, 1, 9, 0, 0]; // ranks 7, 1, ...
    // r0: 3, 3 (dup), 7 -> {3, 7}; r1: h0 7 (dup), h1 1 -> {3, 7, 1} = middle.
    expect(lessIsMoreSelect([h0, h1, h2], 10, 6, 0.4, 1)).toEqual([0, 1, 3, 7, 8, 9]);
  });

  it("keeps every token when K >= n", () => {
    expect(lessIsMoreSelect([[3, 2, 1]], 3, 3, 0.25, 1)).toEqual([0, 1, 2]);
    expect(lessIsMoreSelect([[3, 2, 1]], 3, 10, 0.25, 1)).toEqual([0, 1, 2]);
  });

  it("selects K of n = K + 1 tokens: the one left out is the lowest-ranked candidate", () => {
    // K 5, r 0.4, S 1: middle 3, recent 1; n = 6: candidates [1, 5) hold 4 tokens for 3 places.
    const z = [0, 4, 1, 3, 2, 0];
    expect(lessIsMoreSelect([z], 6, 5, 0.4, 1)).toEqual([0, 1, 3, 4, 5]);
  });

  it("sinks and the window may touch the ranked range without overlap", () => {
    // K 4, r 0.5, S 1: middle 2, recent 1; n = 5: candidates [1, 4), all picks adjacent to sinks and window.
    const z = [9, 8, 0, 7, 9];
    expect(lessIsMoreSelect([z], 5, 4, 0.5, 1)).toEqual([0, 1, 3, 4]);
  });
});

describe("the union of first-pick keys", () => {
  it("gives the rank-major walk's set from each token's smallest key r * Hq + h", () => {
    // The keys the top-k leaves (docs/algorithm.md), made here from each head's ranking, on ties and on random logits.
    const next = rng(0x11e5);
    for (const [n, budget, heads, levels] of [[200, 40, 4, 0], [200, 40, 4, 5], [57, 56, 3, 0], [30, 64, 2, 0]]) {
      const { middle, recent } = budgetSplit(budget, 0.25, 4);
      const logits = Array.from({ length: heads }, () => Array.from({ length: n }, () => (levels ? Math.floor(next() * levels) : next())));
      const keys = new Array<number>(n).fill(0xffffffff);
      logits.forEach((z, h) =>
        budget < n && topkRanked(z, 4, n - recent, middle).forEach((j, r) => (keys[j] = Math.min(keys[j], r * heads + h))),
      );
      expect(unionOfFirstPicks(keys, n, budget, 0.25, 4, heads), `n ${n}, K ${budget}, ${heads} heads, ${levels || "no"} ties`).toEqual(lessIsMoreSelect(logits, n, budget, 0.25, 4));
    }
  });
});

describe("TidalDecode per-head selection and recall", () => {
  it("selects each head's own top-K over all tokens, ascending", () => {
    expect(perHeadSelect([[1, 5, 3, 4], [9, 0, 0, 8]], 4, 2)).toEqual([[1, 3], [0, 3]]);
  });
  it("recall of the full set is 1, of a subset its softmax mass", () => {
    const z = [1, 2, 3];
    const lse = logSumExp(z, 3);
    expect(attentionRecall(z, lse, [0, 1, 2])).toBeCloseTo(1, 12);
    expect(attentionRecall(z, lse, [2])).toBeCloseTo(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3)), 12);
  });
});
