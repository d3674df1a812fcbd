// The pool of shuffled pages the tuner times and checks paged variants on: every position of every request
// lands in its own slot of the page its block-table entry names, the table is a permutation of the pool's
// pages, and the slots past a request's last position stay 0.

import { describe, expect, it } from "vitest";
import { pagedLayout } from "../../autotune/paged_cache.js";
import { rng } from "../../reference/random.js";

describe("the tuner's paged layout", () => {
  it.each([
    ["16-bit elements, a partial last page", 3, 2, 37, 8, 16, (length: number): Uint16Array | Uint8Array => new Uint16Array(length)],
    ["FP8 bytes, pages of 1", 2, 3, 5, 4, 1, (length: number): Uint16Array | Uint8Array => new Uint8Array(length)],
  ] as const)("moves %s into shuffled pages", (_label, batch, kvHeads, n, headDim, page, make) => {
    const layout = pagedLayout(batch, kvHeads, n, headDim, page, rng(11));
    const pagesPerSeq = Math.ceil(n / page);
    expect(layout.pagesPerSeq).toBe(pagesPerSeq);
    expect([...layout.table].sort((a, b) => a - b)).toEqual(Array.from({ length: batch * pagesPerSeq }, (_, i) => i));
    expect(layout.table).not.toEqual(Int32Array.from({ length: batch * pagesPerSeq }, (_, i) => i)); // shuffled
    // Element e of a contiguous [batch, Hkv, n, D] cache holds e + 1 (0 marks a slot nothing was moved into).
    const bits = make(batch * kvHeads * n * headDim);
    for (let e = 0; e < bits.length; e++) bits[e] = e + 1; // wraps to 0 past the type's range, counted below
    const pool = layout.pool(bits);
    expect(pool.constructor).toBe(bits.constructor);
    expect(pool.length).toBe(layout.poolElements);
    const { page: pageStride, slot, head } = layout.strides;
    let moved = 0;
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < kvHeads; h++) {
        for (let p = 0; p < n; p++) {
          const at = layout.table[b * pagesPerSeq + Math.floor(p / page)] * pageStride + (p % page) * slot + h * head;
          const from = ((b * kvHeads + h) * n + p) * headDim;
          expect(Array.from(pool.subarray(at, at + headDim)), `request ${b}, head ${h}, position ${p}`).toEqual(Array.from(bits.subarray(from, from + headDim)));
          moved += headDim;
        }
      }
    }
    // Every other slot (past the last position of a request's last page) is 0.
    const zeros = (a: ArrayLike<number>) => Array.from(a).filter((x) => x === 0).length;
    expect(zeros(pool)).toBe(layout.poolElements - moved + zeros(bits));
  });
});
