// The lim commands' arguments: a mistake is named before anything runs (no GPU is needed to hear of it), and
// nothing the user did not ask for is taken silently.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT, parseInteger, parseList, parseNumbers } from "../../cli/common.js";

const lim = (...args: string[]) => spawnSync(join(PROJECT_ROOT, "bin/lim"), args, { encoding: "utf8" });

describe("list and number flags", () => {
  it("refuse a value given twice, naming it", () => {
    expect(() => parseNumbers("--head-dims")("128,64,128")).toThrow("--head-dims: 128 given twice; name each value once");
    expect(() => parseList("--policy", ["full", "lessismore"])("full,full")).toThrow("--policy: full given twice");
    expect(parseNumbers("--head-dims")("64, 128")).toEqual([64, 128]);
  });

  it("take decimal digits only: hexadecimal, exponents, signs and fractions are refused", () => {
    for (const bad of ["0x80", "1e2", "-4", "+4", "12.5", "0"]) expect(() => parseNumbers("--head-dims")(bad)).toThrow(`--head-dims: '${bad}' is not a positive integer`);
    for (const bad of ["0x10", "1e3", "-1", "", "2.0"]) expect(() => parseInteger("--steps")(bad)).toThrow(`--steps: '${bad}' is not a non-negative integer`);
    expect(parseInteger("--seed")("0")).toBe(0);
  });
});

describe("lim generate --schedules", () => {
  it("refuses a kernel named twice, and an item with more than one '='", () => {
    const twice = lim("generate", "--kernels", "gather_kv", "--schedules", "gather_kv=t128,gather_kv=t256", "--out", "/tmp/never-written");
    expect(twice.status).toBe(1);
    expect(twice.stderr).toContain("--schedules: gather_kv is given twice ('t128' and 't256'); join its schedules with + (gather_kv=t128+t256)");
    const extra = lim("generate", "--schedules", "gather_kv=t128=x", "--out", "/tmp/never-written");
    expect(extra.status).toBe(1);
    expect(extra.stderr).toContain("--schedules: 'gather_kv=t128=x' should be kernel=tag[+tag...] or kernel=space");
  });

  it("says that --kernels leaves out a kernel given schedules, instead of calling it unknown", () => {
    const r = lim("generate", "--kernels", "gather_kv", "--schedules", "topk=space", "--check", "--out", join(PROJECT_ROOT, "generated"));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("schedules were given for topk, which --kernels leaves out (gather_kv)");
  });
});

it("lim generate --device refuses an empty name", () => {
  const r = lim("generate", "--device", " ", "--check");
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('--device needs a GPU\'s name as CUDA reports it, e.g. "NVIDIA H200"');
});

describe("lim tune and lim decode check their arguments before looking for a GPU", () => {
  it("tune: an unsupported head dim, and --why without --carry", () => {
    const dims = lim("tune", "--head-dims", "100");
    expect(dims.status).toBe(1);
    expect(dims.stderr).toContain("--head-dims: 100 is not supported; the nearest supported head dims are 96 and 112");
    const why = lim("tune", "--why", "because");
    expect(why.status).toBe(1);
    expect(why.stderr).toContain("--why goes with --carry");
  });

  it("decode: zero steps, and --load with a paged cache", () => {
    const steps = lim("decode", "--steps", "0");
    expect(steps.status).toBe(1);
    expect(steps.stderr).toContain("--steps must be at least 1 with synthetic data");
    const load = lim("decode", "--load", "/tmp/any.safetensors", "--cache", "paged16");
    expect(load.status).toBe(1);
    expect(load.stderr).toContain("leave --cache and --kv-dtype out");
  });
});

describe("folders named on the command line", () => {
  it("generate --check of a folder that does not exist says so, making none", () => {
    const missing = join(tmpdir(), "lim-never-generated");
    const r = lim("generate", "--check", "--out", missing);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`--check: ${missing} does not exist`);
    expect(existsSync(missing)).toBe(false);
  });

  it.each([
    ["--full with --quick", ["--full", "--quick"], /--full and --quick ask for opposite grids: pass one of them/],
    ["--full without the decode suite", ["--full", "--suites", "sparse,selection"], /--full widens the decode suite, which --suites sparse,selection leaves out: add decode/],
  ])("bench refuses %s before it looks for a GPU", (_label, args, message) => {
    const r = lim("bench", ...args);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
  });

  it("bench --report refuses a folder that holds no results, writing nothing there", () => {
    const empty = mkdtempSync(join(tmpdir(), "lim-no-results-"));
    try {
      const r = lim("bench", "--report", empty);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`--report: ${empty} holds no results`);
      expect(existsSync(join(empty, "report.md"))).toBe(false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

it("tune --help states each default once", () => {
  const help = lim("tune", "--help").stdout;
  expect(help).toMatch(/--jobs <n> +parallel compilations \(default: one per core\)\n/);
  expect(help).not.toMatch(/\(default: [^)]*\) \(default:/);
});
