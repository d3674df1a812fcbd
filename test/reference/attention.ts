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

/** out[b,h] = softmax(scale * q[b,h] . K[b, h/G, :n]) V[b, h/G, :n] with n = seqlens[b]. */
export function decodeAttentionReference(p: DecodeProblem): DecodeResult {
  const { batch: B, numQHeads: Hq, numKvHeads: Hkv, headDim: D } = p;
  const G = Hq / Hkv;
  const out = new Float64Array(B * Hq * D);
  const lse = new Float64Array(B * Hq);
  const [qb, qh] = p.q.strides;
  const [kb, kh, kn] = p.k.strides;
  const [vb, vh, vn] = p.v.strides;
  for (let b = 0; b < B; b++) {
    const n = p.seqlens[b];
    const scores = new Float64Array(n);
    for (let h = 0; h < Hq; h++) {
      const kv = Math.floor(h / G);
      const qo = b * qb + h * qh;
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        const ko = b * kb + kv * kh + j * kn;
        let s = 0;
        for (let d = 0; d < D; d++) s += p.q.data[qo + d] * p.k.data[ko + d];
        scores[j] = s * p.scale;
        if (scores[j] > max) max = scores[j];
      }
      let sum = 0;
      for (let j = 0; j < n; j++) {
        scores[j] = Math.exp(scores[j] - max);
        sum += scores[j];
      }
      const oo = (b * Hq + h) * D;
      for (let j = 0; j < n; j++) {
        const w = scores[j] / sum;
        const vo = b * vb + kv * vh + j * vn;
        for (let d = 0; d < D; d++) out[oo + d] += w * p.v.data[vo + d];
      }
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
