// Cache layouts in the front end: a cache tensor names a layout constant, page() and pageRef() address its
// rows (a block-table lookup for a paged variant, the request's own rows for a contiguous one), and the
// mistakes a kernel author can make are refused naming the parameter.

import { describe, expect, it } from "vitest";
import { DslError } from "../../codegen/frontend/diagnostics.js";
import { Emitter } from "../../codegen/lower/emit.js";
import { compileTiny } from "../helpers/tiny_kernel.js";

const CACHE = 'k: Tensor<"dtype", ["B", "H", "N", "D"], "cache">, y: Out<"dtype", ["B", "H", "N", "D"], "cache">';
const BODY = "  const p = k.page(blockIdx.x, 5);\n  if (p >= 0) copyVec(y.pageRef(p, 0, 5, 0), k.pageRef(p, 0, 5, 0), 8);";

function lowered(cache: string): { text: string; layouts: (string | undefined)[] } {
  const ir = compileTiny(BODY, { params: CACHE, constants: { D: 128, dtype: "bf16", cache } });
  const e = new Emitter();
  e.stmts(ir.body, 0);
  return { text: e.text(), layouts: ir.params.map((p) => (p.kind === "tensor" ? p.layout : undefined)) };
}

function errorOf(body: string, params: string, cache = "paged"): DslError {
  try {
    compileTiny(body, { params, constants: { D: 128, dtype: "bf16", cache } });
  } catch (e) {
    if (e instanceof DslError) return e;
    throw e;
  }
  throw new Error("expected a DslError");
}

describe("cache layouts", () => {
  it("reads each cache tensor's layout from its constant, and lowers page() and pageRef() for either", () => {
    for (const cache of ["paged", "contiguous"]) {
      const { text, layouts } = lowered(cache);
      expect(layouts).toEqual([cache, cache]);
      expect(text).toContain("const int p = k.page(static_cast<int>(blockIdx.x), 5);");
      expect(text).toContain("y.page_ref(p, 0, 5, 0)");
    }
  });

  it("refuses a layout naming a constant that is no layout", () => {
    const e = errorOf("  return;", 'k: Tensor<"dtype", ["B", "H", "N", "D"], "dtype">');
    expect(e.kind).toBe("bad-spec");
    expect(e.summary).toMatch(/the layout of 'k' must name a constant whose value is "contiguous" or "paged"/);
  });

  it("refuses a layout on a tensor that is not [requests, heads, positions, head dim]", () => {
    const e = errorOf("  return;", 'k: Tensor<"dtype", ["B", "D"], "cache">');
    expect(e.summary).toMatch(/'k' has a layout but 2 dimensions; a cache tensor has four/);
  });

  it("lowers stageRow() and stagedRef(): a row's address staged in shared memory, its words read back, head and element added by each reader", () => {
    const body = '  const slots = shared("u32", [4, 2]);\n  const p = k.page(blockIdx.x, 5);\n  k.stageRow(slots.ref(1, 0), p, 5);\n  copyVec(y.pageRef(p, 0, 5, 0), k.stagedRef(slots[1][0], slots[1][1], 2, 8), 8);';
    for (const cache of ["paged", "contiguous"]) {
      const ir = compileTiny(body, { params: CACHE, constants: { D: 128, dtype: "bf16", cache } });
      const e = new Emitter();
      e.stmts(ir.body, 0);
      expect(e.text()).toContain("k.stage_row(&slots[1][0], p, 5);");
      expect(e.text()).toContain("k.staged_ref(slots[1][0], slots[1][1], 2, 8)");
    }
  });

  it("lowers page() in two steps: pageEntry() loads the entry, checkedPage() checks it where it is used", () => {
    const body = "  const e = k.pageEntry(blockIdx.x, 5);\n  const p = k.checkedPage(blockIdx.x, 5, e);\n  if (p >= 0) copyVec(y.pageRef(p, 0, 5, 0), k.pageRef(p, 0, 5, 0), 8);";
    const ir = compileTiny(body, { params: CACHE, constants: { D: 128, dtype: "bf16", cache: "paged" } });
    const e = new Emitter();
    e.stmts(ir.body, 0);
    expect(e.text()).toContain("const int e = k.page_entry(static_cast<int>(blockIdx.x), 5);");
    expect(e.text()).toContain("const int p = k.checked_page(static_cast<int>(blockIdx.x), 5, e);");
    expect(errorOf("  const p = k.checkedPage(0, 5);", CACHE).summary).toMatch(/checkedPage\(\) takes \(request, position, entry\) of a cache tensor/);
  });

  it("refuses a staged row's slot that is not u32 words of shared memory, naming the tensor", () => {
    const e = errorOf('  const slots = shared("i32", [2]);\n  k.stageRow(slots.ref(0), 0, 5);', CACHE);
    expect(e.kind).toBe("type-mismatch");
    expect(e.summary).toMatch(/the slot of k\.stageRow\(\) is two u32 words of shared memory/);
    // stagedRef() takes the slot's two words as values (u32), so that a thread can read several rows' words first.
    const f = errorOf("  const r = k.stagedRef(k.ref(0, 0, 0, 0), 0, 0, 0);", CACHE);
    expect(f.summary).toMatch(/low of k\.stagedRef\(\): expected u32/);
    const g = errorOf("  const w = blockIdx.x;\n  copyVec(y.pageRef(0, 0, 5, 0), k.stagedRef(u32(w), w, 0, 0), 8);", CACHE);
    expect(g.summary).toMatch(/high of k\.stagedRef\(\): expected u32, got i32/);
    const h = errorOf('  const slots = shared("u32", [2]);\n  copyVec(y.pageRef(0, 0, 5, 0), k.stagedRef(slots[0], slots[1], 0), 8);', CACHE);
    expect(h.summary).toMatch(/stagedRef\(\) takes \(low, high, head, element\)/);
    // The address is one 8-byte access: an odd word, or rows of an odd number of words, would misalign it.
    const odd = errorOf('  const slots = shared("u32", [4, 2]);\n  k.stageRow(slots.ref(0, 1), 0, 5);', CACHE);
    expect(odd.summary).toMatch(/must be an 8-byte aligned word pair/);
    const oddRows = errorOf('  const slots = shared("u32", [4, 3]);\n  k.stageRow(slots.ref(1, 0), 0, 5);', CACHE);
    expect(oddRows.summary).toMatch(/must be an 8-byte aligned word pair/);
  });

  it("lowers prefetchRow() and peek(): a row warmed in the L2 ahead of the preceding kernel, its position peeked from a list", () => {
    const params = `${CACHE}, idx: Tensor<"i32", ["B", "K"]>`;
    const body = "  const pos = peek(idx.ref(blockIdx.x, 3));\n  if (pos >= 0) k.prefetchRow(blockIdx.x, 0, pos, 128);";
    for (const cache of ["paged", "contiguous"]) {
      const ir = compileTiny(body, { params, constants: { D: 128, dtype: "bf16", cache } });
      const e = new Emitter();
      e.stmts(ir.body, 0);
      expect(e.text()).toContain("const int pos = lim::peek(idx.ptr_at(static_cast<int>(blockIdx.x), 3));");
      expect(e.text()).toContain("k.prefetch_row(static_cast<int>(blockIdx.x), 0, pos, 128);");
    }
    expect(errorOf("  k.prefetchRow(0, 0, 5);", CACHE).summary).toMatch(/prefetchRow\(\) takes \(request, head, position, elements\) of a cache tensor/);
    expect(errorOf("  const v = peek(k.ref(0, 0, 0, 0));", CACHE).summary).toMatch(/peek\(\) reads an i32 in device memory, got global location of bf16/);
    expect(errorOf('  const sh = shared("i32", [4]);\n  const v = peek(sh.ref(0));', CACHE).summary).toMatch(/peek\(\) reads an i32 in device memory/);
  });

  it("refuses page() on a tensor without a layout", () => {
    const e = errorOf("  const p = x.page(0, 1);", 'x: Tensor<"dtype", ["B", "H", "N", "D"]>');
    expect(e.kind).toBe("type-mismatch");
    expect(e.summary).toMatch(/page\(\) takes \(request, position\) of a cache tensor \(one declared with a layout\)/);
  });
});
