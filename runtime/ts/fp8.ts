// FP8 E4M3 (OCP "e4m3fn": no infinities, NaN = S.1111.111, largest finite 448) on the host: rounding float64
// values to it (nearest, ties to even, saturating at +-448 as the kernels' cache writes do) and back, for
// FP8 cache inputs and the references that use the stored values.

/** The value of an E4M3 byte. */
export function fromE4M3Bits(byte: number): number {
  const sign = byte & 0x80 ? -1 : 1;
  const exp = (byte >> 3) & 0xf;
  const m = byte & 0x7;
  if (exp === 0xf && m === 0x7) return NaN;
  if (exp === 0) return sign * m * 2 ** -9; // subnormal: units of 2^-9
  return sign * (1 + m / 8) * 2 ** (exp - 7);
}

/** The non-negative finite values, in byte order (which is ascending order). */
const POSITIVE = Float64Array.from({ length: 0x7f }, (_, b) => fromE4M3Bits(b));

/** The E4M3 byte nearest to x (ties to even), saturated at +-448; NaN stays NaN. */
export function toE4M3Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7f;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.min(Math.abs(x), 448);
  let lo = 0; // the largest value <= a
  for (let hi = POSITIVE.length - 1; lo < hi; ) {
    const mid = (lo + hi + 1) >> 1;
    if (POSITIVE[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo === POSITIVE.length - 1) return sign | lo;
  const below = a - POSITIVE[lo];
  const above = POSITIVE[lo + 1] - a;
  return sign | (below < above || (below === above && lo % 2 === 0) ? lo : lo + 1);
}

/** Rounds values to E4M3: the bytes to upload and the values they hold. */
export function roundToE4M3(values: ArrayLike<number>): { bits: Uint8Array; rounded: Float64Array } {
  const bits = new Uint8Array(values.length);
  const rounded = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    bits[i] = toE4M3Bits(values[i]);
    rounded[i] = fromE4M3Bits(bits[i]);
  }
  return { bits, rounded };
}
