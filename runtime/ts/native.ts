// Loads the Node addon (build/lim_addon.node) and describes its interface. Device memory stays inside
// native DeviceBuffer objects; JavaScript never holds a device pointer.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { LimAbiFunctions } from "../../generated/bindings/lim_abi.js";
import type { NativeRuntime } from "./runtime.js";

/** Device memory, allocated zeroed. */
export interface DeviceBuffer {
  readonly bytes: number;
  readonly disposed: boolean;
  upload(data: ArrayBufferView | ArrayBuffer): void;
  download(into: ArrayBufferView | ArrayBuffer): void;
  fill(byte: number): void;
  /** A buffer starting `offset` bytes into this one, sharing its memory (valid while this one is). */
  view(offset: number): DeviceBuffer;
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

/** The addon: the generated bindings of every C function of lim.h, and what the addon adds of its own. */
export interface NativeAddon extends LimAbiFunctions<DeviceBuffer> {
  readonly version: string;
  DecodeRuntime: {
    new (config: object): NativeRuntime;
    deviceBytes(config: object): number;
  };
  DeviceBuffer: new (bytes: number) => DeviceBuffer;
  deviceInfo(): DeviceInfo;
  synchronize(): void;
  /**
   * Captures what `launch` enqueues into a CUDA graph and returns the microseconds of each timed replay.
   * Only the kernel entry points may be called inside `launch` (no uploads, downloads or synchronization).
   */
  timeCalls(launch: () => void, options: TimingOptions): number[];
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

/** Where Linux's NVIDIA kernel driver describes itself; absent on a machine without an NVIDIA GPU or driver. */
const NVIDIA_DRIVER = "/proc/driver/nvidia/version";

/**
 * What is missing, found without loading anything: the addon (with the command that builds it), and then also
 * the GPU or its driver where Linux shows none (which building would not fix); undefined when the addon is
 * there (whether the GPU works, only loading it tells: some containers show a working GPU without that file).
 */
export function missingForGpu(path: string = ADDON_PATH): string | undefined {
  if (existsSync(path)) return undefined;
  const build = `the native addon is not built (${path} is missing; \`npm run build\` builds it, with CUDA's nvcc and cmake)`;
  return process.platform === "linux" && !existsSync(NVIDIA_DRIVER) ? `no NVIDIA GPU or driver found (no ${NVIDIA_DRIVER}), and ${build}` : build;
}

/**
 * The addon and the GPU's description when both are usable, else what is missing: the GPU or its driver
 * (which building the addon would not fix), the addon (with the command that builds it), or what broke.
 */
export function probeGpu(path: string = ADDON_PATH): { ok: true; native: NativeAddon; info: DeviceInfo } | { ok: false; reason: string } {
  const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
  const missing = missingForGpu(path);
  if (missing) return { ok: false, reason: missing };
  let native: NativeAddon;
  try {
    native = loadNative(path);
  } catch (e) {
    return { ok: false, reason: `the native addon ${path} does not load (\`npm run build\` rebuilds it): ${message(e)}` };
  }
  try {
    return { ok: true, native, info: native.deviceInfo() };
  } catch (e) {
    return { ok: false, reason: message(e) };
  }
}
