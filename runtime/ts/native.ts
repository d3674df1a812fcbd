// Loads the Node addon (build/lim_addon.node) and describes its interface. Device memory stays inside
// native DeviceBuffer objects; JavaScript never holds a device pointer.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { NativeRuntime } from "./runtime.js";

export interface DeviceBuffer {
  readonly bytes: number;
  readonly disposed: boolean;
  upload(data: ArrayBufferView | ArrayBuffer): void;
  download(into: ArrayBufferView | ArrayBuffer): void;
  fill(byte: number): void;
  dispose(): void;
}

export interface DeviceInfo {
  readonly name: string;
  readonly computeCapability: string;
  readonly multiprocessors: number;
  readonly freeBytes: number;
  readonly totalBytes: number;
  readonly cudaDriver: string;
  readonly cudaRuntime: string;
  readonly library: string;
  readonly builtFor: string;
}

export interface TimingOptions {
  repeats: number;
  warmup: number;
  /** Bytes overwritten before each timed replay (more than the L2 cache: inputs come from memory); 0: none. */
  flushBytes: number;
}

/** What every attention function takes: q, the caches, seqlens, the output, sizes, dtype and scale. */
export interface AttentionArgs {
  q: DeviceBuffer;
  qStrideB: number;
  qStrideH: number;
  kCache: DeviceBuffer;
  kStrideB: number;
  kStrideH: number;
  kStrideN: number;
  vCache: DeviceBuffer;
  vStrideB: number;
  vStrideH: number;
  vStrideN: number;
  seqlens: DeviceBuffer;
  out: DeviceBuffer;
  outStrideB: number;
  outStrideH: number;
  lse: DeviceBuffer | null;
  batch: number;
  numQHeads: number;
  numKvHeads: number;
  headDim: number;
  cacheCapacity: number;
  maxSeqlen: number;
  dtype: "bf16" | "fp16";
  softmaxScale: number;
  workspace: DeviceBuffer | null;
}

export interface DecodeAttentionArgs extends AttentionArgs {
  /** Selection layers: [B, Hq, >= maxSeqlen] fp32 scaled logits. */
  logits?: DeviceBuffer | null;
  logitsStrideB?: number;
  logitsStrideH?: number;
}

/** Sparse attention over one ascending list per request ([B, K]) or, per head, one per query head ([B, Hq, K]). */
export interface SparseAttentionArgs extends AttentionArgs {
  indices: DeviceBuffer;
  indicesStrideB: number;
  counts: DeviceBuffer;
  maxCount: number;
}

export interface SparseAttentionPerHeadArgs extends SparseAttentionArgs {
  indicesStrideH: number;
}

export interface GatherKvArgs {
  kCache: DeviceBuffer;
  kStrideB: number;
  kStrideH: number;
  kStrideN: number;
  vCache: DeviceBuffer;
  vStrideB: number;
  vStrideH: number;
  vStrideN: number;
  seqlens: DeviceBuffer;
  indices: DeviceBuffer;
  indicesStrideB: number;
  counts: DeviceBuffer;
  outK: DeviceBuffer;
  outV: DeviceBuffer;
  outStrideB: number;
  outStrideH: number;
  outStrideN: number;
  batch: number;
  numKvHeads: number;
  headDim: number;
  cacheCapacity: number;
  maxSeqlen: number;
  maxCount: number;
  dtype: "bf16" | "fp16";
}

interface LogitsIn {
  logits: DeviceBuffer;
  logitsStrideB: number;
  logitsStrideH: number;
  seqlens: DeviceBuffer;
  batch: number;
  numQHeads: number;
  maxSeqlen: number;
}

export interface SelectionBudget {
  budget: number;
  recencyRatio: number;
  sinks: number;
}

export interface SelectLessIsMoreArgs extends LogitsIn, SelectionBudget {
  indices: DeviceBuffer;
  indicesStrideB: number;
  counts: DeviceBuffer;
  workspace: DeviceBuffer | null;
}

export interface SelectPerHeadArgs extends LogitsIn {
  indices: DeviceBuffer;
  indicesStrideB: number;
  indicesStrideH: number;
  counts: DeviceBuffer | null;
  budget: number;
}

export interface TopkArgs {
  values: DeviceBuffer;
  valuesStride: number;
  lengths: DeviceBuffer | null;
  indices: DeviceBuffer;
  indicesStride: number;
  outValues: DeviceBuffer | null;
  rows: number;
  length: number;
  k: number;
  order: "rank" | "position";
}

export interface AttentionRecallArgs {
  logits: DeviceBuffer;
  logitsStrideB: number;
  logitsStrideH: number;
  logitsCapacity: number;
  lse: DeviceBuffer;
  indices: DeviceBuffer;
  indicesStrideB: number;
  indicesStrideS: number;
  counts: DeviceBuffer;
  recall: DeviceBuffer;
  batch: number;
  numQHeads: number;
  sets: number;
  maxCount: number;
}

export interface NativeAddon {
  readonly version: string;
  DecodeRuntime: {
    new (config: object): NativeRuntime;
    deviceBytes(config: object): number;
  };
  DeviceBuffer: new (bytes: number) => DeviceBuffer;
  deviceInfo(): DeviceInfo;
  synchronize(): void;
  checkDeviceStatus(): void;
  decodeAttention(args: DecodeAttentionArgs): void;
  decodeAttentionWorkspaceSize(args: Pick<DecodeAttentionArgs, "batch" | "numQHeads" | "numKvHeads" | "headDim" | "maxSeqlen" | "dtype">): number;
  sparseAttention(args: SparseAttentionArgs): void;
  sparseAttentionPerHead(args: SparseAttentionPerHeadArgs): void;
  sparseAttentionWorkspaceSize(args: Pick<AttentionArgs, "batch" | "numQHeads" | "numKvHeads" | "headDim" | "dtype"> & { maxCount: number; perHead: boolean }): number;
  gatherKv(args: GatherKvArgs): void;
  selectLessIsMore(args: SelectLessIsMoreArgs): void;
  selectLessIsMoreWorkspaceSize(args: Pick<LogitsIn, "batch" | "numQHeads" | "maxSeqlen"> & SelectionBudget): number;
  selectPerHead(args: SelectPerHeadArgs): void;
  topk(args: TopkArgs): void;
  attentionRecall(args: AttentionRecallArgs): void;
  /**
   * Captures what `launch` enqueues into a CUDA graph and returns the microseconds of each timed replay.
   * Only the kernel entry points may be called inside `launch` (no uploads, downloads or synchronization).
   */
  timeCalls(launch: () => void, options: TimingOptions): number[];
  /** Dispatch a kernel to one named variant (null: back to the default). */
  useVariant(kernel: string, variant: string | null): void;
}

export const ADDON_PATH = fileURLToPath(new URL("../../build/lim_addon.node", import.meta.url));

/**
 * Loads the addon, or throws an error that says how to build it. The addon finds liblim.so beside itself:
 * the tuner loads a copy placed beside a library of candidate variants.
 */
export function loadNative(path: string = ADDON_PATH): NativeAddon {
  if (!existsSync(path)) {
    throw new Error(`the native addon is not built (${path} is missing): run \`npm run build\` (needs CUDA's nvcc and cmake)`);
  }
  return createRequire(import.meta.url)(path) as NativeAddon;
}

/** The addon and the GPU's description when both are usable, else the reason they are not. */
export function probeGpu(): { ok: true; native: NativeAddon; info: DeviceInfo } | { ok: false; reason: string } {
  try {
    const native = loadNative();
    return { ok: true, native, info: native.deviceInfo() };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
