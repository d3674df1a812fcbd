// Loads the Node addon (build/lim_addon.node) and describes its interface. Device memory stays inside
// native DeviceBuffer objects; JavaScript never holds a device pointer.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

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
  readonly library: string;
  readonly builtFor: string;
}

export interface DecodeAttentionArgs {
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

export interface NativeAddon {
  readonly version: string;
  DeviceBuffer: new (bytes: number) => DeviceBuffer;
  deviceInfo(): DeviceInfo;
  synchronize(): void;
  checkDeviceStatus(): void;
  decodeAttention(args: DecodeAttentionArgs): void;
  decodeAttentionWorkspaceSize(args: Pick<DecodeAttentionArgs, "batch" | "numQHeads" | "numKvHeads" | "headDim" | "maxSeqlen" | "dtype">): number;
}

export const ADDON_PATH = fileURLToPath(new URL("../../build/lim_addon.node", import.meta.url));

/** Loads the addon, or throws an error that says how to build it. */
export function loadNative(): NativeAddon {
  if (!existsSync(ADDON_PATH)) {
    throw new Error(`the native addon is not built (${ADDON_PATH} is missing): run \`npm run build\` (needs CUDA's nvcc and cmake)`);
  }
  return createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
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
