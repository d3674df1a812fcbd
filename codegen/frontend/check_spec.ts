// What the type checker cannot see in a kernel's spec: C identifiers, non-empty value lists, knob values,
// distinct tags, bucket bounds. Each problem is a DslError at the spec entry that has it (or at `fallback`
// where the source does not spell the entry out).

import type { Node, SourceFile } from "ts-morph";
import type { AnyKernelDefinition as KernelDefinition, KernelSpec } from "../../dsl/lang/kernel.js";
import { bucketRanges } from "../variants.js";
import { definitionNode, type DefinitionStep } from "./definition_nodes.js";
import { dslError } from "./diagnostics.js";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Tags are read back from variant names (t128_r4): letters only, so the number after them is unambiguous. */
const TAG = /^[A-Za-z]+$/;

export function checkSpec(definition: KernelDefinition, file: string, sf: SourceFile, fallback: Node): void {
  const spec: KernelSpec = definition.spec;
  const fail = (path: readonly DefinitionStep[], summary: string, hint: string): never => {
    throw dslError("bad-spec", definitionNode(sf, String(spec.name), path) ?? fallback, file, summary, hint);
  };
  if (typeof spec.name !== "string" || !IDENT.test(spec.name)) fail(["spec", "name"], `kernel name '${String(spec.name)}' is not a C identifier`, "use letters, digits and underscores");
  for (const [k, values] of Object.entries(spec.constants ?? {})) {
    const at = ["spec", "constants", k];
    if (!IDENT.test(k)) fail(at, `constant name '${k}' of ${spec.name} is not an identifier`, "use letters, digits and underscores");
    if (!Array.isArray(values) || values.length === 0) fail(at, `constant '${k}' of ${spec.name} lists no values`, "list the values the default matrix covers");
  }
  for (const [k, knob] of Object.entries(spec.schedule ?? {})) {
    const at = ["spec", "schedule", k];
    if (!IDENT.test(k)) fail(at, `schedule knob '${k}' of ${spec.name} is not an identifier`, "use letters, digits and underscores");
    if (typeof knob?.tag !== "string" || !TAG.test(knob.tag)) fail(at, `schedule knob '${k}' of ${spec.name} has tag '${String(knob?.tag)}'`, "a tag is one or more letters (it prefixes the knob's value in variant names, e.g. t128)");
    const values: unknown[] = Array.isArray(knob.values) ? knob.values : [];
    const bad = values.filter((v) => !(Number.isInteger(v) && (v as number) > 0));
    if (values.length === 0 || bad.length > 0) {
      fail(at, `schedule knob '${k}' of ${spec.name} ${values.length === 0 ? "lists no values" : `has values that are not positive integers: ${bad.map(String).join(", ")}`}`, "list the positive integers a tuning sweep may try, e.g. values: [128, 256]");
    }
  }
  const producers = spec.producerWarps;
  if (producers !== undefined && !(Number.isInteger(producers) && producers >= 1 && producers <= 4)) {
    fail(["spec", "producerWarps"], `producerWarps of ${spec.name} is ${String(producers)}`, "give a whole number of warps from 1 to 4, or leave it out");
  }
  if (spec.cluster !== undefined) {
    const knob = spec.schedule?.[spec.cluster];
    if (!knob) fail(["spec", "cluster"], `cluster of ${spec.name} names '${String(spec.cluster)}', which is no schedule knob`, `name the knob that gives a cluster's blocks, e.g. cluster: "cluster" with schedule: { cluster: { tag: "c", values: [1, 2, 4, 8] } }`);
    const bad = knob!.values.filter((v) => !(Number.isInteger(v) && v >= 1 && v <= 8));
    if (bad.length > 0) fail(["spec", "schedule", spec.cluster], `cluster knob '${spec.cluster}' of ${spec.name} has values ${bad.join(", ")}`, "a cluster has 1 to 8 blocks (the portable cluster sizes of sm_90)");
  }
  const tags = Object.values(spec.schedule ?? {}).map((k) => k.tag);
  if (new Set(tags).size !== tags.length) fail(["spec", "schedule"], `schedule tags of ${spec.name} repeat: ${tags.join(", ")}`, "give each knob its own tag; tags make variant names unique");
  try {
    bucketRanges(spec);
  } catch (e) {
    fail(["spec", "bucket"], (e as Error).message, "list ascending bounds and one tunedAt value inside each bucket");
  }
}
