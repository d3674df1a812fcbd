// The host's FP8 rounding (runtime/ts/fp8.ts), which the GPU tests and the tuner use to make FP8 caches and
// their references: both OCP formats' values, nearest-even rounding and saturation, checked against values
// worked out by hand from the formats' definitions.

import { describe, expect, it } from "vitest";
import { fromFp8Bits, roundToFp8, toFp8Bits, type Fp8Format } from "../../runtime/ts/fp8.js";

describe("FP8 bytes and their values", () => {
  it.each([
    ["e4m3", 0x00, 0], ["e4m3", 0x01, 2 ** -9], ["e4m3", 0x08, 2 ** -6], ["e4m3", 0x38, 1], ["e4m3", 0x7e, 448], ["e4m3", 0xfe, -448],
    ["e5m2", 0x00, 0], ["e5m2", 0x01, 2 ** -16], ["e5m2", 0x04, 2 ** -14], ["e5m2", 0x3c, 1], ["e5m2", 0x7b, 57344], ["e5m2", 0xfb, -57344],
    ["e5m2", 0x7c, Infinity], ["e5m2", 0xfc, -Infinity],
  ] as const)("%s byte %i is %d", (format, byte, value) => {
    expect(fromFp8Bits(format, byte)).toBe(value);
  });

  it.each([["e4m3", [0x7f, 0xff]], ["e5m2", [0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff]]] as const)("%s has NaN at %j", (format, bytes) => {
    for (const b of bytes) expect(fromFp8Bits(format, b)).toBeNaN();
  });

  it.each(["e4m3", "e5m2"] as const)("every finite %s value rounds to its own byte", (format: Fp8Format) => {
    for (let b = 0; b < 256; b++) {
      const v = fromFp8Bits(format, b);
      if (!Number.isFinite(v) || (v === 0 && b !== 0x00 && b !== 0x80)) continue;
      expect(toFp8Bits(format, v)).toBe(b);
    }
  });
});

describe("rounding to FP8", () => {
  it("rounds to nearest with ties to even, in both formats", () => {
    // E4M3 near 1: neighbours 1 (0x38) and 1.125 (0x39); the midpoint goes to the even byte.
    expect(toFp8Bits("e4m3", 1.0625)).toBe(0x38);
    expect(toFp8Bits("e4m3", 1.07)).toBe(0x39);
    // E5M2 near 1: neighbours 1 (0x3c) and 1.25 (0x3d); 1.375 lies between 1.25 and 1.5 (0x3e), a tie to 0x3e.
    expect(toFp8Bits("e5m2", 1.125)).toBe(0x3c);
    expect(toFp8Bits("e5m2", 1.375)).toBe(0x3e);
  });

  it("saturates beyond the largest finite value, infinities too, and keeps NaN", () => {
    expect(toFp8Bits("e4m3", 1000)).toBe(0x7e);
    expect(toFp8Bits("e4m3", -Infinity)).toBe(0xfe);
    expect(toFp8Bits("e5m2", 1e6)).toBe(0x7b);
    expect(toFp8Bits("e5m2", Infinity)).toBe(0x7b);
    expect(fromFp8Bits("e5m2", toFp8Bits("e5m2", NaN))).toBeNaN();
    expect(fromFp8Bits("e4m3", toFp8Bits("e4m3", NaN))).toBeNaN();
  });

  it("gives the bytes and the values they hold", () => {
    const { bits, rounded } = roundToFp8("e5m2", [3, -0.3, 70000]);
    expect(Array.from(bits)).toEqual([0x42, 0xb5, 0x7b]);
    expect(Array.from(rounded)).toEqual([3, -0.3125, 57344]);
  });
});
