// 16-bit floating-point formats on the host: rounding float64 values to bf16 or fp16 (nearest, ties to
// even) and back, for uploading test and benchmark inputs and for references that use the rounded values.

export type HalfType = "bf16" | "fp16";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toBf16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return 0x7fc0; // NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function fromBf16Bits(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

export function toFp16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // rounds to infinity
  if (a < 2 ** -24 / 2) return sign; // rounds to zero
  let exp = Math.floor(Math.log2(a));
  if (exp < -14) {
    // Subnormal: units of 2^-24.
    const m = roundHalfEven(a / 2 ** -24);
    return sign | m;
  }
  let m = roundHalfEven((a / 2 ** exp - 1) * 1024);
  if (m === 1024) {
    m = 0;
    exp += 1;
  }
  if (exp > 15) return sign | 0x7c00;
  return sign | ((exp + 15) << 10) | m;
}

export function fromFp16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (exp === 0) return sign * m * 2 ** -24;
  if (exp === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (exp - 15);
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Rounds values to a 16-bit type: returns the bits to upload and the rounded values. */
export function roundTo(type: HalfType, values: ArrayLike<number>): { bits: Uint16Array; rounded: Float64Array } {
  const bits = new Uint16Array(values.length);
  const rounded = new Float64Array(values.length);
  const to = type === "bf16" ? toBf16Bits : toFp16Bits;
  const from = type === "bf16" ? fromBf16Bits : fromFp16Bits;
  for (let i = 0; i < values.length; i++) {
    bits[i] = to(values[i]);
    rounded[i] = from(bits[i]);
  }
  return { bits, rounded };
}

/** Decodes 16-bit values. */
export function decode(type: HalfType, bits: Uint16Array): Float64Array {
  const from = type === "bf16" ? fromBf16Bits : fromFp16Bits;
  const out = new Float64Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = from(bits[i]);
  return out;
}
