// Host conversions to bf16 and fp16 round to nearest, ties to even, like the GPU's.

import { expect, it } from "vitest";
import { fromBf16Bits, fromFp16Bits, toBf16Bits, toFp16Bits } from "../../runtime/ts/half.js";

it("bf16 rounds to nearest even and round-trips representable values", () => {
  expect(toBf16Bits(1)).toBe(0x3f80);
  expect(toBf16Bits(-2)).toBe(0xc000);
  expect(fromBf16Bits(toBf16Bits(1 + 2 ** -8))).toBe(1); // a tie: rounds to the even mantissa
  expect(fromBf16Bits(toBf16Bits(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
  expect(Number.isNaN(fromBf16Bits(toBf16Bits(NaN)))).toBe(true);
  for (const x of [0, 0.5, -0.75, 3.5, 1e30, -1e-30]) expect(fromBf16Bits(toBf16Bits(fromBf16Bits(toBf16Bits(x))))).toBe(fromBf16Bits(toBf16Bits(x)));
});

it("fp16 handles normal, subnormal, overflow and ties", () => {
  expect(toFp16Bits(1)).toBe(0x3c00);
  expect(toFp16Bits(-2)).toBe(0xc000);
  expect(toFp16Bits(65504)).toBe(0x7bff);
  expect(toFp16Bits(70000)).toBe(0x7c00);
  expect(fromFp16Bits(toFp16Bits(2 ** -24))).toBe(2 ** -24);
  expect(fromFp16Bits(toFp16Bits(1 + 2 ** -11))).toBe(1); // tie to even
  expect(fromFp16Bits(toFp16Bits(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
  expect(fromFp16Bits(0x3555)).toBeCloseTo(0.333251953125, 12);
});
