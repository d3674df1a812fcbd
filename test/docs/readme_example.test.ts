// The README's DSL example is a real kernel: its first ```ts block that defines a kernel is written to a
// kernel folder of its own and generated in memory with the project's code generator, and the error the
// README shows is what the generator reports for the broken line the README names.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { DslError } from "../../codegen/frontend/diagnostics.js";
import { loadKernels } from "../../codegen/frontend/load.js";
import { lowerSources } from "../../codegen/generate.js";
import { heuristicSchedule } from "../../codegen/variants.js";

const README = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");
const KERNEL = "scale_rows";
const FILE = `dsl/kernels/${KERNEL}.ts`;

/** The fenced blocks of a markdown text: the info string after the opening fence, and the body. */
function fencedBlocks(markdown: string): { lang: string; body: string }[] {
  return [...markdown.matchAll(/^```([^\n`]*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1].trim(), body: m[2] }));
}

const example = fencedBlocks(README).find((b) => b.lang === "ts" && b.body.includes("defineKernel"));
const errorSample = fencedBlocks(README).find((b) => b.body.startsWith(`${FILE}:`));

const roots: string[] = [];

/** A project root of its own whose dsl/kernels holds only `source` (the language is the project's own). */
function kernelRoot(source: string): string {
  const root = mkdtempSync(join(tmpdir(), "lim-readme-"));
  roots.push(root);
  mkdirSync(join(root, "dsl", "kernels"), { recursive: true });
  symlinkSync(join(PROJECT_ROOT, "dsl", "lang"), join(root, "dsl", "lang"), "dir");
  writeFileSync(join(root, FILE), source);
  return root;
}

/** Loads the kernels of `root` and lowers every variant of the default matrix in memory (templates are the project's). */
async function generate(root: string): Promise<Map<string, string>> {
  const sources = await loadKernels(root);
  return lowerSources(PROJECT_ROOT, sources, {}, heuristicSchedule).files;
}

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

describe("the README's DSL example", () => {
  it("is a complete kernel file that generates", async () => {
    expect(example, "README.md has a ```ts block with defineKernel").toBeDefined();
    const files = await generate(kernelRoot(example!.body));
    const variants = [...files.keys()].filter((f) => f.startsWith("kernels/")).sort();
    expect(variants).toEqual([
      `kernels/${KERNEL}__d128_bf16__t32.cu`,
      `kernels/${KERNEL}__d128_fp16__t32.cu`,
      `kernels/${KERNEL}__d64_bf16__t32.cu`,
      `kernels/${KERNEL}__d64_fp16__t32.cu`,
    ]);
    // The file the README names holds the lowered kernel, its statements tagged with the example's lines.
    expect(README).toContain(`generated/kernels/${KERNEL}__d128_bf16__t32.cu`);
    const cuda = files.get(`kernels/${KERNEL}__d128_bf16__t32.cu`)!;
    expect(cuda).toContain(`__global__ void __launch_bounds__(32) ${KERNEL}__d128_bf16__t32_kernel(`);
    expect(cuda).toContain(`extern "C" int lim_${KERNEL}__d128_bf16__t32(`);
    expect(cuda).toMatch(new RegExp(`lim::load_vec\\(v, x\\.ptr_at\\(.*\\); +// ${FILE.replace(/\./g, "\\.")}:\\d+$`, "m"));
  });

  it("shows the error the generator prints for the broken line it names", async () => {
    expect(errorSample, `README.md has a fenced block starting with ${FILE}:`).toBeDefined();
    // The excerpt's second line is "<line> | <source>": put that source line there in a copy of the example.
    const [, lineText, code] = /^\s*(\d+) \| (.*)$/m.exec(errorSample!.body.split("\n")[1]) ?? [];
    expect(code, "the error sample shows its source line").toBeDefined();
    const lines = example!.body.split("\n");
    lines.splice(Number(lineText) - 1, 0, code);
    let error: unknown;
    try {
      await generate(kernelRoot(lines.join("\n")));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DslError);
    // What `lim generate` prints on a DSL error: the message, then that nothing was written.
    expect(`${(error as DslError).message}\nnothing was written\n`).toBe(errorSample!.body);
  });
});
