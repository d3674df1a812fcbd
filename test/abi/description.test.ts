// The ABI description is checked before anything is generated from it: a slip in codegen/abi/functions.ts
// (a stride no tensor owns, a shape naming no argument, a requirement naming no argument) is an error
// naming the function, never a binding that passes arguments in the wrong place.

import { describe, expect, it } from "vitest";
import { argumentChecks } from "../../codegen/abi/c_wrappers.js";
import { ABI_FUNCTIONS } from "../../codegen/abi/functions.js";
import { validateFunction, type AbiFunction, type TensorParam } from "../../codegen/abi/params.js";

const good: AbiFunction = {
  name: "lim_example",
  doc: ["an example"],
  params: [
    { kind: "tensor", name: "x", element: "f32", access: "out", doc: "[rows, cols]", shape: ["rows", "cols"], strides: ["x_stride", "1"] },
    { kind: "stride", name: "x_stride", doc: "row stride" },
    { kind: "size", name: "rows", doc: "rows" },
    { kind: "size", name: "cols", doc: "columns" },
    { kind: "stream", name: "stream", doc: "stream" },
  ],
  requires: [{ check: "cols <= x_stride", message: "cols ({cols}) must fit in x_stride ({x_stride})" }],
};

describe("the ABI description", () => {
  it("every function of the library is coherent", () => {
    for (const fn of ABI_FUNCTIONS) expect(() => validateFunction(fn), fn.name).not.toThrow();
    expect(new Set(ABI_FUNCTIONS.map((f) => f.name)).size).toBe(ABI_FUNCTIONS.length);
  });

  it("a coherent one checks every argument", () => {
    validateFunction(good);
    const checks = argumentChecks(good).join("\n");
    expect(checks).toContain('size_in(fn, "rows", rows, 1, lim_capi::kSizeMax, "rows")');
    expect(checks).toContain('pointer(fn, "x", x, 4, /*optional=*/false');
    expect(checks).toContain('stride(fn, "x_stride", x_stride, 1, "x")');
    expect(checks).toContain('no_overlap(fn, "x", {{"rows", rows, "x_stride", x_stride}, {"cols", cols, "the contiguous cols dimension", 1}})');
    expect(checks).toContain('": cols (" + std::to_string(cols) + ") must fit in x_stride (" + std::to_string(x_stride) + ")"');
  });

  it.each([
    ["a stride no tensor owns", { ...good, params: [...good.params, { kind: "stride", name: "y_stride", doc: "?" }] }, /lim_example: stride y_stride belongs to no tensor/],
    ["a shape naming no argument", { ...good, params: [{ ...good.params[0], shape: ["rows", "width"] }, ...good.params.slice(1)] }, /lim_example: x's shape names 'width', which is no argument/],
    ["a last dimension that is not contiguous", { ...good, params: [{ ...good.params[0], strides: ["x_stride", "x_stride"] }, ...good.params.slice(1)] }, /x's last dimension must be contiguous/],
    ["two arguments of one name", { ...good, params: [...good.params, { kind: "size", name: "rows", doc: "again" }] }, /two arguments share a name/],
  ] as [string, AbiFunction, RegExp][])("%s is refused", (_label, fn, message) => {
    expect(() => validateFunction(fn)).toThrow(message);
  });

  it("a requirement naming no argument is refused", () => {
    expect(() => argumentChecks({ ...good, requires: [{ check: "true", message: "{nothing}" }] })).toThrow(/names \{nothing\}, which is no argument/);
  });
});

describe("the paged functions derived from the contiguous ones", () => {
  const byName = new Map(ABI_FUNCTIONS.map((f) => [f.name, f]));
  const paged = ABI_FUNCTIONS.filter((f) => f.name.startsWith("lim_paged_") && !f.name.endsWith("_workspace_size"));

  it("exist for every function that takes a cache", () => {
    const withCaches = ABI_FUNCTIONS.filter((f) => /^lim_(?!paged_|fp8_)/.test(f.name) && f.params.some((p) => p.name === "cache_capacity"));
    expect(withCaches.map((f) => f.name).sort()).toEqual(paged.map((f) => f.name.replace("lim_paged_", "lim_")).sort());
  });

  it.each(paged.map((f) => [f.name, f] as const))("%s takes the contiguous arguments, with pools and a block table for the caches", (name, fn) => {
    const contiguous = byName.get(name.replace("lim_paged_", "lim_"))!;
    const names = fn.params.map((p) => p.name);
    expect(names).not.toContain("cache_capacity");
    for (const n of ["block_table", "block_table_stride", "block_table_rows", "num_table_rows", "num_pages", "page_size", "max_pages_per_seq"]) expect(names, n).toContain(n);
    // Everything else the contiguous function takes, in the same order, except the caches' strides.
    const kept = contiguous.params.map((p) => p.name).filter((n) => n !== "cache_capacity" && !/^(k|v|cache)_stride_[bhn]$/.test(n));
    expect(names.filter((n) => kept.includes(n))).toEqual(kept);
    for (const cache of fn.params.filter((p) => p.kind === "tensor" && (p.name === "k_cache" || p.name === "v_cache"))) {
      expect(cache.kind === "tensor" && cache.shape).toEqual(["num_pages", "page_size", "num_kv_heads", "head_dim"]);
    }
    expect(fn.requires?.map((r) => r.check)).toContain("(page_size & (page_size - 1)) == 0");
  });
});

describe("the FP8 functions derived from the contiguous and paged ones", () => {
  const byName = new Map(ABI_FUNCTIONS.map((f) => [f.name, f]));
  const fp8 = ABI_FUNCTIONS.filter((f) => f.name.startsWith("lim_fp8_") && !f.name.endsWith("_workspace_size"));
  const isCache = (name: string) => name === "k_cache" || name === "v_cache";

  it("exist for every function that reads or writes caches (the gather's dequantise)", () => {
    const withCaches = ABI_FUNCTIONS.filter((f) => !f.name.startsWith("lim_fp8_") && f.params.some((p) => isCache(p.name)));
    expect(fp8.map((f) => f.name.replace("lim_fp8_", "lim_")).sort()).toEqual(withCaches.map((f) => f.name).sort());
    for (const f of ABI_FUNCTIONS.filter((f) => /_attention_workspace_size$/.test(f.name) && !f.name.startsWith("lim_fp8_"))) {
      expect(byName.has(f.name.replace("lim_", "lim_fp8_")), `${f.name}'s FP8 twin`).toBe(true);
    }
  });

  it.each(fp8.map((f) => [f.name, f] as const))("%s takes its twin's arguments, FP8 caches, their scales and format before the dtype", (name, fn) => {
    const twin = byName.get(name.replace("lim_fp8_", "lim_"))!;
    const names = fn.params.map((p) => p.name);
    const dtype = twin.params.findIndex((p) => p.kind === "dtype");
    expect(names).toEqual([...twin.params.slice(0, dtype).map((p) => p.name), "k_scale", "v_scale", "scale_heads", "kv_dtype", ...twin.params.slice(dtype).map((p) => p.name)]);
    for (const p of fn.params.filter((p) => isCache(p.name))) expect(p.kind === "tensor" && p.element).toBe("fp8");
    expect(fn.params.find((p) => p.name === "kv_dtype")).toMatchObject({ kind: "dtype", allowed: ["e4m3", "e5m2"] });
    expect(fn.requires?.map((r) => r.check)).toContain("scale_heads == 1 || scale_heads == num_kv_heads");
    // FP8 rows are 16 elements per 16 bytes: the wrapper asks their strides for multiples of 16.
    const checks = argumentChecks(fn).join("\n");
    const strides = fn.params.filter((p): p is TensorParam => p.kind === "tensor" && isCache(p.name)).flatMap((p) => (p.strides ?? []).filter((s) => s !== "1"));
    for (const s of strides) expect(checks, `${name}'s ${s}`).toContain(`stride(fn, "${s}", ${s}, 16,`);
    expect(checks).toContain(`one_of(fn, "kv_dtype", kv_dtype, {LIM_DTYPE_E4M3, LIM_DTYPE_E5M2}`);
  });

  it.each(ABI_FUNCTIONS.filter((f) => /^lim_fp8_.*_workspace_size$/.test(f.name)).map((f) => [f.name, f] as const))("%s takes its twin's arguments and the caches' format", (name, fn) => {
    const twin = byName.get(name.replace("lim_fp8_", "lim_"))!;
    const dtype = twin.params.findIndex((p) => p.kind === "dtype");
    expect(fn.params.map((p) => p.name)).toEqual([...twin.params.slice(0, dtype).map((p) => p.name), "kv_dtype", ...twin.params.slice(dtype).map((p) => p.name)]);
  });
});
