// The FP8 formats of the OCP standard on the host: rounding float64 values to them (nearest, ties to even,
// saturating at the largest finite value as the kernels' cache writes do) and back, for FP8 cache inputs and
// the references that use the stored values.
//   E4M3 ("e4m3fn"): 4 exponent bits (bias 7), 3 mantissa bits, no infinities, NaN = S.1111.111, largest 448.
//   E5M2: 5 exponent bits (bias 15), 2 mantissa bits, IEEE-like: infinities and NaNs at exponent 31, largest 57344.

export type Fp8Format = "e4m3" | "e5m2";

const LAYOUT: Readonly<Record<Fp8Format, { mantissaBits: number; bias: number; largestByte: number; nanByte: number }>> = {
  e4m3: { mantissaBits: 3, bias: 7, largestByte: 0x7e, nanByte: 0x7f },
  e5m2: { mantissaBits: 2, bias: 15, largestByte: 0x7b, nanByte: 0x7f },
};

/** The value of an FP8 byte. */
export function fromFp8Bits(format: Fp8Format, byte: number): number {
  const { mantissaBits, bias, largestByte } = LAYOUT[format];
  const sign = byte & 0x80 ? -1 : 1;
  const magnitude = byte & 0x7f;
  if (magnitude > largestByte) return format === "e5m2" && magnitude === 0x7c ? sign * Infinity : NaN;
  const exp = magnitude >> mantissaBits;
  const m = magnitude & ((1 << mantissaBits) - 1);
  const unit = 2 ** -mantissaBits;
  if (exp === 0) return sign * m * unit * 2 ** (1 - bias); // subnormal
  return sign * (1 + m * unit) * 2 ** (exp - bias);
}

/** Each format's non-negative finite values, in byte order (which is ascending order). */
const POSITIVE: Readonly<Record<Fp8Format, Float64Array>> = {
  e4m3: Float64Array.from({ length: LAYOUT.e4m3.largestByte + 1 }, (_, b) => fromFp8Bits("e4m3", b)),
  e5m2: Float64Array.from({ length: LAYOUT.e5m2.largestByte + 1 }, (_, b) => fromFp8Bits("e5m2", b)),
};

/** The FP8 byte nearest to x (ties to even), saturated at the largest finite value (infinities too); NaN stays NaN. */
export function toFp8Bits(format: Fp8Format, x: number): number {
  if (Number.isNaN(x)) return LAYOUT[format].nanByte;
  const values = POSITIVE[format];
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.min(Math.abs(x), values[values.length - 1]);
  let lo = 0; // the largest value <= a
  for (let hi = values.length - 1; lo < hi; ) {
    const mid = (lo + hi + 1) >> 1;
    if (values[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo === values.length - 1) return sign | lo;
  const below = a - values[lo];
  const above = values[lo + 1] - a;
  return sign | (below < above || (below === above && lo % 2 === 0) ? lo : lo + 1);
}

/** Rounds values to an FP8 format: the bytes to upload and the values they hold. */
export function roundToFp8(format: Fp8Format, values: ArrayLike<number>): { bits: Uint8Array; rounded: Float64Array } {
  const bits = new Uint8Array(values.length);
  const rounded = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    bits[i] = toFp8Bits(format, values[i]);
    rounded[i] = fromFp8Bits(format, bits[i]);
  }
  return { bits, rounded };
}
