// Caches whose unread elements are NaN, for the references' inputs (the tuner's checks and the tests): a kernel
// that reads past a sequence's length (or into a stride's padding) then shows it in its output, where zeros or
// stale values would hide it.

/** The element strides of a [B, Hkv, N, D] cache. */
export interface CacheStrides {
  b: number;
  h: number;
  n: number;
}

/**
 * Sets every element of `bits` (a cache's element bits: 16-bit halves, or FP8 bytes) to all ones (NaN in bf16,
 * fp16, E4M3 and E5M2), except the D elements of each row below its request's length.
 */
export function poisonPastLengths(bits: Uint16Array | Uint8Array, seqlens: readonly number[], kvHeads: number, headDim: number, s: CacheStrides): void {
  const kept = bits.slice();
  bits.fill(bits instanceof Uint8Array ? 0xff : 0xffff);
  seqlens.forEach((length, b) => {
    for (let h = 0; h < kvHeads; h++) {
      for (let n = 0; n < length; n++) {
        const row = b * s.b + h * s.h + n * s.n;
        bits.set(kept.subarray(row, row + headDim), row);
      }
    }
  });
}
