// Generation as a whole: names, the manifest, write-if-changed, stale files, --check, and a failed
// generation that leaves the output folder exactly as it was.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planGeneration, type GenerationPlan } from "../../codegen/generate.js";
import { compareGenerated, writeGenerated } from "../../codegen/write.js";
import { parseScheduleTag, scheduleSpace } from "../../codegen/schedules.js";
import { requestedSchedules } from "../../codegen/variants.js";
import { PROJECT_ROOT } from "../../cli/common.js";
import { hashFolder } from "../helpers/folder_hash.js";
import { copyKernel } from "../helpers/kernel_root.js";

const matrix = { headDims: [128], groupSizes: [4], dtypes: ["bf16"] };

describe("lim generate", () => {
  let plan: GenerationPlan;
  let out: string;

  beforeAll(async () => {
    plan = await planGeneration({ root: PROJECT_ROOT, matrix });
    out = mkdtempSync(join(tmpdir(), "lim-gen-"));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("names each variant by kernel, constants and schedule", () => {
    const names = plan.groups.flatMap((g) => g.variants.map((v) => v.name));
    expect(names).toContain("decode_attention__d128_g4_bf16_contiguous__t128_r1_s4_m1");
    expect(names).toContain("gather_kv__d128_bf16_contiguous__t256");
    expect(names).toContain("decode_attention__d128_g4_bf16_paged__t128_r1_s4_m1"); // both cache layouts by default
    expect(names).toContain("decode_attention__d128_g4_bf16_paged_e4m3__t128_r1_s4_m1"); // and FP8 caches
    expect(names).toContain("gather_kv__d128_bf16_paged__t256");
    expect(names).toContain("gather_kv__d128_bf16_paged_e4m3__t256"); // the gather dequantises FP8 caches
    for (const n of names) expect(plan.files.has(`kernels/${n}.cu`)).toBe(true);
  });

  it("generates requested schedules and whole schedule spaces, the first one dispatched by default", async () => {
    const chooser = requestedSchedules({ decode_attention: "t256_r1_s3_m1+t64_r2_s2_m1" }, parseScheduleTag, scheduleSpace);
    const listed = await planGeneration({ root: PROJECT_ROOT, matrix, kernels: ["decode_attention"], choose: chooser });
    expect(listed.groups[0].variants.map((v) => [v.name, v.scheduleOrigin])).toEqual([
      ["decode_attention__d128_g4_bf16_contiguous__t256_r1_s3_m1", "--schedules"],
      ["decode_attention__d128_g4_bf16_contiguous__t64_r2_s2_m1", "--schedules"],
      ["decode_attention__d128_g4_bf16_contiguous_e4m3__t256_r1_s3_m1", "--schedules"],
      ["decode_attention__d128_g4_bf16_contiguous_e4m3__t64_r2_s2_m1", "--schedules"],
      ["decode_attention__d128_g4_bf16_paged__t256_r1_s3_m1", "--schedules"],
      ["decode_attention__d128_g4_bf16_paged__t64_r2_s2_m1", "--schedules"],
      ["decode_attention__d128_g4_bf16_paged_e4m3__t256_r1_s3_m1", "--schedules"],
      ["decode_attention__d128_g4_bf16_paged_e4m3__t64_r2_s2_m1", "--schedules"],
    ]);
    const space = await planGeneration({ root: PROJECT_ROOT, matrix, kernels: ["decode_attention"], choose: requestedSchedules({ decode_attention: "space" }, parseScheduleTag, scheduleSpace) });
    const names = space.groups[0].variants.map((v) => v.name);
    expect(names[0]).toBe("decode_attention__d128_g4_bf16_contiguous__t128_r1_s4_m1"); // the heuristic leads
    expect(new Set(names).size).toBe(names.length);
    // Candidates that break a rule or the shared-memory limit are left out: 8 warps x 4 slices of 16 rows x 6
    // stages would need 1.6 MB of shared memory.
    expect(names).not.toContain("decode_attention__d128_g4_bf16_contiguous__t256_r4_s6_m1");
    expect(names.length).toBeGreaterThan(15);
    expect(() => parseScheduleTag(space.groups[0].spec, "t128_r4")).toThrow(/expected t<n>_r<n>_s<n>/);
  });

  it("records every variant in the manifest with its file, symbol and launch shape", () => {
    const manifest = JSON.parse(plan.files.get("manifest.json")!);
    const v = manifest.variants.find((x: { name: string }) => x.name === "decode_attention__d128_g4_bf16_contiguous__t128_r1_s4_m1");
    expect(v).toMatchObject({
      kernel: "decode_attention",
      constants: { D: 128, G: 4, dtype: "bf16" },
      schedule: { threads: 128, rows: 1, stages: 4 },
      scheduleOrigin: "heuristic",
      file: "kernels/decode_attention__d128_g4_bf16_contiguous__t128_r1_s4_m1.cu",
      symbol: "lim_decode_attention__d128_g4_bf16_contiguous__t128_r1_s4_m1",
      threads: 128 + 128, // the consumers and the producer warp group
      // The list-entry cache (1025 entries, padded to 4224 bytes), Q's fragments (held in shared memory only at
      // D 256 with G 16: one word here, padded to 128 bytes), two sets of 4 barriers (each padded to 128 bytes),
      // then the ring: 4 stages of 64 K rows and 64 V rows of 128 + 8 bf16 (padded against bank conflicts), then
      // the producers' staged rows: two tiles of 64 positions (512 bytes) and of 64 K and V addresses (2048).
      sharedBytes: 4224 + 128 + 128 + 128 + 2 * 4 * 64 * 136 * 2 + 2 * 64 * 4 + 2 * 64 * 16,
    });
    expect(plan.files.get("sources.cmake")).toContain("${CMAKE_CURRENT_LIST_DIR}/kernels/decode_attention__d128_g4_bf16_contiguous__t128_r1_s4_m1.cu");
    expect(plan.files.get("include/lim.h")).toContain("int lim_decode_attention(");
    expect(plan.files.get("include/lim_variants.h")).toContain("const lim_variant_info* lim_find_decode_attention(int32_t D, int32_t G, lim_dtype dtype, lim_cache_layout cache, lim_dtype kv, int64_t rows);");
  });

  it("gives every variant of a kernel one parameter block, each cache tensor read through its variant's layout", () => {
    const params = plan.files.get("include/lim_variants.h")!;
    expect(params).toContain("lim_cache_tensor k; /* input, bf16/fp16 [B, Hkv, Nmax, D], a K/V cache in the variant's layout */");
    const paged = plan.files.get("kernels/decode_attention__d128_g4_bf16_paged__t128_r1_s4_m1.cu")!;
    expect(paged).toContain("const lim::PagedTensor<const __nv_bfloat16> k(lim_p.k);  // [B, Hkv, Nmax, D] through a block table");
    expect(paged).toContain("static constexpr int cache = 1;  // paged (lim_cache_layout)");
    const contiguous = plan.files.get("kernels/decode_attention__d128_g4_bf16_contiguous__t128_r1_s4_m1.cu")!;
    expect(contiguous).toContain("const lim::Tensor<const __nv_bfloat16, 4> k(lim_p.k.rows);  // [B, Hkv, Nmax, D]");
  });

  it("tags lowered statements with their DSL line", () => {
    const text = plan.files.get("kernels/decode_attention__d128_g4_bf16_contiguous__t128_r1_s4_m1.cu")!;
    const src = readFileSync(join(PROJECT_ROOT, "dsl/kernels/decode_attention.ts"), "utf8").split("\n");
    const tagged = text.split("\n").filter((l) => /\/\/ dsl\/kernels\/decode_attention\.ts:\d+$/.test(l));
    expect(tagged.length).toBeGreaterThan(60);
    // The tag of the exp2 line points at the DSL line that calls exp2.
    const line = tagged.find((l) => l.includes("const float p0 = lim::fast_exp2("))!;
    const n = Number(/:(\d+)$/.exec(line)![1]);
    expect(src[n - 1]).toContain("const p0 = exp2(");
  });

  it("writes only changed files and removes variants no longer generated, but not a user's file", () => {
    // An earlier generation had one more variant, listed in its manifest.
    const earlier = new Map(plan.files);
    earlier.set("kernels/old_variant.cu", "// stale\n");
    earlier.set("manifest.json", withVariantFile(plan.files.get("manifest.json")!, "kernels/old_variant.cu"));
    const first = writeGenerated(out, earlier);
    expect(first.every((r) => r.status === "written")).toBe(true);
    const file = join(out, "kernels/decode_attention__d128_g4_bf16_contiguous__t128_r1_s4_m1.cu");
    const mtime = statSync(file).mtimeMs;
    writeFileSync(join(out, "kernels/my_kernel.cu"), "// the user's own\n");
    const second = writeGenerated(out, plan.files);
    expect(second.filter((r) => r.status !== "unchanged")).toEqual([
      { path: "manifest.json", status: "written" },
      { path: "kernels/old_variant.cu", status: "removed" },
    ]);
    expect(statSync(file).mtimeMs).toBe(mtime);
    expect(readFileSync(join(out, "kernels/my_kernel.cu"), "utf8")).toBe("// the user's own\n");
    expect(readdirSync(out).some((f) => f.includes("staging"))).toBe(false);
    rmSync(join(out, "kernels/my_kernel.cu"));
  });

  it("--check names stale, missing and extra files", () => {
    writeGenerated(out, plan.files);
    writeFileSync(join(out, "include/lim.h"), "/* edited by hand */\n");
    rmSync(join(out, "sources.cmake"));
    // Extra: a variant file the folder's manifest lists that generation no longer makes (a user's file is not).
    writeFileSync(join(out, "manifest.json"), withVariantFile(plan.files.get("manifest.json")!, "kernels/extra.cu"));
    writeFileSync(join(out, "kernels/extra.cu"), "\n");
    writeFileSync(join(out, "kernels/users.cu"), "\n");
    const bad = compareGenerated(out, plan.files).filter((r) => r.status !== "unchanged");
    expect(bad).toEqual(
      expect.arrayContaining([
        { path: "include/lim.h", status: "stale" },
        { path: "sources.cmake", status: "missing" },
        { path: "manifest.json", status: "stale" },
        { path: "kernels/extra.cu", status: "extra" },
      ]),
    );
    expect(bad).toHaveLength(4);
  });
});

describe("a failed generation", () => {
  // A copy of the toolkit (bin/lim runs from its own folder), generating into a folder that already has content.
  let root: string;
  let outDir: string;
  let before: Record<string, string>;
  const lim = (...args: string[]) => spawnSync(join(root, "bin/lim"), ["generate", ...args], { encoding: "utf8" });

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "lim-broken-"));
    for (const dir of ["bin", "cli", "codegen", "dsl", "reference", "autotune", "report", "templates", "runtime/ts", "runtime/presets.json", "tuning"]) {
      if (existsSync(join(PROJECT_ROOT, dir))) cpSync(join(PROJECT_ROOT, dir), join(root, dir), { recursive: true, filter: (src) => !src.includes("/results/") });
    }
    cpSync(join(PROJECT_ROOT, "package.json"), join(root, "package.json"));
    symlinkSync(join(PROJECT_ROOT, "node_modules"), join(root, "node_modules"));
    outDir = join(root, "generated");
    const ok = lim("--head-dims", "64", "--group-sizes", "1", "--dtypes", "fp16", "--out", outDir);
    expect(ok.status, ok.stderr).toBe(0);
    // Progress on stderr: the settings once, then a line per kernel.
    expect(ok.stderr).toMatch(/^generating \d+ kernels \(loaded in [\d.]+ s\) for .*; head dims 64, group sizes 1, dtypes fp16/m);
    expect(ok.stderr).toMatch(/^\[\d+\/\d+\] gather_kv: 4 variants \([\d.]+ s\)$/m);
    writeFileSync(join(outDir, "kernels/my_kernel.cu"), "// the user's own\n");
    before = hashFolder(outDir);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("exits non-zero with the DSL error and leaves the output folder byte-identical", () => {
    const original = readFileSync(join(root, "dsl/kernels/gather_kv.ts"), "utf8");
    writeFileSync(join(root, "dsl/kernels/gather_kv.ts"), original.replace("const VEC = 16 / sizeof(c.dtype);", "const VEC = 16 / sizeOf(c.dtype);"));
    try {
      const failed = lim("--out", outDir);
      expect(failed.status).toBe(1);
      expect(failed.stderr).toMatch(/dsl\/kernels\/gather_kv\.ts:\d+:\d+: error: unknown primitive 'sizeOf'/);
      expect(failed.stderr).toMatch(/\^~~~~~/);
      expect(failed.stderr).toContain("nothing was written");
      expect(hashFolder(outDir)).toEqual(before);
    } finally {
      writeFileSync(join(root, "dsl/kernels/gather_kv.ts"), original);
    }
  });

  it("reports a kernel whose rules throw at the throwing line, writing nothing", () => {
    writeFileSync(join(root, "dsl/kernels/throwing.ts"), copyKernel({ name: "throwing", rules: '() => { throw new Error("boom"); }' }));
    try {
      const failed = lim("--kernels", "throwing", "--out", outDir);
      expect(failed.status).toBe(1);
      expect(failed.stderr).toMatch(/^dsl\/kernels\/throwing\.ts:\d+:\d+: error: rule 1 of throwing \(for D=64, schedule threads=32\) threw: boom$/m);
      expect(failed.stderr).toMatch(/\| {3}rules: \[\(\) => \{ throw new Error\("boom"\); \}\],\n +\^~+\n {2}hint: /);
      expect(hashFolder(outDir)).toEqual(before);
    } finally {
      rmSync(join(root, "dsl/kernels/throwing.ts"));
    }
  });

  it("says in one line, before planning, that a file stands where the include folder goes", () => {
    const blocked = join(root, "blocked");
    cpSync(outDir, blocked, { recursive: true });
    rmSync(join(blocked, "include"), { recursive: true });
    writeFileSync(join(blocked, "include"), "not a folder\n");
    const snapshot = hashFolder(blocked);
    const failed = lim("--out", blocked);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toBe(`error: ${join(blocked, "include")} is a file, but generation writes a folder there; move it away or choose another output folder\n`);
    expect(hashFolder(blocked)).toEqual(snapshot);
  });

  it("refuses a folder of a user's own files that no manifest of lim generate claims, touching none of them", () => {
    const theirs = join(root, "their_project");
    mkdirSync(join(theirs, "include"), { recursive: true });
    writeFileSync(join(theirs, "include/lim.h"), "// the user's own\n");
    writeFileSync(join(theirs, "abi.cpp"), "// the user's own\n");
    writeFileSync(join(theirs, "manifest.json"), '{"name": "their package"}\n');
    const snapshot = hashFolder(theirs);
    const failed = lim("--head-dims", "64", "--group-sizes", "1", "--dtypes", "fp16", "--out", theirs);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain(`error: the output folder ${theirs} holds files, and no manifest.json of lim generate says they are generated`);
    expect(hashFolder(theirs)).toEqual(snapshot);
  });

  it("says in one line that --out names a file", () => {
    const file = join(root, "a_file");
    writeFileSync(file, "not a folder\n");
    const failed = lim("--out", file);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toBe(`error: the output folder ${file} is a file; move it away or choose another output folder\n`);
    expect(readFileSync(file, "utf8")).toBe("not a folder\n");
  });
});

/** A manifest that also lists `file` as a variant's file. */
function withVariantFile(manifest: string, file: string): string {
  const m = JSON.parse(manifest);
  m.variants.push({ name: file, file });
  return `${JSON.stringify(m, null, 2)}\n`;
}

