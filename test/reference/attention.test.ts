// The float64 reference itself, on cases with known answers.

import { expect, it } from "vitest";
import { decodeAttentionReference, relativeError } from "../../reference/attention.js";

const problem = (seqlens: number[], q: number[], k: number[], v: number[], D: number) => ({
  batch: seqlens.length, numQHeads: 1, numKvHeads: 1, headDim: D, seqlens, scale: 1,
  q: { data: Float64Array.from(q), strides: [D, D] },
  k: { data: Float64Array.from(k), strides: [seqlens[0] * D, seqlens[0] * D, D] },
  v: { data: Float64Array.from(v), strides: [seqlens[0] * D, seqlens[0] * D, D] },
});

it("one token returns its value row and lse equal to its score", () => {
  const r = decodeAttentionReference(problem([1], [1, 2], [3, 4], [5, 6], 2));
  expect(Array.from(r.out)).toEqual([5, 6]);
  expect(r.lse[0]).toBeCloseTo(11, 12);
});

it("equal scores average the values; lse = score + log n", () => {
  const r = decodeAttentionReference(problem([4], [0, 0], [1, 2, 3, 4, 5, 6, 7, 8], [1, 0, 2, 0, 3, 0, 6, 0], 2));
  expect(r.out[0]).toBeCloseTo(3, 12);
  expect(r.lse[0]).toBeCloseTo(Math.log(4), 12);
});

it("relativeError is 0 for equal arrays and NaN when an element is not finite", () => {
  expect(relativeError([1, 2], [1, 2])).toBe(0);
  expect(relativeError([1, NaN], [1, 2])).toBeNaN();
});
