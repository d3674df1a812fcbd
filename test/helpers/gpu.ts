// GPU availability for tests: GPU suites run where the addon loads and a device answers, and are skipped
// elsewhere with a message that says why.

import { probeGpu, type DeviceBuffer, type NativeAddon } from "../../runtime/ts/native.js";

const probe = probeGpu();

export const gpu: NativeAddon | undefined = probe.ok ? probe.native : undefined;

if (!probe.ok) {
  console.warn(`\n[lim] GPU tests SKIPPED: ${probe.reason}\n`);
} else {
  console.log(`[lim] GPU tests on ${probe.info.name} (sm_${probe.info.computeCapability.replace(".", "")}, ${probe.info.multiprocessors} SMs)`);
}

/** Runs `body` with an allocator whose buffers are all disposed afterwards, whatever happens. */
export function withBuffers<T>(native: NativeAddon, body: (alloc: (bytes: number) => DeviceBuffer) => T): T {
  const buffers: DeviceBuffer[] = [];
  try {
    return body((bytes) => {
      const b = new native.DeviceBuffer(Math.max(16, bytes));
      buffers.push(b);
      return b;
    });
  } finally {
    for (const b of buffers) b.dispose();
  }
}

/** A device buffer holding `data`. */
export function upload(alloc: (bytes: number) => DeviceBuffer, data: ArrayBufferView): DeviceBuffer {
  const b = alloc(data.byteLength);
  b.upload(data);
  return b;
}
