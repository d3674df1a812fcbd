// The paged layout the tuner times and checks paged decode_attention variants on: vLLM's pool of NHD pages
// ([pages, page, Hkv, D]) in shuffled order, one block-table row per request. The page size is a run-time
// argument of the paged kernels, so one layout stands for every page size: pages of 16, the engines' usual.

/** Positions per page the tuner's paged calls use. */
export const TUNED_PAGE = 16;

/** Where each request's positions lie in a shuffled pool of pages, and the element strides of the pool. */
export interface PagedLayout {
  readonly page: number;
  readonly pagesPerSeq: number;
  readonly numPages: number;
  /** [batch, pagesPerSeq] page ids */
  readonly table: Int32Array;
  /** Elements of one pool (K or V). */
  readonly poolElements: number;
  readonly strides: { page: number; slot: number; head: number };
  /** A cache's element bits [batch, Hkv, N, D] (contiguous) moved into a pool of this layout (unused slots 0). */
  pool<T extends Uint16Array | Uint8Array>(bits: T): T;
}

/** Requests of `n` positions each (Hkv heads of `headDim`) in pages of `page`, the page ids shuffled by `next`. */
export function pagedLayout(batch: number, kvHeads: number, n: number, headDim: number, page: number, next: () => number): PagedLayout {
  const pagesPerSeq = Math.ceil(n / page);
  const numPages = batch * pagesPerSeq;
  const ids = Int32Array.from({ length: numPages }, (_, i) => i);
  for (let i = numPages - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  const strides = { page: page * kvHeads * headDim, slot: kvHeads * headDim, head: headDim };
  return {
    page, pagesPerSeq, numPages, table: ids, poolElements: numPages * strides.page, strides,
    pool<T extends Uint16Array | Uint8Array>(bits: T): T {
      const out = new (bits.constructor as { new (length: number): T })(numPages * strides.page);
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < kvHeads; h++) {
          for (let p = 0; p < n; p++) {
            const from = ((b * kvHeads + h) * n + p) * headDim;
            const to = ids[b * pagesPerSeq + Math.floor(p / page)] * strides.page + (p % page) * strides.slot + h * strides.head;
            out.set(bits.subarray(from, from + headDim), to);
          }
        }
      }
      return out;
    },
  };
}
