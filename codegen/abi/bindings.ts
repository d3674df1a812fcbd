// Lowers the ABI description to the bindings: the Node addon's functions (C++ over node-addon-api), their
// TypeScript types, and the Python ctypes module. Each binding takes arguments by name (an options object
// in JavaScript, keywords in Python), so no caller depends on the order of a C parameter list; device
// buffers give their pointers, a workspace gives its size too, and a result pointer becomes the return value.

import { camelCase, ctypeOf, optionalStrides, returnCType, returnsStatus, shortName, type AbiFunction, type AbiParam } from "./params.js";

/** The functions that bindings expose: those returning a status (the others are constants and messages). */
export function boundFunctions(functions: readonly AbiFunction[]): AbiFunction[] {
  return functions.filter(returnsStatus);
}

/** Whether a binding needs an options object: everything but the stream comes from the caller. */
const takesOptions = (fn: AbiFunction) => fn.params.some((p) => p.kind !== "stream" && p.kind !== "workspace_bytes" && p.kind !== "result");

const pascalCase = (name: string) => camelCase(name).replace(/^./, (c) => c.toUpperCase());

// ---- Node addon

/** The C++ expression that reads one argument from the options object `o`. */
function addonArgument(fn: AbiFunction, p: AbiParam, leftOut: Set<string>): string {
  const key = JSON.stringify(camelCase(p.name));
  switch (p.kind) {
    case "tensor": return `static_cast<${ctypeOf(p)}>(buffer_arg(o, ${key}, fn, ${p.optional ? "true" : "false"}))`;
    case "workspace": return `buffer_arg(o, ${key}, fn, true)`;
    case "workspace_bytes": return `buffer_bytes(o, ${JSON.stringify(camelCase(fn.params[fn.params.indexOf(p) - 1].name))}, fn)`;
    case "stride": return leftOut.has(p.name) ? `optional_int64(o, ${key}, fn, 0)` : `int64_arg(o, ${key}, fn)`;
    case "size": case "device": return `int_arg(o, ${key}, fn)`;
    case "float": return `static_cast<float>(number_arg(o, ${key}, fn))`;
    case "u32": return `uint32_arg(o, ${key}, fn)`;
    case "dtype": return `static_cast<lim_dtype>(enum_arg(o, ${key}, fn, {${p.allowed.map((d) => JSON.stringify(d)).join(", ")}}, {${p.allowed.map((d) => `LIM_DTYPE_${d.toUpperCase()}`).join(", ")}}))`;
    case "flag": return `flag_arg(o, ${key}, fn)`;
    case "enum": {
      const names = Object.keys(p.values);
      const values = names.map((n) => p.values[n].constant);
      return `enum_arg(o, ${key}, fn, {${names.map((n) => JSON.stringify(n)).join(", ")}}, {${values.join(", ")}})`;
    }
    case "string": case "result": throw new Error(`${fn.name}: ${p.name} is read before the call`);
    case "stream": return "launch_stream()";
  }
}

export function addonFunction(fn: AbiFunction) {
  const js = camelCase(shortName(fn));
  const leftOut = optionalStrides(fn);
  // One local per argument, read in the C order, so that the first missing or mistyped key is the one reported.
  const prologue: string[] = [];
  if (takesOptions(fn)) prologue.push("const Napi::Object o = options(info, fn);");
  for (const p of fn.params) {
    if (p.kind === "string") prologue.push(`const StringArg ${p.name}_text = string_arg(o, ${JSON.stringify(camelCase(p.name))}, fn, ${p.optional ? "true" : "false"});`);
    else if (p.kind === "result") prologue.push(`size_t ${p.name} = 0;`);
    else prologue.push(`${ctypeOf(p)} const ${p.name} = ${addonArgument(fn, p, leftOut)};`);
  }
  const argument = (p: AbiParam) => (p.kind === "string" ? `${p.name}_text.c_str_or_null()` : p.kind === "result" ? `&${p.name}` : p.name);
  const result = fn.params.find((p) => p.kind === "result");
  return {
    js,
    cppName: `${pascalCase(shortName(fn))}Binding`,
    prologue,
    call: `${fn.name}(${fn.params.map(argument).join(", ")})`,
    returns: result ? `Napi::Number::New(info.Env(), static_cast<double>(${result.name}))` : "info.Env().Undefined()",
  };
}

// ---- TypeScript types of the addon's functions

function tsType(p: AbiParam): string {
  switch (p.kind) {
    case "tensor": return p.optional ? "Buffer | null" : "Buffer";
    case "workspace": return "Buffer | null";
    case "dtype": return p.allowed.map((d) => JSON.stringify(d)).join(" | ");
    case "enum": return Object.keys(p.values).map((v) => JSON.stringify(v)).join(" | ");
    case "flag": return "boolean";
    case "string": return p.optional ? "string | null" : "string";
    default: return "number";
  }
}

export function typescriptFunction(fn: AbiFunction) {
  const leftOut = optionalStrides(fn);
  const fields = fn.params
    .filter((p) => p.kind !== "stream" && p.kind !== "workspace_bytes" && p.kind !== "result")
    .map((p) => {
      const optional = (p.kind === "tensor" && p.optional) || leftOut.has(p.name) || p.kind === "workspace";
      return { doc: p.doc, line: `${camelCase(p.name)}${optional ? "?" : ""}: ${tsType(p)};` };
    });
  const result = fn.params.some((p) => p.kind === "result");
  const argsType = `${pascalCase(shortName(fn))}Args`;
  return {
    js: camelCase(shortName(fn)),
    cName: fn.name,
    doc: fn.doc,
    argsType,
    fields,
    signature: `${takesOptions(fn) ? `args: ${argsType}<Buffer>` : ""}): ${result ? "number" : "void"}`,
  };
}

// ---- Python ctypes

const CTYPES: Readonly<Record<string, string>> = {
  "int32_t": "ctypes.c_int32", "int64_t": "ctypes.c_int64", "uint32_t": "ctypes.c_uint32", "float": "ctypes.c_float", "int": "ctypes.c_int",
  "size_t": "ctypes.c_size_t", "size_t*": "ctypes.POINTER(ctypes.c_size_t)", "lim_dtype": "ctypes.c_int", "const char*": "ctypes.c_char_p",
  "cudaStream_t": "ctypes.c_void_p",
};

function ctypesType(ctype: string): string {
  if (CTYPES[ctype]) return CTYPES[ctype];
  if (ctype.endsWith("*")) return "ctypes.c_void_p"; // device pointers
  throw new Error(`no ctypes type for ${ctype}`);
}

/** The Python expression that converts one keyword argument. */
function pythonArgument(fn: AbiFunction, p: AbiParam): string {
  switch (p.kind) {
    case "tensor": case "workspace": return `_pointer(${p.name})`;
    case "workspace_bytes": return `_bytes(${fn.params[fn.params.indexOf(p) - 1].name}, ${p.name})`;
    case "dtype": return `_dtype(${p.name})`;
    case "enum": return `_choice(${p.name}, ${JSON.stringify(Object.fromEntries(Object.entries(p.values).map(([k, v]) => [k, v.value])))}, ${JSON.stringify(p.name)})`;
    case "flag": return `int(bool(${p.name}))`;
    case "string": return `_text(${p.name})`;
    case "result": return `ctypes.byref(${p.name})`;
    case "stream": return `_pointer(${p.name})`;
    default: return p.name;
  }
}

function pythonParameter(p: AbiParam, leftOut: Set<string>): string | undefined {
  if (p.kind === "result") return undefined;
  if (p.kind === "stream") return `${p.name}=None`;
  if (p.kind === "workspace_bytes") return `${p.name}=None`;
  if ((p.kind === "tensor" && p.optional) || p.kind === "workspace" || (p.kind === "string" && p.optional)) return `${p.name}=None`;
  if (leftOut.has(p.name)) return `${p.name}=0`;
  return p.name;
}

export function pythonFunction(fn: AbiFunction) {
  const leftOut = optionalStrides(fn);
  const result = fn.params.find((p) => p.kind === "result");
  const parameters = fn.params.map((p) => pythonParameter(p, leftOut)).filter((p): p is string => p !== undefined);
  return {
    name: fn.name,
    method: shortName(fn),
    restype: ctypesType(returnCType(fn)),
    argtypes: fn.params.map((p) => ctypesType(ctypeOf(p))),
    parameters: parameters.length ? `self, *, ${parameters.join(", ")}` : "self",
    result: result?.name ?? false,
    call: fn.params.map((p) => pythonArgument(fn, p)).join(", "),
    docParams: fn.params.filter((p) => p.kind !== "result" && p.kind !== "workspace_bytes").map((p) => `${p.name}: ${p.doc}`),
    bound: returnsStatus(fn),
  };
}
