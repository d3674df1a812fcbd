// Tiny kernels written inline in tests: a fixed spec and a body/parameter list given as text.

import { defineKernel } from "../../dsl/lang/kernel.js";
import { elaborate } from "../../codegen/frontend/elaborate.js";
import type { Constants, Schedule } from "../../codegen/types.js";
import type { KernelIR } from "../../codegen/frontend/ir.js";
import { parseKernel } from "../../codegen/frontend/load.js";
import { Emitter } from "../../codegen/lower/emit.js";

export const TINY_FILE = "test/tiny.ts";

export const tinyKernel = defineKernel({
  spec: {
    name: "tiny",
    summary: "a kernel written inside a test",
    constants: { D: [128], dtype: ["bf16"] },
    schedule: { threads: { tag: "t", values: [128] } },
    grid: { x: "B" },
  },
  heuristic: () => ({ threads: 128 }),
  rules: [(c, s) => (s.threads <= 512 ? undefined : "at most 512 threads")],
});

const DEFAULT_PARAMS = 'x: Tensor<"dtype", ["B", "D"]>, y: Out<"f32", ["B", "D"]>, opt: MaybeOut<"f32", ["B"]>, scale: f32';

/** The source text of a tiny kernel: line 1 is the signature, the body starts on line 2. */
export function tinySource(body: string, params = DEFAULT_PARAMS): string {
  return `export function tiny(c: ConstantsOf<typeof spec>, s: ScheduleOf<typeof spec>, ${params}): void {\n${body}\n}\n`;
}

export function compileTiny(body: string, opts: { params?: string; constants?: Constants; schedule?: Schedule } = {}): KernelIR {
  const src = parseKernel(TINY_FILE, tinySource(body, opts.params), tinyKernel);
  return elaborate(src, opts.constants ?? { D: 128, dtype: "bf16" }, opts.schedule ?? { threads: 128 });
}

/** The lowered body without the DSL-position comments (for compact inline snapshots). */
export function lowerTiny(body: string, opts: { params?: string } = {}): string {
  const ir = compileTiny(body, opts);
  const e = new Emitter();
  e.stmts(ir.body, 0);
  return e.text().replace(/\s+\/\/ test\/tiny\.ts:\d+$/gm, "");
}
