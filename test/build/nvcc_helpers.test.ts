// The build tests' helpers, without running nvcc: what a missing nvcc means, what a cache key covers (an
// edited header must compile its variants again), and a cache that returns what it stored and forgets what
// nobody used.

import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { cacheKey, CompileCache, defaultCacheDir } from "../helpers/compile_cache.js";
import { findNvcc, nvccRequired } from "../helpers/nvcc.js";
import { sourceTexts } from "../helpers/nvcc_compile.js";

const dir = mkdtempSync(join(tmpdir(), "lim-nvcc-helpers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("finding nvcc", () => {
  it("names what it looked for when nvcc is missing", () => {
    const probe = findNvcc({ LIM_NVCC: join(dir, "no-such-nvcc"), PATH: "" });
    expect(probe.ok).toBe(false);
    expect(probe.ok ? "" : probe.reason).toMatch(/nvcc not found \(looked for LIM_NVCC=.*no-such-nvcc\); install the CUDA toolkit/);
  });

  it("is required on CI and with LIM_REQUIRE_NVCC=1, optional elsewhere", () => {
    expect(nvccRequired({ CI: "true" })).toBe(true);
    expect(nvccRequired({ LIM_REQUIRE_NVCC: "1" })).toBe(true);
    expect(nvccRequired({ CI: "false", LIM_REQUIRE_NVCC: "0" })).toBe(false);
    expect(nvccRequired({})).toBe(false);
  });
});

describe("the compile cache", () => {
  it("lives outside the repository, except on CI, where npm ci empties it", () => {
    expect(defaultCacheDir({ LIM_NVCC_CACHE: "/x/cache", CI: "true" })).toBe("/x/cache");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/home/u/.cache" })).toBe("/home/u/.cache/lim-nvcc");
    expect(defaultCacheDir({ CI: "true", XDG_CACHE_HOME: "/home/u/.cache" })).toBe(join(PROJECT_ROOT, "node_modules", ".cache", "lim-nvcc"));
  });

  it("keys a variant by its text and every header it includes, found beside it or in the include folders", () => {
    const src = join(dir, "src");
    const inc = join(dir, "include");
    mkdirSync(src, { recursive: true });
    mkdirSync(inc, { recursive: true });
    writeFileSync(join(src, "v.cu"), '#include "device.cuh"\n#include <cub/cub.cuh>\n__global__ void k() {}\n');
    writeFileSync(join(inc, "device.cuh"), '#pragma once\n  #  include "abi.h"\n');
    writeFileSync(join(inc, "abi.h"), "#pragma once\nint x;\n");
    writeFileSync(join(inc, "unrelated.h"), "int y;\n");
    const key = () => cacheKey(["nvcc 13.0", "-O3", ...sourceTexts(join(src, "v.cu"), [inc])]);
    const before = key();
    writeFileSync(join(inc, "unrelated.h"), "int y2;\n");
    expect(key()).toBe(before);
    writeFileSync(join(inc, "abi.h"), "#pragma once\nint x2;\n"); // two includes deep
    const edited = key();
    expect(edited).not.toBe(before);
    // A header beside the source comes before the include folder's, as in nvcc.
    writeFileSync(join(src, "abi.h"), "int beside;\n");
    writeFileSync(join(src, "device.cuh"), '#include "abi.h"\n');
    expect(sourceTexts(join(src, "v.cu"), [inc]).map((t) => t.split("\n")[1])).toEqual(['#include "device.cuh"', '#include "abi.h"', "int beside;"]);
    expect(cacheKey(["a", "bc"])).not.toBe(cacheKey(["ab", "c"]));
  });

  it("returns what was stored, ignores torn entries, and prunes entries unused for 30 days", () => {
    const cache = new CompileCache(join(dir, "cache"));
    const report = { registers: 40, stack: 0, spillStores: 0, spillLoads: 0, staticShared: 0 };
    expect(cache.get("k1")).toBeUndefined();
    writeFileSync(cache.objectPath("k1"), "object");
    cache.put("k1", { report, log: "ptxas info" });
    expect(cache.get("k1")).toEqual({ report, log: "ptxas info" });
    writeFileSync(cache.objectPath("k2"), "object");
    writeFileSync(join(cache.dir, "k2.json"), "{ torn");
    expect(cache.get("k2")).toBeUndefined();
    const old = new Date(Date.now() - 31 * 24 * 3600 * 1000);
    utimesSync(join(cache.dir, "k2.json"), old, old);
    cache.prune();
    expect(existsSync(cache.objectPath("k2"))).toBe(false);
    expect(cache.get("k1")).toEqual({ report, log: "ptxas info" });
  });
});
