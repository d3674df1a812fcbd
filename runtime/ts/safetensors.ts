// Reading K caches and queries saved from a real model, so that recall can be measured on real data.
//
// Layout: one .safetensors file; for each layer i of the model, "layers.{i}.k" [batch, kv_heads, context,
// head_dim] and "layers.{i}.q" [batch, q_heads, head_dim], optionally "layers.{i}.v" (like k; without it the
// values are the keys: recall and selection use only keys and queries). Element type BF16 or F16, matching
// the model's dtype. Save from PyTorch with safetensors.torch.save_file({...}).

import { readFileSync } from "node:fs";
import type { ModelConfig } from "./config.js";

interface TensorEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface LayerTensors {
  k: Uint16Array;
  v: Uint16Array;
  q: Uint16Array;
}

export interface SavedCaches {
  readonly batch: number;
  readonly context: number;
  readonly layers: LayerTensors[];
}

const DTYPES: Record<string, "bf16" | "fp16"> = { BF16: "bf16", F16: "fp16" };

export function readSavedCaches(path: string, model: ModelConfig): SavedCaches {
  const file = readFileSync(path);
  if (file.length < 8) throw new Error(`${path}: not a safetensors file (shorter than its 8-byte header length)`);
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, TensorEntry>;
  const base = 8 + headerLength;
  const tensor = (name: string, rank: number): { shape: number[]; data: Uint16Array } | undefined => {
    const t = header[name];
    if (!t) return undefined;
    if (DTYPES[t.dtype] !== model.dtype) throw new Error(`${path}: '${name}' is ${t.dtype}, but the model's dtype is ${model.dtype}`);
    if (t.shape.length !== rank) throw new Error(`${path}: '${name}' has shape [${t.shape}], expected ${rank} dimensions`);
    const [begin, end] = t.data_offsets;
    const bytes = file.subarray(base + begin, base + end);
    const data = new Uint16Array(bytes.length / 2);
    data.set(new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
    return { shape: t.shape, data };
  };
  const layers: LayerTensors[] = [];
  let batch = 0;
  let context = 0;
  for (let i = 0; i < model.layers; i++) {
    const k = tensor(`layers.${i}.k`, 4);
    const q = tensor(`layers.${i}.q`, 3);
    if (!k || !q) throw new Error(`${path}: layer ${i} needs 'layers.${i}.k' [batch, ${model.kvHeads}, context, ${model.headDim}] and 'layers.${i}.q' [batch, ${model.qHeads}, ${model.headDim}]`);
    const v = tensor(`layers.${i}.v`, 4) ?? k;
    const [b, h, n, d] = k.shape;
    if (h !== model.kvHeads || d !== model.headDim) throw new Error(`${path}: 'layers.${i}.k' is [${k.shape}], expected [batch, ${model.kvHeads}, context, ${model.headDim}]`);
    if (q.shape[0] !== b || q.shape[1] !== model.qHeads || q.shape[2] !== model.headDim) throw new Error(`${path}: 'layers.${i}.q' is [${q.shape}], expected [${b}, ${model.qHeads}, ${model.headDim}]`);
    if (v.shape.join() !== k.shape.join()) throw new Error(`${path}: 'layers.${i}.v' must have the shape of 'layers.${i}.k'`);
    if (i > 0 && (b !== batch || n !== context)) throw new Error(`${path}: layer ${i} has batch ${b} and context ${n}, layer 0 has ${batch} and ${context}`);
    batch = b;
    context = n;
    layers.push({ k: k.data, v: v.data, q: q.data });
  }
  return { batch, context, layers };
}
