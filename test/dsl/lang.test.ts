// The DSL's declarations (what kernel authors see), the front end's typing rules and the lowering table
// describe the same primitives.

import { expect, it } from "vitest";
import * as lang from "../../dsl/lang/builtins.js";
import { BUILTIN_OBJECTS, BUILTINS, SPECIAL_FORMS } from "../../codegen/frontend/builtins.js";
import { PRIMITIVE_LOWERING } from "../../codegen/lower/primitives.js";

const declared = Object.keys(lang).sort();

it("every primitive declared in dsl/lang has a typing rule, and every rule a declaration", () => {
  const known = [...Object.keys(BUILTINS), ...SPECIAL_FORMS, ...Object.keys(BUILTIN_OBJECTS)].sort();
  expect(known).toEqual(declared);
});

it("every primitive that reaches the lowering has a CUDA form", () => {
  const lowered = [...Object.keys(BUILTINS), "present", "raise"];
  for (const name of lowered) expect(PRIMITIVE_LOWERING, name).toHaveProperty(name);
});

it("calling a primitive on the CPU says it is compiled, not run", () => {
  expect(() => lang.exp2(1)).toThrow(/GPU primitive: kernel bodies are compiled by 'lim generate', never run/);
  expect(() => lang.blockIdx.x).toThrow(/blockIdx.x\(\) is a GPU primitive/);
});
