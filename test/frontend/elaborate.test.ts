// What the front end computes: compile-time folding, literal typing, shared-memory layout, parameters.

import { describe, expect, it } from "vitest";
import { compileTiny } from "../helpers/tiny_kernel.js";

describe("elaboration", () => {
  it("folds compile-time integers with C semantics and keeps them as constexpr", () => {
    const ir = compileTiny("  const VEC = 16 / sizeof(c.dtype);\n  const LANES = c.D / VEC;\n  const NEG = -7 / 2;");
    const decls = ir.body.filter((s) => s.k === "decl");
    expect(decls.map((d) => [d.name, d.constValue])).toEqual([["VEC", 8], ["LANES", 16], ["NEG", -3]]);
  });

  it("gives integer literals the type of the other operand", () => {
    const ir = compileTiny("  const a: f32 = 2.5;\n  const b = a * 2;\n  const i = blockIdx.x + 1;");
    const [, b, i] = ir.body.filter((s) => s.k === "decl");
    expect(b.t).toBe("f32");
    expect(i.t).toBe("i32");
  });

  it("lets arrays of sibling scopes share shared memory, and aligns offsets to 128-byte lines", () => {
    const ir = compileTiny(
      '  {\n    const a = shared("f32", [1000]);\n  }\n  {\n    const b = shared("bf16", [3]);\n    const c2 = shared("f32", [10]);\n  }',
    );
    const blocks = ir.body.filter((s) => s.k === "block");
    const arrays = blocks.flatMap((b) => (b.k === "block" ? b.body : [])).filter((s) => s.k === "shared");
    expect(arrays.map((s) => (s.k === "shared" ? [s.name, s.offset] : []))).toEqual([["a", 0], ["b", 0], ["c2", 128]]);
    expect(ir.sharedBytes).toBe(4000);
  });

  it("reads tensors, sizes and scalars from the signature", () => {
    const ir = compileTiny("  return;");
    expect(ir.params.map((p) => (p.kind === "tensor" ? `${p.name}:${p.access}:${p.elem}[${p.dims.join(",")}]` : `${p.name}:${p.type}`))).toEqual([
      "x:in:bf16[B,128]",
      "y:out:f32[B,128]",
      "opt:maybe-out:f32[B]",
      "scale:f32",
    ]);
    expect(ir.sizes).toEqual(["B"]);
  });

  it("numbers raise() sites in source order", () => {
    const ir = compileTiny('  raise("first {0}", 1, 2, 3);\n  raise("second", 0, 0, 0);');
    expect(ir.raises.map((r) => [r.message, r.pos.line])).toEqual([["first {0}", 2], ["second", 3]]);
  });
});
