// GPU availability for tests: GPU suites run where the addon loads and a device answers, and are skipped
// elsewhere with a message that says why.

import { probeGpu, type NativeAddon } from "../../runtime/ts/native.js";

const probe = probeGpu();

export const gpu: NativeAddon | undefined = probe.ok ? probe.native : undefined;

if (!probe.ok) {
  console.warn(`\n[lim] GPU tests SKIPPED: ${probe.reason}\n`);
} else {
  console.log(`[lim] GPU tests on ${probe.info.name} (sm_${probe.info.computeCapability.replace(".", "")}, ${probe.info.multiprocessors} SMs)`);
}
