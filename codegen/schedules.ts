// Schedules as text and as spaces: a schedule tag (t128_r4_s4_p1) read back into knob values, and the
// whole space a kernel declares (the cartesian product of its knobs' values, before the rules filter it).

import type { KernelSpec } from "../dsl/lang/kernel.js";
import type { Schedule } from "./types.js";

/** Reads a schedule tag such as "t128_r4_s4_p1" (the knobs' tags and values, in the spec's order). */
export function parseScheduleTag(spec: KernelSpec, tag: string): Schedule {
  const knobs = Object.entries(spec.schedule);
  const parts = tag.split("_");
  const expected = knobs.map(([, k]) => `${k.tag}<n>`).join("_");
  if (parts.length !== knobs.length) throw new Error(`schedule '${tag}' for ${spec.name}: expected ${expected}`);
  const schedule: Record<string, number> = {};
  knobs.forEach(([name, knob], i) => {
    const m = new RegExp(`^${knob.tag}(\\d+)$`).exec(parts[i]);
    if (!m) throw new Error(`schedule '${tag}' for ${spec.name}: part '${parts[i]}' should be ${knob.tag}<n> (${name}); expected ${expected}`);
    schedule[name] = Number(m[1]);
  });
  return schedule;
}

/** Every combination of the knobs' declared values. */
export function scheduleSpace(spec: KernelSpec): Schedule[] {
  let space: Record<string, number>[] = [{}];
  for (const [name, knob] of Object.entries(spec.schedule)) {
    space = space.flatMap((s) => knob.values.map((v) => ({ ...s, [name]: v })));
  }
  return space;
}
