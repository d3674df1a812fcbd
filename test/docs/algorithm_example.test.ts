// The worked example of docs/algorithm.md, checked against the literal specification.

import { expect, it } from "vitest";
import { budgetSplit, lessIsMoreSelect, perHeadSelect, topkRanked } from "../../reference/lessismore.js";

const h0 = [9, 1, 5, 2, 7, 0, 3, 4, 8, 6];
const h1 = [0, 6, 2, 6, 5, 1, 1, 0, 9, 9];

it("docs/algorithm.md's worked example: K 6, r 0.5, S 1, two heads, n 10", () => {
  expect(budgetSplit(6, 0.5, 1)).toEqual({ middle: 3, recent: 2 });
  expect(topkRanked(h0, 1, 8, 3)).toEqual([4, 2, 7]);
  expect(topkRanked(h1, 1, 8, 3)).toEqual([1, 3, 4]); // the tie between 1 and 3 goes to the lower position
  expect(lessIsMoreSelect([h0, h1], 10, 6, 0.5, 1)).toEqual([0, 1, 2, 4, 8, 9]);
  expect(lessIsMoreSelect([h0, h1], 6, 6, 0.5, 1)).toEqual([0, 1, 2, 3, 4, 5]); // K >= n keeps everything
  expect(perHeadSelect([h0, h1], 10, 6)).toEqual([[0, 2, 4, 7, 8, 9], [1, 2, 3, 4, 8, 9]]);
});
