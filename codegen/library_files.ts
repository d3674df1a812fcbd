// The library-wide generated files: the C headers, the variant tables, the CMake source list and the
// manifest. Rendered from the lowered variants; nothing here knows a particular kernel.

import type { KernelSpec } from "../dsl/lang/kernel.js";
import { SUPPORTED_MATRIX } from "../dsl/lang/matrix.js";
import { addonFunction, boundFunctions, pythonFunction, typescriptFunction } from "./abi/bindings.js";
import { argumentChecks, argumentFields, parameterList } from "./abi/c_wrappers.js";
import { ABI_FUNCTIONS } from "./abi/functions.js";
import { ctypeOf, returnCType, returnsStatus, validateFunction, type AbiFunction } from "./abi/params.js";
import type { KernelIR } from "./frontend/ir.js";
import { paramFields } from "./lower/kernel_file.js";
import { CACHE_LAYOUT_CODES, DTYPE_CODES, wordConstant } from "./names.js";
import { render, verbatim } from "./templates.js";
import type { Matrix } from "./variants.js";
import { ABI_VERSION, TOOLKIT_VERSION } from "./version.js";

export interface LoweredVariant {
  readonly name: string;
  readonly spec: KernelSpec;
  readonly ir: KernelIR;
  readonly file: string; // relative to the output folder
  readonly text: string;
  readonly scheduleOrigin: string;
}

/** Which variant serves which constants and range [lo, hi) of the kernel's bucket measure. */
export interface DispatchEntry {
  readonly constants: Readonly<Record<string, number | string>>;
  readonly bucket: readonly [number, number];
  readonly variant: string;
}

export interface KernelGroup {
  readonly spec: KernelSpec;
  readonly source: string;
  readonly ir: KernelIR; // any variant's IR: parameters and raise sites are the same for all
  readonly variants: readonly LoweredVariant[];
  /** In the order the dispatcher tries them: the first whose constants and bucket match wins. */
  readonly dispatch: readonly DispatchEntry[];
  readonly raiseBase: number;
}

export const GENERATOR = `lim ${TOOLKIT_VERSION}`;
const MAX_CONSTANTS = 6;
const MAX_KNOBS = 6;

function findParams(spec: KernelSpec): string {
  const params = Object.entries(spec.constants).map(([k, values]) => (typeof values[0] === "string" ? `${wordConstant(values[0]).cType} ${k}` : `int32_t ${k}`));
  if (spec.bucket) params.push(`int64_t ${spec.bucket.name}`);
  return params.length ? params.join(", ") : "void";
}

function matchExpr(spec: KernelSpec): string {
  const terms = Object.keys(spec.constants).map((k, i) => `v->constants[${i}] == ${typeof spec.constants[k][0] === "string" ? `(int32_t)${k}` : k}`);
  return terms.length ? terms.join(" && ") : "true";
}

/** The dispatch table: one line per entry, in order. */
function dispatchRows(g: KernelGroup): { variant: string; lo: string; hi: string }[] {
  const bound = (n: number) => (n >= Number.MAX_SAFE_INTEGER ? "INT64_MAX" : `${n}`);
  return g.dispatch.map((d) => ({ variant: d.variant, lo: bound(d.bucket[0]), hi: bound(d.bucket[1]) }));
}

function kernelContext(g: KernelGroup) {
  return {
    name: g.spec.name,
    summary: g.spec.summary,
    source: g.source,
    constantNames: Object.keys(g.spec.constants).join(", "),
    constantIndices: Object.keys(g.spec.constants).map((k, i) => ({ name: `LIM_${g.spec.name.toUpperCase()}_CONSTANT_${k.toUpperCase()}`, index: i, constant: k })),
    limits: Object.entries(g.spec.limits ?? {}).map(([k, v]) => ({ name: `LIM_${g.spec.name.toUpperCase()}_${k}`, value: v, limit: k })),
    knobNames: Object.keys(g.spec.schedule).join(", "),
    fields: paramFields(g.ir),
    findParams: findParams(g.spec),
    matchExpr: matchExpr(g.spec),
    bucket: g.spec.bucket ? { name: g.spec.bucket.name, doc: g.spec.bucket.doc } : false,
    dispatch: dispatchRows(g),
    variants: g.variants.map((v) => v.name),
  };
}

/** A C string literal. */
function cString(s: string): string {
  return JSON.stringify(s);
}

/** What the ABI templates need of one C function. */
function abiContext(fn: AbiFunction) {
  const checked = returnsStatus(fn);
  return {
    name: fn.name,
    doc: fn.doc,
    returns: returnCType(fn),
    params: fn.params.map((p) => ({ name: p.name, ctype: ctypeOf(p), doc: p.doc })),
    parameterList: parameterList(fn),
    argumentNames: fn.params.map((p) => p.name).join(", "),
    fields: argumentFields(fn),
    checked,
    checks: checked ? argumentChecks(fn) : [],
  };
}

/** The C header, the checked wrappers, the implementations' interface and the bindings, from codegen/abi. */
function abiFiles(root: string): Map<string, string> {
  for (const fn of ABI_FUNCTIONS) validateFunction(fn);
  const functions = ABI_FUNCTIONS.map(abiContext);
  const dtypes = Object.entries(DTYPE_CODES).map(([name, value]) => ({ name, value, upper: name.toUpperCase() }));
  const layouts = Object.entries(CACHE_LAYOUT_CODES).map(([name, value]) => ({ name, value, upper: name.toUpperCase() }));
  const enums = ABI_FUNCTIONS.flatMap((fn) =>
    fn.params.flatMap((p) => (p.kind === "enum" ? [{ function: fn.name, name: p.name, doc: p.doc, values: Object.values(p.values) }] : [])),
  );
  const bound = boundFunctions(ABI_FUNCTIONS);
  const files = new Map<string, string>();
  files.set("include/lim.h", render(root, "abi/lim.h.hbs", { generator: GENERATOR, version: TOOLKIT_VERSION, abiVersion: ABI_VERSION, dtypes, layouts, enums, functions }));
  files.set("include/lim_abi_impl.h", render(root, "abi/lim_abi_impl.h.hbs", { generator: GENERATOR, functions }));
  files.set("include/lim_abi_checks.h", verbatim(root, "abi/lim_abi_checks.h"));
  files.set("abi.cpp", render(root, "abi/abi.cpp.hbs", { generator: GENERATOR, functions }));
  files.set("bindings/addon_functions.cpp", render(root, "bindings/addon_functions.cpp.hbs", { generator: GENERATOR, functions: bound.map(addonFunction) }));
  files.set("bindings/lim_abi.ts", render(root, "bindings/lim_abi.ts.hbs", { generator: GENERATOR, functions: bound.map(typescriptFunction) }));
  files.set("bindings/lim_abi.py", render(root, "bindings/lim_abi.py.hbs", { generator: GENERATOR, abiVersion: ABI_VERSION, dtypes, functions: ABI_FUNCTIONS.map(pythonFunction) }));
  return files;
}

export function libraryFiles(root: string, groups: readonly KernelGroup[], matrix: Matrix): Map<string, string> {
  for (const g of groups) {
    if (Object.keys(g.spec.constants).length > MAX_CONSTANTS) throw new Error(`${g.spec.name} has more than ${MAX_CONSTANTS} constants`);
    if (Object.keys(g.spec.schedule).length > MAX_KNOBS) throw new Error(`${g.spec.name} has more than ${MAX_KNOBS} schedule knobs`);
  }
  const kernels = groups.map(kernelContext);
  const raiseSites = groups.flatMap((g) => g.ir.raises.map((r) => ({ kernel: g.spec.name, message: cString(r.message), source: `${r.pos.file}:${r.pos.line}` })));
  const files = abiFiles(root);
  const budgets = [...SUPPORTED_MATRIX.budgets].sort((a, b) => a - b);
  files.set(
    "include/lim_variants.h",
    render(root, "abi/lim_variants.h.hbs", { generator: GENERATOR, maxConstants: MAX_CONSTANTS, maxKnobs: MAX_KNOBS, kernels, supportedBudgets: budgets.join(", "), supportedBudgetCount: budgets.length }),
  );
  files.set("include/lim_device.cuh", verbatim(root, "device/lim_device.cuh"));
  files.set("variants.cpp", render(root, "abi/variants.cpp.hbs", { generator: GENERATOR, kernels, raiseSites }));
  const sources = [...groups.flatMap((g) => g.variants.map((v) => v.file)), "variants.cpp", "abi.cpp"];
  files.set("sources.cmake", render(root, "build/sources.cmake.hbs", { generator: GENERATOR, sources }));
  const manifest = {
    generator: GENERATOR,
    abiVersion: ABI_VERSION,
    matrix,
    kernels: groups.map((g) => ({
      name: g.spec.name,
      source: g.source,
      summary: g.spec.summary,
      constants: g.spec.constants,
      schedule: Object.fromEntries(Object.entries(g.spec.schedule).map(([k, knob]) => [k, knob.tag])),
      variants: g.variants.length,
      bucket: g.spec.bucket?.name ?? null,
      dispatch: g.dispatch.map((d) => ({ constants: d.constants, bucket: d.bucket[1] >= Number.MAX_SAFE_INTEGER ? [d.bucket[0], null] : d.bucket, variant: d.variant })),
    })),
    variants: groups.flatMap((g) =>
      g.variants.map((v) => ({
        name: v.name,
        kernel: g.spec.name,
        constants: v.ir.constants,
        schedule: v.ir.schedule,
        scheduleOrigin: v.scheduleOrigin,
        file: v.file,
        symbol: `lim_${v.name}`,
        threads: v.ir.threads,
        sharedBytes: v.ir.sharedBytes,
      })),
    ),
  };
  files.set("manifest.json", `${JSON.stringify(manifest, null, 2)}\n`);
  return files;
}
