// Float64 reference of decode attention, the definition the GPU kernels are checked against.

/** A rank-4 strided view of host values (the same layout the kernel reads). */
export interface Strided {
  readonly data: Float64Array;
  readonly strides: readonly number[];
}

export interface DecodeProblem {
  readonly batch: number;
  readonly numQHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly seqlens: readonly number[];
  readonly scale: number;
  /** [B, Hq, D] */
  readonly q: Strided;
  /** [B, Hkv, Nmax, D] */
  readonly k: Strided;
  readonly v: Strided;
}

export interface DecodeResult {
  /** [B, Hq, D], contiguous */
  readonly out: Float64Array;
  /** [B, Hq]: natural-log log-sum-exp of the scaled scores */
  readonly lse: Float64Array;
}

/**
 * out[b,h] = softmax(scale * q[b,h] . K[b, h/G, rows]) V[b, h/G, rows], with rows the positions 0..n-1
 * (n = seqlens[b]), or the positions `rows(b, h)` gives for sparse attention.
 */
export function decodeAttentionReference(p: DecodeProblem, rows?: (b: number, h: number) => readonly number[]): DecodeResult {
  const { batch: B, numQHeads: Hq, numKvHeads: Hkv, headDim: D } = p;
  const G = Hq / Hkv;
  const out = new Float64Array(B * Hq * D);
  const lse = new Float64Array(B * Hq);
  const [qb, qh] = p.q.strides;
  const [kb, kh, kn] = p.k.strides;
  const [vb, vh, vn] = p.v.strides;
  for (let b = 0; b < B; b++) {
    const all = Array.from({ length: p.seqlens[b] }, (_, j) => j);
    for (let h = 0; h < Hq; h++) {
      const positions = rows ? rows(b, h) : all;
      const scores = new Float64Array(positions.length);
      const kv = Math.floor(h / G);
      const qo = b * qb + h * qh;
      let max = -Infinity;
      positions.forEach((j, i) => {
        const ko = b * kb + kv * kh + j * kn;
        let s = 0;
        for (let d = 0; d < D; d++) s += p.q.data[qo + d] * p.k.data[ko + d];
        scores[i] = s * p.scale;
        if (scores[i] > max) max = scores[i];
      });
      let sum = 0;
      for (let i = 0; i < scores.length; i++) {
        scores[i] = Math.exp(scores[i] - max);
        sum += scores[i];
      }
      const oo = (b * Hq + h) * D;
      positions.forEach((j, i) => {
        const w = scores[i] / sum;
        const vo = b * vb + kv * vh + j * vn;
        for (let d = 0; d < D; d++) out[oo + d] += w * p.v.data[vo + d];
      });
      lse[b * Hq + h] = max + Math.log(sum);
    }
  }
  return { out, lse };
}

/** ||a - b|| / ||b|| over all elements (NaN if a has a non-finite value). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(a[i])) return NaN;
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}
