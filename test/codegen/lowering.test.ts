// Inline snapshots of lowered DSL: what each construct becomes in CUDA.

import { describe, expect, it } from "vitest";
import { lowerTiny } from "../helpers/tiny_kernel.js";

describe("lowering", () => {
  it("writes compile-time values as constexpr and run-time ones as const", () => {
    expect(lowerTiny("  const VEC = 16 / sizeof(c.dtype);\n  const row = blockIdx.x * VEC + threadIdx.x;")).toMatchInlineSnapshot(`
      "constexpr int VEC = 8;
      const int row = static_cast<int>(blockIdx.x) * VEC + static_cast<int>(threadIdx.x);"
    `);
  });

  it("unrolls unroll() loops and indexes register arrays", () => {
    expect(lowerTiny('  const acc = regs("f32", [2, 4], 0.0);\n  for (const i of unroll(2)) for (const j of unroll(4)) acc[i][j] = acc[i][j] * scale;')).toMatchInlineSnapshot(`
      "float acc[2][4]; lim::fill(acc, 0.0f);
      #pragma unroll
      for (int i = 0; i < 2; ++i) {
        #pragma unroll
        for (int j = 0; j < 4; ++j) {
          acc[i][j] = acc[i][j] * scale;
        }
      }"
    `);
  });

  it("turns tensor reads, vector loads and stores into lim:: calls", () => {
    expect(lowerTiny('  const v = regs("f32", [8]);\n  loadVec(v, x.ref(blockIdx.x, 0));\n  y.store(v[0] + x.at(0, 1), 0, 0);\n  if (present(opt)) opt.store(max(v[1], 0.0), 0);')).toMatchInlineSnapshot(`
      "float v[8];
      lim::load_vec(v, x.ptr_at(static_cast<int>(blockIdx.x), 0));
      y.store(v[0] + x.load(0, 1), 0, 0);
      if (opt.present()) {
        opt.store(fmaxf(v[1], 0.0f), 0);
      }"
    `);
  });

  it("writes local functions as lambdas and range() loops with an unroll hint", () => {
    expect(lowerTiny("  const twice = (a: i32) => a * 2;\n  let total = 0;\n  for (const k of range(0, twice(3), 1, 4)) total += k;")).toMatchInlineSnapshot(`
      "auto twice = [&](int a) -> int {
        return a * 2;
      };
      int total = 0;
      #pragma unroll 4
      for (int k = 0; k < twice(3); ++k) {
        total += k;
      }"
    `);
  });

  it("parenthesizes a loop bound that is a comparison or a conditional (it sits right of <)", () => {
    expect(lowerTiny("  let total = 0;\n  const a = threadIdx.x;\n  for (const k of range(a, a < 8 ? 64 : 0, 8)) total += k;")).toMatchInlineSnapshot(`
      "int total = 0;
      const int a = static_cast<int>(threadIdx.x);
      for (int k = a; k < (a < 8 ? 64 : 0); k += 8) {
        total += k;
      }"
    `);
  });

  it("parenthesizes by C precedence and converts 16-bit shared elements", () => {
    expect(lowerTiny('  const t = shared("bf16", [32]);\n  t[threadIdx.x] = scale * 2.0;\n  const a = (threadIdx.x + 1) * (threadIdx.x & 3);\n  const b: f32 = t[0] - (t[1] - 1.0);')).toMatchInlineSnapshot(`
      "auto& t = *reinterpret_cast<__nv_bfloat16 (*)[32]>(lim_smem + 0);  /* shared bytes 0..63 */
      t[static_cast<int>(threadIdx.x)] = lim::convert<__nv_bfloat16>(scale * 2.0f);
      const int a = (static_cast<int>(threadIdx.x) + 1) * (static_cast<int>(threadIdx.x) & 3);
      const float b = lim::to_f32(t[0]) - (lim::to_f32(t[1]) - 1.0f);"
    `);
  });
});
