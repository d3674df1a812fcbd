// The Hopper primitives' front-end checks: barriers that no copy or arrival signals, bulk copies that are
// not whole 16-byte units, warp roles (where block-wide barriers may go), register reallocation, and the
// tensor-core fragments' shapes. Each is a DslError naming the kernel file's line and column.

import { describe, expect, it } from "vitest";
import { DslError } from "../../codegen/frontend/diagnostics.js";
import { elaborate } from "../../codegen/frontend/elaborate.js";
import { parseKernel } from "../../codegen/frontend/load.js";
import { Emitter } from "../../codegen/lower/emit.js";
import { defineKernel } from "../../dsl/lang/kernel.js";
import { TINY_FILE, tinySource } from "../helpers/tiny_kernel.js";

const PARAMS = 'x: Tensor<"dtype", ["B", "N", "D"]>, y: Out<"f32", ["B", "D"]>';

function kernel(producerWarps?: number) {
  return defineKernel({
    spec: { name: "tiny", summary: "warp roles", constants: { D: [128], dtype: ["bf16"] }, schedule: { threads: { tag: "t", values: [128] } }, grid: { x: "B" }, producerWarps },
    heuristic: () => ({ threads: 128 }),
    rules: [],
  });
}

const compile = (body: string, producerWarps?: number, threads = 128) =>
  elaborate(parseKernel(TINY_FILE, tinySource(body, PARAMS), kernel(producerWarps)), { D: 128, dtype: "bf16" }, { threads });

function errorOf(body: string, producerWarps?: number, threads?: number): DslError {
  try {
    compile(body, producerWarps, threads);
  } catch (e) {
    if (e instanceof DslError) return e;
    throw e;
  }
  throw new Error("expected a DslError, but the kernel compiled");
}

/** A producer warp filling one stage with a bulk copy of a row; the consumers wait, read and free it. */
const ROLES = `  const stage = shared("dtype", [c.D]);
  const full = barriers(1, 1);
  const empty = barriers(1, s.threads / 32);
  if (isProducer()) {
    if (laneId() == 0) {
      bulkCopy(stage.ref(0), x.ref(blockIdx.x, 0, 0), c.D, full[0]);
      arrive(full[0]);
    }
    return;
  } else {
    waitBarrier(full[0], 0);
    const value = stage[threadIdx.x];
    syncthreads();
    if (laneId() == 0) arrive(empty[0]);
    y.store(value, blockIdx.x, threadIdx.x);
  }`;

describe("warp roles, barriers and bulk copies", () => {
  it("lower to the device primitives, the producer warp launched after the consumer threads", () => {
    const ir = compile(ROLES, 1);
    expect(ir.threads).toBe(128 + 32);
    const e = new Emitter();
    e.stmts(ir.body, 0);
    const text = e.text();
    expect(text).toContain("lim::init_barriers(full, 1, 1);");
    expect(text).toContain("if (lim::is_producer<s::threads>()) {");
    expect(text).toContain("lim::bulk_copy<256>(&stage[0], x.ptr_at(static_cast<int>(blockIdx.x), 0, 0), full[0]);");
    expect(text).toContain("lim::barrier_wait(full[0], 0);");
    // Inside the consumers' branch, syncthreads() is their own barrier: the producer warp never meets it.
    expect(text).toContain("lim::sync_consumers<s::threads>();");
    expect(text).not.toContain("__syncthreads()");
  });

  it("lowers syncthreads() in the producer warps to their own barrier, sized by the spec's producer warps", () => {
    const e = new Emitter();
    e.stmts(compile(ROLES.replace("    return;\n", "    syncthreads();\n    return;\n"), 4).body, 0);
    expect(e.text()).toContain("lim::sync_producers<128>();");
  });

  it.each([
    ["a wait on a barrier nothing signals", ROLES.replace("arrive(full[0]);", "").replace("bulkCopy(stage.ref(0), x.ref(blockIdx.x, 0, 0), c.D, full[0]);", ""), /waitBarrier\(\) on 'full', which no bulkCopy\(\) or arrive\(\) signals/],
    ["a bulk copy of 12 bytes", ROLES.replace("c.D, full[0]", "6, full[0]"), /bulkCopy\(\) moves a multiple of 16 bytes, got 6 x bf16 = 12 bytes/],
    ["a bulk copy of a run-time size with no row factor", ROLES.replace("c.D, full[0]", "blockIdx.x, full[0]"), /bulkCopy\(\) count must be known at compile time, or be n \* ROW/],
    ["a block sum in the producer warps", ROLES.replace("    return;\n", "    const total = blockSum(1.0);\n    return;\n"), /blockSum\(\) in the producer warps/],
    ["barriers() inside a role", ROLES.replace("    waitBarrier(full[0], 0);", "    const more = barriers(1, 1);\n    waitBarrier(full[0], 0);"), /barriers\(\) must be declared in the kernel body, outside local functions and role branches/],
  ])("%s is a front-end error at its line", (_label, body, message) => {
    const error = errorOf(body, 1);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/^test\/tiny\.ts:\d+:\d+: error: /);
  });

  it("refuses isProducer() without producer warps, and producer warps the body never tells apart", () => {
    expect(errorOf(ROLES).message).toMatch(/isProducer\(\) in a kernel without producer warps/);
    expect(errorOf("  y.store(0.0, blockIdx.x, threadIdx.x);", 1).message).toMatch(/adds 1 producer warp but the body never branches on isProducer\(\)/);
  });

  it("checks register reallocation against warp groups and the register file", () => {
    const realloc = (producer: number, consumer: number) =>
      ROLES.replace("    if (laneId() == 0) {\n      bulkCopy", `    setMaxRegisters(${producer});\n    if (laneId() == 0) {\n      bulkCopy`).replace("    waitBarrier(full[0], 0);", `    setMaxRegisters(${consumer});\n    waitBarrier(full[0], 0);`);
    expect(() => compile(realloc(40, 232), 4, 256)).not.toThrow();
    expect(errorOf(realloc(40, 232), 1, 256).message).toMatch(/setMaxRegisters\(\) in the producer role of 1 warps/);
    expect(errorOf(realloc(128, 232), 4, 256).message).toMatch(/need \d+ of the SM's 65536/);
    expect(errorOf(realloc(20, 232), 4, 256).message).toMatch(/a multiple of 8 from 24 to 256, got 20/);
  });
});

describe("tensor-core fragments", () => {
  const MMA = `  const acc = regs("f32", [4], 0.0);
  const a = regs("u32", [4], 0);
  const b = regs("u32", [2], 0);
  const tile = shared("dtype", [16, 16]);
  loadMatrix(a, tile.ref(laneId() % 16, (laneId() / 16) * 8), false);
  a[0] = pack2(1.0, 2.0, c.dtype);
  b[0] = loadBits(x.ref(blockIdx.x, 0, 2 * (laneId() % 4)));
  mma(acc, a, b, c.dtype);
  y.store(acc[0], blockIdx.x, threadIdx.x);`;

  it("lower to mma.sync, ldmatrix and packed 16-bit pairs of the kernel's dtype", () => {
    const e = new Emitter();
    e.stmts(compile(MMA).body, 0);
    const text = e.text();
    expect(text).toContain("lim::mma_16816<__nv_bfloat16>(acc, a, b);");
    expect(text).toContain("lim::load_matrix<false>(a, &tile[lim::lane_id() % 16][lim::lane_id() / 16 * 8]);");
    expect(text).toContain("lim::pack2<__nv_bfloat16>(1.0f, 2.0f)");
  });

  it.each([
    ["an accumulator of 8", MMA.replace('regs("f32", [4], 0.0)', 'regs("f32", [8], 0.0)'), /mma\(\) accumulator must be a register array f32\[4\], got register array f32\[8\]/],
    ["a B fragment of 4", MMA.replace('const b = regs("u32", [2], 0);', 'const b = regs("u32", [4], 0);'), /mma\(\) B fragment must be a register array u32\[2\]/],
    ["an f32 element type", MMA.replace("mma(acc, a, b, c.dtype)", 'mma(acc, a, b, "f32")'), /mma\(\) element type must be a constant naming bf16 or fp16/],
    ["ldmatrix into 3 registers", MMA.replace('const a = regs("u32", [4], 0);', 'const a = regs("u32", [3], 0);'), /loadMatrix\(\) fills a register array u32\[2\] or u32\[4\]/],
  ])("%s is a front-end error", (_label, body, message) => {
    expect(errorOf(body).message).toMatch(message);
  });
});

describe("a choice between locations", () => {
  // One copy loop serves rows addressed directly and through staged addresses (decode attention's producer).
  const COPY = (source: string) => `  const stage = shared("dtype", [c.D]);
  const other = shared("dtype", [c.D]);
  const direct = blockIdx.x % 2 == 0;
  asyncCopy(stage.ref(8 * threadIdx.x), ${source}, 8, true);
  y.store(0.0, blockIdx.x, threadIdx.x);`;

  it("lowers to a C choice between the two addresses", () => {
    const e = new Emitter();
    e.stmts(compile(COPY("direct ? x.ref(blockIdx.x, 0, 8 * threadIdx.x) : x.ref(blockIdx.x, 1, 8 * threadIdx.x)")).body, 0);
    expect(e.text()).toContain("lim::cp_async<16>(&stage[8 * static_cast<int>(threadIdx.x)], direct ? x.ptr_at(static_cast<int>(blockIdx.x), 0, 8 * static_cast<int>(threadIdx.x)) : x.ptr_at(static_cast<int>(blockIdx.x), 1, 8 * static_cast<int>(threadIdx.x)), true);");
  });

  it.each([
    ["a location or a number", "direct ? x.ref(blockIdx.x, 0, threadIdx.x) : 0", /'\?:' chooses between global location of bf16 and/],
    ["a global or a shared location", "direct ? x.ref(blockIdx.x, 0, threadIdx.x) : other.ref(threadIdx.x)", /'\?:' chooses between global location of bf16 and shared location of bf16/],
  ])("refuses a choice between %s", (_label, source, message) => {
    const error = errorOf(COPY(source));
    expect(error.message).toMatch(message);
    expect(error.hint).toMatch(/both branches must be locations in the same memory with the same element type/);
  });
});
