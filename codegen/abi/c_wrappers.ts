// Lowers the ABI description to C++: the argument struct each hand-written implementation takes, and the
// exported wrapper that checks every argument by its role before calling it. The checks call the helpers
// of templates/abi/lim_abi_checks.h, in this order: sizes first (the layouts need them), then pointers and
// their alignment, strides, enumerations, the relations between arguments (a head count that does not
// divide is reported as such, not as the overlap it would cause), the layouts of strided tensors, and last
// that no output's bytes overlap another argument's.

import { ALIGNMENT_REASON, ELEMENT_ALIGNMENT, ELEMENT_BYTES, STRIDE_MULTIPLE, ctypeOf, strideOwners, type AbiFunction, type AbiParam, type TensorParam } from "./params.js";

const text = (s: string) => JSON.stringify(s);
const check = (call: string) => `LIM_CHECK(lim_capi::${call});`;

function sizeCheck(p: AbiParam): string[] {
  if (p.kind !== "size") return [];
  return [check(`size_in(fn, ${text(p.name)}, ${p.name}, ${p.min ?? 1}, ${p.max ?? "lim_capi::kSizeMax"}, ${text(p.doc)})`)];
}

function pointerCheck(p: AbiParam): string[] {
  if (p.kind === "tensor") {
    return [check(`pointer(fn, ${text(p.name)}, ${p.name}, ${ELEMENT_ALIGNMENT[p.element]}, /*optional=*/${p.optional ? "true" : "false"}, ${text(p.doc)}, ${text(ALIGNMENT_REASON[p.element])})`)];
  }
  if (p.kind === "workspace") return [check(`pointer(fn, ${text(p.name)}, ${p.name}, 16, /*optional=*/true, "", "workspace sub-buffers hold 16-byte vectors")`)];
  if (p.kind === "result") return [check(`pointer(fn, ${text(p.name)}, ${p.name}, alignof(size_t), /*optional=*/false, "where the answer goes", "it is a size_t")`)];
  if (p.kind === "string" && !p.optional) return [check(`pointer(fn, ${text(p.name)}, ${p.name}, 1, /*optional=*/false, ${text(p.doc)}, "")`)];
  return [];
}

function strideCheck(fn: AbiFunction): string[] {
  const lines: string[] = [];
  for (const [stride, owners] of strideOwners(fn)) {
    const multiple = Math.max(...owners.map((o) => STRIDE_MULTIPLE[o.element]));
    const call = check(`stride(fn, ${text(stride)}, ${stride}, ${multiple}, ${text(owners.map((o) => o.name).join(" and "))})`);
    const optional = owners.every((o) => o.optional);
    lines.push(optional ? `if (${owners.map((o) => `${o.name} != nullptr`).join(" || ")}) ${call}` : call);
  }
  return lines;
}

function choiceCheck(p: AbiParam): string[] {
  const words = (items: string[]) => (items.length === 1 ? items[0] : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`);
  if (p.kind === "dtype") {
    const allowed = p.allowed.map((d) => `LIM_DTYPE_${d.toUpperCase()}`);
    return [check(`one_of(fn, ${text(p.name)}, ${p.name}, {${allowed.join(", ")}}, ${text(words(allowed))})`)];
  }
  if (p.kind === "enum") {
    const values = Object.values(p.values);
    return [check(`one_of(fn, ${text(p.name)}, ${p.name}, {${values.map((v) => v.constant).join(", ")}}, ${text(words(values.map((v) => `${v.constant} (${v.value})`)))})`)];
  }
  if (p.kind === "flag") return [check(`one_of(fn, ${text(p.name)}, ${p.name}, {0, 1}, "0 or 1")`)];
  return [];
}

/** A strided tensor's dimensions as lim_capi::Dim initialisers: {extent name, extent, stride name, stride}. */
function dimsOf(p: TensorParam): string {
  const dims = p.shape!.map((extent, i) => {
    const stride = p.strides![i];
    return `{${text(extent)}, ${extent}, ${text(stride === "1" ? `the contiguous ${extent} dimension` : stride)}, ${stride}}`;
  });
  return `{${dims.join(", ")}}`;
}

/** The no-overlap test of a strided tensor (skipped when an optional one is NULL). */
function layoutCheck(p: AbiParam): string[] {
  if (p.kind !== "tensor" || !p.strides || !p.shape) return [];
  const call = check(`no_overlap(fn, ${text(p.name)}, ${dimsOf(p)})`);
  return [p.optional ? `if (${p.name} != nullptr) ${call}` : call];
}

/** The other half of a K/V pair (k_cache and v_cache, k_new and v_new, out_k and out_v), or undefined. */
const kvPartner = (name: string): string | undefined => (/(^|_)k(_|$)/.test(name) ? name.replace(/(^|_)k(_|$)/, "$1v$2") : /(^|_)v(_|$)/.test(name) ? name.replace(/(^|_)v(_|$)/, "$1k$2") : undefined);

/**
 * Every output's byte range, first byte to last, against those of the other tensor arguments and the workspace
 * (each pair once): they may not overlap. The halves of a K/V pair are not compared with each other: engines
 * keep K and V in one allocation with their rows interleaved (vLLM's [num_blocks, 2, ...] caches), element by
 * element apart. Inputs may share memory with each other.
 */
function aliasChecks(fn: AbiFunction): string[] {
  const tensors = fn.params.filter((p): p is TensorParam => p.kind === "tensor" && p.shape !== undefined);
  const extents = tensors.map((p) => {
    const bytes = ELEMENT_BYTES[p.element];
    return p.strides
      ? `const lim_capi::Extent extent_${p.name} = lim_capi::strided_extent(${text(p.name)}, ${p.name}, ${bytes}, ${dimsOf(p)});`
      : `lim_capi::Extent extent_${p.name}; LIM_CHECK(lim_capi::contiguous_extent(fn, ${text(p.name)}, ${p.name}, ${bytes}, {${p.shape!.join(", ")}}, &extent_${p.name}));`;
  });
  const entries = tensors.map((p) => ({ name: p.name, written: p.access === "out" }));
  // The workspace is written too (the split merge's counters and partials), as many bytes as its caller says.
  const workspace = fn.params.find((p) => p.kind === "workspace");
  const workspaceBytes = fn.params.find((p) => p.kind === "workspace_bytes");
  if (workspace && workspaceBytes) {
    extents.push(`const lim_capi::Extent extent_${workspace.name} = lim_capi::byte_extent(${text(workspace.name)}, ${workspace.name}, ${workspaceBytes.name});`);
    entries.push({ name: workspace.name, written: true });
  }
  const outputs = entries.filter((e) => e.written);
  if (outputs.length === 0 || entries.length < 2) return [];
  const checks = outputs.flatMap((out, i) => {
    // Each pair once: the outputs before this one were compared with it already.
    const others = entries.filter((e) => e !== out && !outputs.slice(0, i).includes(e) && e.name !== kvPartner(out.name));
    return others.length > 0 ? [check(`disjoint(fn, extent_${out.name}, {${others.map((e) => `extent_${e.name}`).join(", ")}})`)] : [];
  });
  return [...extents, ...checks];
}

/** A requirement's message as a C++ string expression, each {name} replaced by that argument's value. */
function requirementMessage(fn: AbiFunction, template: string): string {
  const pieces = ["std::string(fn)"];
  let rest = `: ${template}`;
  for (let m = /\{([a-z_0-9]+)\}/.exec(rest); m; m = /\{([a-z_0-9]+)\}/.exec(rest)) {
    if (!fn.params.some((p) => p.name === m![1])) throw new Error(`codegen/abi/functions.ts: ${fn.name}: a requirement's message names {${m[1]}}, which is no argument`);
    pieces.push(text(rest.slice(0, m.index)), `std::to_string(${m[1]})`);
    rest = rest.slice(m.index + m[0].length);
  }
  if (rest) pieces.push(text(rest));
  return pieces.join(" + ");
}

/** Every check of a status-returning function, in order. */
export function argumentChecks(fn: AbiFunction): string[] {
  return [
    ...fn.params.flatMap(sizeCheck),
    ...fn.params.flatMap(pointerCheck),
    ...strideCheck(fn),
    ...fn.params.flatMap(choiceCheck),
    ...(fn.requires ?? []).map((r) => `if (!(${r.check})) return lim_capi::fail(LIM_ERROR_INVALID_ARGUMENT, ${requirementMessage(fn, r.message)});`),
    ...fn.params.flatMap(layoutCheck),
    ...aliasChecks(fn),
  ];
}

/** The C declaration of the parameter list. */
export function parameterList(fn: AbiFunction): string {
  return fn.params.length ? fn.params.map((p) => `${ctypeOf(p)} ${p.name}`).join(", ") : "void";
}

/** Fields of the argument struct handed to the implementation (the same names as the C parameters). */
export function argumentFields(fn: AbiFunction): string[] {
  return fn.params.map((p) => `${ctypeOf(p)} ${p.name}; /* ${p.doc} */`);
}
