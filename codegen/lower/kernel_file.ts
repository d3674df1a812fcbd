// One variant's .cu file: the constants and schedule as C++ constants, parameter bindings, the lowered
// body, and the launch entry points, rendered through templates/kernel/variant.cu.hbs.

import { isFp8, isWritable, type KernelIR, type Param } from "../frontend/ir.js";
import { constantCode, wordConstant } from "../names.js";
import { render } from "../templates.js";
import { CTYPE, storageCType } from "./ctypes.js";
import { Emitter } from "./emit.js";

export interface VariantFile {
  readonly name: string;
  readonly text: string;
}

/** A param's field(s) in the kernel's C parameter block (shared by all variants of the kernel). */
export function paramFields(ir: KernelIR): string[] {
  const fields: string[] = [];
  for (const p of ir.params) {
    if (p.kind === "tensor") {
      const elem = p.elem === "bf16" || p.elem === "fp16" ? "bf16/fp16" : isFp8(p.elem) ? "bf16/fp16/e4m3/e5m2" : p.elem;
      const role = { in: "input", out: "output", "maybe-in": "optional input (data may be NULL)", "maybe-out": "optional output (data may be NULL)" }[p.access];
      // A cache tensor's field is the same for every layout (all variants of a kernel share the block).
      const type = p.layout ? "lim_cache_tensor" : "lim_tensor";
      fields.push(`${type} ${p.name}; /* ${role}, ${elem} [${p.dimNames.join(", ")}]${p.layout ? ", a K/V cache in the variant's layout" : ""} */`);
    }
  }
  for (const size of ir.sizes) fields.push(`int32_t ${size}; /* run-time size */`);
  for (const p of ir.params) {
    if (p.kind === "scalar" && !ir.sizes.includes(p.name)) fields.push(`${p.type === "f32" ? "float" : p.type === "u32" ? "uint32_t" : "int32_t"} ${p.name};`);
  }
  fields.push("lim_device_status* status; /* where kernels report bad input; may be NULL */");
  return fields;
}

function binding(p: Param): string {
  if (p.kind === "scalar") return `const ${CTYPE[p.type]} ${p.name} = lim_p.${p.name};`;
  const elem = storageCType(p.elem);
  const t = isWritable(p.access) ? elem : `const ${elem}`;
  if (p.layout === "paged") return `const lim::PagedTensor<${t}> ${p.name}(lim_p.${p.name});  // [${p.dimNames.join(", ")}] through a block table`;
  const arg = p.layout === "contiguous" ? `lim_p.${p.name}.rows` : `lim_p.${p.name}`;
  return `const lim::Tensor<${t}, ${p.dims.length}> ${p.name}(${arg});  // [${p.dimNames.join(", ")}]`;
}

export function renderVariant(
  root: string,
  ir: KernelIR,
  variant: string,
  raiseBase: number,
  generator: string,
  scheduleOrigin: string,
  knobOrder: readonly string[],
): VariantFile {
  const emitter = new Emitter();
  emitter.stmts(ir.body, 1);
  const functions = new Emitter();
  for (const f of ir.functions) functions.deviceFunction(f);
  const constantLines = [
    ...Object.entries(ir.constants).map(([k, v]) =>
      typeof v === "number"
        ? `static constexpr int ${k} = ${v};`
        : wordConstant(v).cType === "lim_dtype"
          ? `using ${k} = ${storageCType(v as never)};  // ${v}`
          : `static constexpr int ${k} = ${constantCode(v)};  // ${v} (lim_cache_layout)`,
    ),
    ...Object.entries(ir.limits).map(([k, v]) => `static constexpr int ${k} = ${v};  // a limit of the kernel (lim_variants.h: LIM_${ir.name.toUpperCase()}_${k})`),
  ];
  const scheduleLines = knobOrder.map((k) => `static constexpr int ${k} = ${ir.schedule[k]};`);
  const text = render(root, "kernel/variant.cu.hbs", {
    variant,
    generator,
    source: ir.file,
    kernel: ir.name,
    summary: ir.summary,
    constantsText: Object.entries(ir.constants).map(([k, v]) => `${k}=${v}`).join(" "),
    scheduleText: knobOrder.map((k) => `${k}=${ir.schedule[k]}`).join(" "),
    scheduleOrigin,
    gridText: [ir.grid.x, ir.grid.y ?? "1", ir.grid.z ?? "1"].join(", "),
    threads: ir.threads,
    minBlocks: ir.minBlocksPerSM,
    sharedBytes: ir.sharedBytes,
    constantLines,
    scheduleLines,
    raiseBase,
    raiseSites: ir.raises.length,
    overlaps: ir.overlapsPrecedingKernel,
    cluster: ir.clusterBlocks > 1 ? ir.clusterBlocks : undefined,
    paramsType: `lim_${ir.name}_params`,
    bindings: ir.params.map(binding),
    body: emitter.text(),
    functions: ir.functions.length ? `${functions.text()}\n` : "",
    gridX: ir.launchGrid.x,
    gridY: ir.launchGrid.y,
    gridZ: ir.launchGrid.z,
    constantValues: Object.values(ir.constants).map(constantCode).join(", "),
    scheduleValues: knobOrder.map((k) => ir.schedule[k]).join(", "),
  });
  return { name: variant, text };
}
