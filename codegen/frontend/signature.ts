// A kernel's parameters, read from its function signature: the constants and schedule objects first,
// then tensors (Tensor / Out / MaybeOut with an element type and a tuple of dims) and scalars (f32, i32, u32).

import { Node, type FunctionDeclaration, type TypeNode } from "ts-morph";
import type { Context } from "./context.js";
import { posOf } from "./diagnostics.js";
import { SUPPORTED_MATRIX } from "../../dsl/lang/matrix.js";
import { isStorageType, STORAGE_BYTES, type CacheLayout, type Param, type ScalarType, type StorageType, type TensorAccess } from "./ir.js";

const ACCESS: Readonly<Record<string, TensorAccess>> = { Tensor: "in", MaybeTensor: "maybe-in", Out: "out", MaybeOut: "maybe-out" };
const SCALARS: Readonly<Record<string, ScalarType>> = { f32: "f32", i32: "i32", u32: "u32" };

export interface Signature {
  readonly constantsName: string;
  readonly scheduleName: string;
  readonly params: readonly Param[];
  /** Run-time sizes in first-use order. */
  readonly sizes: readonly string[];
}

function literalText(node: TypeNode): string | number | undefined {
  if (!Node.isLiteralTypeNode(node)) return undefined;
  const lit = node.getLiteral();
  if (Node.isStringLiteral(lit)) return lit.getLiteralValue();
  if (Node.isNumericLiteral(lit)) return lit.getLiteralValue();
  return undefined;
}

/** A cache tensor's layout: its third type argument names a constant whose value is a layout. */
function readLayout(ctx: Context, name: string, node: TypeNode, rank: number): CacheLayout {
  const constant = literalText(node);
  const value = typeof constant === "string" ? ctx.constants[constant] : undefined;
  if (typeof value !== "string" || !SUPPORTED_MATRIX.caches.includes(value)) {
    return ctx.fail("bad-spec", node, `the layout of '${name}' must name a constant whose value is ${SUPPORTED_MATRIX.caches.map((l) => `"${l}"`).join(" or ")}`, 'e.g. constants: { cache: ["contiguous", "paged"] } and Tensor<"dtype", ["B", "Hkv", "Nmax", "D"], "cache">');
  }
  if (rank !== 4) ctx.fail("bad-spec", node, `'${name}' has a layout but ${rank} dimensions; a cache tensor has four`, "declare it as [requests, heads, positions, head dim]");
  return value as CacheLayout;
}

export function readSignature(ctx: Context, fn: FunctionDeclaration): Signature {
  const ps = fn.getParameters();
  const typeText = (i: number) => ps[i]?.getTypeNode()?.getText() ?? "";
  if (!typeText(0).startsWith("ConstantsOf<") || !typeText(1).startsWith("ScheduleOf<")) {
    ctx.fail("bad-spec", ps[0] ?? fn, "a kernel's first two parameters are its constants and its schedule", "write (c: ConstantsOf<typeof spec>, s: ScheduleOf<typeof spec>, ...)");
  }
  const params: Param[] = [];
  const sizes: string[] = [];
  for (const p of ps.slice(2)) {
    const name = p.getName();
    const typeNode = p.getTypeNode();
    const pos = posOf(p, ctx.file);
    if (!typeNode) ctx.fail("bad-spec", p, `parameter '${name}' needs a type`, "declare Tensor<elem, [dims]>, MaybeTensor<...>, Out<...>, MaybeOut<...>, f32, i32 or u32");
    const scalarType = SCALARS[typeNode!.getText()];
    if (scalarType) {
      params.push({ kind: "scalar", name, type: scalarType, pos });
      continue;
    }
    if (!Node.isTypeReference(typeNode) || !(typeNode.getTypeName().getText() in ACCESS)) {
      ctx.fail("bad-spec", typeNode!, `parameter '${name}' has type ${typeNode!.getText()}, which a kernel cannot take`, "declare Tensor<elem, [dims]>, MaybeTensor<...>, Out<...>, MaybeOut<...>, f32, i32 or u32");
    }
    const ref = typeNode as Node & { getTypeName(): Node; getTypeArguments(): TypeNode[] };
    const [elemNode, dimsNode, layoutNode] = ref.getTypeArguments();
    const elemText = elemNode ? literalText(elemNode) : undefined;
    const elem = typeof elemText === "string" && typeof ctx.constants[elemText] === "string" ? (ctx.constants[elemText] as string) : elemText;
    if (typeof elem !== "string" || !isStorageType(elem)) {
      ctx.fail("bad-spec", elemNode ?? typeNode!, `element type of '${name}' must be ${Object.keys(STORAGE_BYTES).map((t) => `"${t}"`).join(", ")} or a constant naming one`, 'e.g. Tensor<"dtype", ["B", "D"]>');
    }
    if (!dimsNode || !Node.isTupleTypeNode(dimsNode) || dimsNode.getElements().length === 0) {
      return ctx.fail("bad-spec", dimsNode ?? typeNode!, `dimensions of '${name}' must be a tuple of names and numbers`, 'e.g. ["B", "Hq", "D"]');
    }
    const dimNames: string[] = [];
    const dims = dimsNode.getElements().map((d) => {
      const v = literalText(d);
      if (v === undefined) ctx.fail("bad-spec", d, `dimension ${d.getText()} of '${name}' must be a string or number literal`, "name a constant (\"D\"), a run-time size (\"B\") or give a number");
      dimNames.push(String(v));
      if (typeof v === "number") return v;
      const c = ctx.constants[v as string];
      if (typeof c === "number") return c;
      if (!sizes.includes(v as string)) sizes.push(v as string);
      return v as string;
    });
    const layout = layoutNode ? { layout: readLayout(ctx, name, layoutNode, dims.length) } : {};
    params.push({ kind: "tensor", name, elem: elem as StorageType, dims, dimNames, access: ACCESS[ref.getTypeName().getText()], ...layout, pos });
  }
  // An i32 scalar named like a size is that size; any other scalar must not collide with one.
  for (const p of params) {
    if (p.kind === "scalar" && sizes.includes(p.name) && p.type !== "i32") {
      ctx.fail("bad-spec", fn, `'${p.name}' is both a tensor dimension and a ${p.type} argument`, "a size argument must be i32");
    }
  }
  return { constantsName: ps[0].getName(), scheduleName: ps[1].getName(), params, sizes };
}
