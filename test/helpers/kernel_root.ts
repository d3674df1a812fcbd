// Throw-away project roots for tests that load kernels from files, as `lim generate` does: dsl/kernels holds
// what the test writes, dsl/lang and templates are the real ones (linked). Each root has its own paths, so
// a kernel file is imported afresh however often the tests change it.

import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../cli/common.js";

export function kernelRoot(kernels: Readonly<Record<string, string>>): string {
  const root = mkdtempSync(join(tmpdir(), "lim-root-"));
  mkdirSync(join(root, "dsl", "kernels"), { recursive: true });
  symlinkSync(join(PROJECT_ROOT, "dsl", "lang"), join(root, "dsl", "lang"));
  symlinkSync(join(PROJECT_ROOT, "templates"), join(root, "templates"));
  for (const [name, text] of Object.entries(kernels)) writeFileSync(join(root, "dsl", "kernels", `${name}.ts`), text);
  return root;
}

export interface CopyKernelParts {
  readonly name?: string;
  /** Head dims of the default matrix. */
  readonly dims?: string;
  readonly threads?: string;
  readonly heuristic?: string;
  readonly rules?: string;
  /** Statements before the definition (run when the file is imported). */
  readonly before?: string;
}

/** A small kernel file (y = x, row by row) whose spec, heuristic and rules a test can replace. */
export function copyKernel(parts: CopyKernelParts = {}): string {
  const name = parts.name ?? "copy_rows";
  return `import { blockIdx, defineKernel, range, threadIdx, type ConstantsOf, type Out, type ScheduleOf, type Tensor } from "../lang/index.js";
${parts.before ?? ""}
export const def_${name} = defineKernel({
  spec: {
    name: "${name}",
    summary: "y = x",
    constants: { D: [${parts.dims ?? "64, 128"}] },
    schedule: { threads: { tag: "t", values: [${parts.threads ?? "32, 64"}] } },
    grid: { x: "B" },
  },
  heuristic: ${parts.heuristic ?? "() => ({ threads: 32 })"},
  rules: [${parts.rules ?? ""}],
});

export function ${name}(c: ConstantsOf<typeof def_${name}.spec>, s: ScheduleOf<typeof def_${name}.spec>, x: Tensor<"f32", ["B", "D"]>, y: Out<"f32", ["B", "D"]>): void {
  for (const i of range(threadIdx.x, c.D, s.threads)) y.store(x.at(blockIdx.x, i), blockIdx.x, i);
}
`;
}
