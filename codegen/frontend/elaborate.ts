// One variant of one kernel: signature, schedule limits and rules, then the body, into typed IR.

import type { Constants, KernelSource, Schedule } from "../types.js";
import { Context, MAX_THREADS, SM_SHARED_MEMORY } from "./context.js";
import { lowerGridAxis } from "./grid.js";
import { runRule } from "./kernel_code.js";
import { launchRegisters } from "./builtins.js";
import type { KernelIR } from "./ir.js";
import type { Node } from "ts-morph";
import { readSignature } from "./signature.js";
import { Statements } from "./statements.js";

/** Checks the schedule against the hardware limits and the kernel's own rules. */
export function checkSchedule(ctx: Context, src: KernelSource, constants: Constants, schedule: Schedule): void {
  const name = src.definition.spec.name;
  const at = src.fn.getNameNode() ?? src.fn;
  const shown = Object.entries(schedule).map(([k, v]) => `${k}=${v}`).join(" ");
  for (const knob of Object.keys(src.definition.spec.schedule)) {
    if (!(knob in schedule)) ctx.fail("bad-spec", at, `schedule for ${name} lacks the knob '${knob}'`, "give every knob the spec declares a value");
  }
  const threads = ctx.launchThreads;
  if (schedule.threads === undefined) ctx.fail("bad-spec", at, `${name} declares no 'threads' knob`, "every schedule says how many threads a block has");
  if (schedule.threads < 32 || threads > MAX_THREADS || threads % 32 !== 0) {
    const producers = threads > schedule.threads ? ` (with the ${threads - schedule.threads} producer threads, ${threads})` : "";
    ctx.fail("schedule-limit", at, `schedule ${shown}: threads${producers} must be a multiple of 32 from 32 to ${MAX_THREADS}`, "choose another thread count");
  }
  for (let i = 0; i < src.definition.rules.length; i++) {
    const broken = runRule(src, i, constants, schedule);
    if (broken) ctx.fail("schedule-limit", at, `schedule ${shown} breaks a rule of ${name}: ${broken}`, "choose a schedule that satisfies the kernel's rules (see its defineKernel)");
  }
}

export function elaborate(src: KernelSource, constants: Constants, schedule: Schedule): KernelIR {
  const spec = src.definition.spec;
  // The body reads the kernel's limits as c.NAME too; they are no axis of the variant.
  const limits = spec.limits ?? {};
  const ctx = new Context(src.file, { ...limits, ...constants }, schedule);
  ctx.producerWarps = spec.producerWarps ?? 0; // before the schedule's checks, which count the producer warps
  ctx.clusterBlocks = spec.cluster ? schedule[spec.cluster] : 0;
  checkSchedule(ctx, src, constants, schedule);
  const sig = readSignature(ctx, src.fn);
  const at = src.fn.getNameNode() ?? src.fn;
  // Grid axes: expressions over the run-time sizes, i32 arguments, constants and schedule, lowered for the launch.
  const runtimeNames = new Set([...sig.sizes, ...sig.params.flatMap((p) => (p.kind === "scalar" && p.type === "i32" ? [p.name] : []))]);
  const launchGrid = (["x", "y", "z"] as const).map((axis) => {
    const text = spec.grid[axis];
    if (text === undefined) return "1";
    const lowered = lowerGridAxis(text, runtimeNames, constants, schedule);
    return typeof lowered === "string" ? lowered : ctx.fail("bad-spec", at, lowered.message, lowered.hint);
  });
  ctx.define(src.fn, sig.constantsName, { s: "constants" });
  ctx.define(src.fn, sig.scheduleName, { s: "schedule" });
  for (const p of sig.params) {
    if (p.kind === "tensor") ctx.define(src.fn, p.name, { s: "tensor", param: p });
    else ctx.define(src.fn, p.name, { s: "var", cname: p.name, t: p.type, mutable: false, level: "runtime" });
  }
  const statements = new Statements(ctx);
  const body = statements.block(src.fn.getStatements());
  checkBarriersAndRoles(ctx, at);
  if (spec.overlapsPrecedingKernel && !ctx.primitivesCalled.has("waitForPrecedingGrid")) {
    ctx.fail("bad-spec", at, `${spec.name} overlaps the preceding kernel but never calls waitForPrecedingGrid()`, "call waitForPrecedingGrid() before reading what the preceding kernel wrote, or drop overlapsPrecedingKernel");
  }
  const sharedBytes = Math.ceil(ctx.sharedMax / 16) * 16;
  return {
    name: spec.name,
    file: src.file,
    summary: spec.summary,
    constants,
    limits,
    schedule,
    params: sig.params,
    sizes: sig.sizes,
    grid: spec.grid,
    launchGrid: { x: launchGrid[0], y: launchGrid[1], z: launchGrid[2] },
    threads: ctx.launchThreads,
    overlapsPrecedingKernel: spec.overlapsPrecedingKernel ?? false,
    clusterBlocks: Math.max(1, ctx.clusterBlocks),
    sharedBytes,
    minBlocksPerSM: spec.occupancyFromSharedMemory ? aloneOnItsSM(sharedBytes, ctx.launchThreads) : undefined,
    body,
    functions: [...ctx.deviceFunctions.values()].filter((f) => f !== "in progress"),
    raises: ctx.raises,
  };
}

/**
 * 1 where this much shared memory leaves room for one block per SM and the register file could give each
 * thread more than 64 registers, else undefined (no hint). A larger count would lower the register cap
 * below ptxas's own choice; at 1024 threads the cap is 64 either way, and the hint alone changed ptxas's
 * allocation there into spills (bench/NOTES.md section 32). The front end's count leaves out storage a
 * device template declares itself, so a variant may hold fewer blocks than it says, never more.
 */
function aloneOnItsSM(sharedBytes: number, threads: number): number | undefined {
  return 2 * (sharedBytes + 1024) > SM_SHARED_MEMORY && threads < MAX_THREADS ? 1 : undefined;
}

/** Checks that need the whole body: every waited-on barrier is signalled, and producer warps get a role. */
function checkBarriersAndRoles(ctx: Context, at: Node): void {
  for (const wait of ctx.barrierWaits) {
    if (!ctx.barrierSignals.has(wait.name)) {
      ctx.fail("type-mismatch", wait.node, `waitBarrier() on '${wait.name}', which no bulkCopy() or arrive() signals: the wait would never return`, `signal ${wait.name}[i] with bulkCopy(..., ${wait.name}[i]) or arrive(${wait.name}[i]) in the other role`);
    }
  }
  const { producer, consumer } = ctx.roleRegisters;
  if (producer !== undefined || consumer !== undefined) {
    // Per scheduler (a quarter of the SM): its share of each role's warps at the role's count.
    const consumerWarps = ctx.schedule.threads / 32;
    const launched = launchRegisters(ctx.launchThreads / 32);
    const used = (consumerWarps / 4) * 32 * (consumer ?? launched) + (ctx.producerWarps / 4) * 32 * (producer ?? launched);
    if (used > 16384) {
      ctx.fail("schedule-limit", at, `setMaxRegisters(): ${consumer ?? launched} registers for ${consumerWarps} consumer warps and ${producer ?? launched} for ${ctx.producerWarps} producer warps need ${used * 4} of the SM's 65536`, "give the producer fewer registers (e.g. 40) or the consumers fewer");
    }
  }
  if (ctx.producerWarps > 0 && !ctx.rolesSplit) {
    ctx.fail("bad-spec", at, `the spec adds ${ctx.producerWarps} producer warp${ctx.producerWarps === 1 ? "" : "s"} but the body never branches on isProducer()`, "split the body with if (isProducer()) { ... } else { ... }, or drop producerWarps");
  }
}
