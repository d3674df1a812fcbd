// The generated C ABI on a machine without a GPU: generated/abi.cpp is compiled with the host compiler and
// linked against stand-in implementations (every lim_*_impl returns LIM_OK without touching CUDA), so the
// argument checks run for real: bad calls are refused with messages naming the function and the argument,
// good calls reach the implementation. The same library is then called through the generated Python ctypes
// binding (whose signatures python/tests/test_binding.py compares with the declarations of lim.h).

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ABI_FUNCTIONS } from "../../codegen/abi/functions.js";
import { PROJECT_ROOT } from "../../cli/common.js";

const generated = join(PROJECT_ROOT, "generated");
const CUDA_INCLUDE = "/usr/local/cuda/include";
const CXX = ["g++", "c++"].find((c) => spawnSync(c, ["--version"]).status === 0);
const haveHeaders = existsSync(join(CUDA_INCLUDE, "cuda_runtime_api.h"));
if (!CXX || !haveHeaders) console.warn(`\n[lim] host ABI checks SKIPPED: ${CXX ? `no ${CUDA_INCLUDE}/cuda_runtime_api.h` : "no g++ or c++"}\n`);
if ((!CXX || !haveHeaders) && process.env.CI) throw new Error("CI needs g++ and CUDA's headers for the host ABI checks");

/** Stand-in implementations: from the ABI description, so that no signature is written here by hand. */
function stubSource(): string {
  const impls = ABI_FUNCTIONS.map((fn) => {
    const returns = fn.returns ?? "status";
    const body = returns === "const char*" ? (fn.name === "lim_last_error" ? "return last_error.c_str();" : `return "${fn.name}";`)
      : fn.name === "lim_abi_version" ? "return LIM_ABI_VERSION;" : "return lim_capi::ok();";
    return `${returns === "status" ? "int" : returns} ${fn.name}_impl(const ${fn.name}_args&) { ${body} }`;
  });
  return [
    "#include <string>",
    '#include "lim_abi_checks.h"',
    '#include "lim_abi_impl.h"',
    "static thread_local std::string last_error;",
    "namespace lim_capi {",
    "int fail(int code, const std::string& message) { last_error = message; return code; }",
    "int ok() { last_error.clear(); return LIM_OK; }",
    "}",
    ...impls,
  ].join("\n");
}

/** Calls through the C ABI, each printing its status and message on one line. */
const DRIVER = String.raw`
#include <cstdint>
#include <cstdio>
#include "lim.h"
// The status first: lim_last_error() must be read after the call.
#define CALL(label, expr)                                      \
  do {                                                         \
    const int status = (expr);                                 \
    std::printf("%s|%d|%s\n", label, status, lim_last_error()); \
  } while (0)
static const void* at(uintptr_t address) { return reinterpret_cast<const void*>(address); }
static void* mut(uintptr_t address) { return reinterpret_cast<void*>(address); }
int main() {
  const int32_t* seq = static_cast<const int32_t*>(at(0x10000));
  CALL("good topk", lim_topk(static_cast<const float*>(at(0x20000)), 64, nullptr, static_cast<int32_t*>(mut(0x30000)), 16, nullptr, 4, 64, 16, LIM_ORDER_RANK, nullptr));
  CALL("misaligned values", lim_topk(static_cast<const float*>(at(0x20002)), 64, nullptr, static_cast<int32_t*>(mut(0x30000)), 16, nullptr, 4, 64, 16, LIM_ORDER_RANK, nullptr));
  CALL("unknown order", lim_topk(static_cast<const float*>(at(0x20000)), 64, nullptr, static_cast<int32_t*>(mut(0x30000)), 16, nullptr, 4, 64, 16, 7, nullptr));
  CALL("overlapping indices", lim_topk(static_cast<const float*>(at(0x20000)), 64, nullptr, static_cast<int32_t*>(mut(0x30000)), 8, nullptr, 4, 64, 16, LIM_ORDER_RANK, nullptr));
  CALL("good decode", lim_decode_attention(at(0x100000), 1024, 128, at(0x200000), 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("overlapping out", lim_decode_attention(at(0x100000), 1024, 128, at(0x200000), 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 64, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("null k_cache", lim_decode_attention(at(0x100000), 1024, 128, nullptr, 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("bad dtype", lim_decode_attention(at(0x100000), 1024, 128, at(0x200000), 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, static_cast<lim_dtype>(9), 0.1f, nullptr, 0, nullptr));
  CALL("nan scale", lim_decode_attention(at(0x100000), 1024, 128, at(0x200000), 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, LIM_DTYPE_BF16, 0.0f / 0.0f, nullptr, 0, nullptr));
  CALL("logits too narrow", lim_decode_attention(at(0x100000), 1024, 128, at(0x200000), 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 128, nullptr, static_cast<float*>(mut(0x500000)), 8 * 60, 60, 2, 8, 2, 128, 64, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("null result", lim_decode_attention_workspace_size(1, 8, 2, 128, 64, LIM_DTYPE_BF16, nullptr));
  CALL("negative sinks", lim_select_lessismore_workspace_size(1, 8, 64, 32, 0.25f, -1, static_cast<size_t*>(mut(0x600000))));
  // Tensor-parallel selection: 2 requests, 4 local heads of 8, rows of 64 logits, budget 32.
  const float* z = static_cast<const float*>(at(0x700000));
  uint32_t* keys = static_cast<uint32_t*>(mut(0x800000));
  CALL("good local keys", lim_select_lessismore_local_keys(z, 256, 64, seq, keys, 64, 2, 4, 4, 8, 64, 32, 0.25f, 4, nullptr));
  CALL("heads past the model", lim_select_lessismore_local_keys(z, 256, 64, seq, keys, 64, 2, 4, 6, 8, 64, 32, 0.25f, 4, nullptr));
  CALL("keys too narrow", lim_select_lessismore_local_keys(z, 256, 64, seq, keys, 48, 2, 4, 4, 8, 64, 32, 0.25f, 4, nullptr));
  CALL("good union", lim_select_lessismore_union(keys, 64, seq, static_cast<int32_t*>(mut(0x900000)), 32, static_cast<int32_t*>(mut(0xa00000)), 2, 8, 64, 32, 0.25f, 4, nullptr));
  CALL("union without keys", lim_select_lessismore_union(nullptr, 64, seq, static_cast<int32_t*>(mut(0x900000)), 32, static_cast<int32_t*>(mut(0xa00000)), 2, 8, 64, 32, 0.25f, 4, nullptr));
  CALL("null kernel name", lim_use_variant(nullptr, nullptr));
  // Paged caches: pools of 64 pages of 16 positions, 2 KV heads of 128 (NHD strides 4096, 256, 128), block table [2, 4].
  const int32_t* table = static_cast<const int32_t*>(at(0xb00000));
  CALL("good paged decode", lim_paged_decode_attention(at(0x100000), 1024, 128, at(0x200000), 4096, 256, 128, at(0x300000), 4096, 256, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, table, 4, nullptr, 2, 64, 16, 4, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("one table row for two requests", lim_paged_decode_attention(at(0x100000), 1024, 128, at(0x200000), 4096, 256, 128, at(0x300000), 4096, 256, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, table, 4, nullptr, 1, 64, 16, 4, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("table rows named", lim_paged_decode_attention(at(0x100000), 1024, 128, at(0x200000), 4096, 256, 128, at(0x300000), 4096, 256, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, table, 4, seq, 1, 64, 16, 4, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("good HND paged decode", lim_paged_decode_attention(at(0x100000), 1024, 128, at(0x200000), 4096, 128, 2048, at(0x300000), 4096, 128, 2048, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, table, 4, nullptr, 2, 64, 16, 4, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("page size 12", lim_paged_decode_attention(at(0x100000), 1024, 128, at(0x200000), 3072, 256, 128, at(0x300000), 3072, 256, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, table, 4, nullptr, 2, 64, 12, 4, 48, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("longer than the pages", lim_paged_decode_attention(at(0x100000), 1024, 128, at(0x200000), 4096, 256, 128, at(0x300000), 4096, 256, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, table, 4, nullptr, 2, 64, 16, 4, 100, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("overlapping pages", lim_paged_decode_attention(at(0x100000), 1024, 128, at(0x200000), 4096, 128, 128, at(0x300000), 4096, 256, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, table, 4, nullptr, 2, 64, 16, 4, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("null block table", lim_paged_decode_attention(at(0x100000), 1024, 128, at(0x200000), 4096, 256, 128, at(0x300000), 4096, 256, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, nullptr, 4, nullptr, 2, 64, 16, 4, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("good slot write", lim_write_kv_slots(at(0xc00000), at(0xd00000), 256, 128, table, mut(0x200000), mut(0x300000), 4096, 256, 128, 3, 2, 128, 64, 16, LIM_DTYPE_BF16, nullptr));
  CALL("slot write without slots", lim_write_kv_slots(at(0xc00000), at(0xd00000), 256, 128, nullptr, mut(0x200000), mut(0x300000), 4096, 256, 128, 3, 2, 128, 64, 16, LIM_DTYPE_BF16, nullptr));
  // FP8 caches: rows of 128 bytes (strides in elements, multiples of 16), one scale per tensor or per KV head.
  const float* scale = static_cast<const float*>(at(0xe00000));
  CALL("good fp8 decode", lim_fp8_decode_attention(at(0x100000), 1024, 128, at(0x200000), 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, scale, scale, 2, LIM_DTYPE_E4M3, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("fp8 rows 8 elements apart", lim_fp8_decode_attention(at(0x100000), 1024, 128, at(0x200000), 16384, 8192, 136, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, scale, scale, 2, LIM_DTYPE_E4M3, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("misaligned k_scale", lim_fp8_decode_attention(at(0x100000), 1024, 128, at(0x200000), 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, static_cast<const float*>(at(0xe00002)), scale, 1, LIM_DTYPE_E4M3, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("fp8 head dim 80", lim_fp8_decode_attention_workspace_size(1, 8, 2, 80, 64, LIM_DTYPE_E5M2, LIM_DTYPE_BF16, static_cast<size_t*>(mut(0x600000))));
  CALL("fp8 caches in bf16", lim_fp8_decode_attention(at(0x100000), 1024, 128, at(0x200000), 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, scale, scale, 2, LIM_DTYPE_BF16, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  // Sizes and strides no allocation could have: refused before any product of them reaches a kernel.
  CALL("a stride past any allocation", lim_decode_attention(at(0x100000), int64_t{1} << 62, 128, at(0x200000), 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("max_seqlen past 2^30", lim_decode_attention_workspace_size(1, 8, 2, 128, (1 << 30) + 1, LIM_DTYPE_BF16, static_cast<size_t*>(mut(0x600000))));
  CALL("rows past int32", lim_select_lessismore_workspace_size(65535, 32769, 64, 32, 0.25f, 4, static_cast<size_t*>(mut(0x600000))));
  CALL("three scales for two heads", lim_fp8_append_kv(at(0xc00000), at(0xd00000), seq, mut(0x200000), mut(0x300000), 16384, 8192, 128, 2, 2, 128, 64, scale, scale, 3, LIM_DTYPE_E4M3, LIM_DTYPE_BF16, nullptr));
  // Outputs over other arguments: the kernels would read what they overwrite. K and V in one allocation,
  // their pages interleaved (vLLM's [num_blocks, 2, ...]), are not an overlap.
  CALL("out_values inside values", lim_topk(static_cast<const float*>(at(0x20000)), 64, nullptr, static_cast<int32_t*>(mut(0x30000)), 16, static_cast<float*>(mut(0x20100)), 4, 64, 16, LIM_ORDER_RANK, nullptr));
  CALL("out over q", lim_decode_attention(at(0x100000), 1024, 128, at(0x200000), 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x100000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, LIM_DTYPE_BF16, 0.1f, nullptr, 0, nullptr));
  CALL("out over the workspace", lim_decode_attention(at(0x100000), 1024, 128, at(0x200000), 16384, 8192, 128, at(0x300000), 16384, 8192, 128, seq, mut(0x400000), 1024, 128, nullptr, nullptr, 0, 0, 2, 8, 2, 128, 64, 64, LIM_DTYPE_BF16, 0.1f, mut(0x400800), 65536, nullptr));
  CALL("interleaved K/V pools written", lim_write_kv_slots(at(0xc00000), at(0xd00000), 256, 128, table, mut(0x200000), mut(0x202000), 8192, 256, 128, 3, 2, 128, 64, 16, LIM_DTYPE_BF16, nullptr));
  CALL("new keys inside the pool", lim_write_kv_slots(at(0x200400), at(0xd00000), 256, 128, table, mut(0x200000), mut(0x300000), 4096, 256, 128, 3, 2, 128, 64, 16, LIM_DTYPE_BF16, nullptr));
  return 0;
}
`;

describe.skipIf(!CXX || !haveHeaders)("the generated C ABI, compiled for the host", () => {
  const dir = mkdtempSync(join(tmpdir(), "lim-abi-"));
  const library = join(dir, "liblim_stub.so");
  const results = new Map<string, { status: number; message: string }>();

  beforeAll(() => {
    writeFileSync(join(dir, "stub.cpp"), stubSource());
    writeFileSync(join(dir, "driver.cpp"), DRIVER);
    const includes = ["-I", join(generated, "include"), "-I", CUDA_INCLUDE];
    execFileSync(CXX!, ["-std=c++17", "-shared", "-fPIC", "-Wall", "-Werror", ...includes, join(generated, "abi.cpp"), join(dir, "stub.cpp"), "-o", library]);
    execFileSync(CXX!, ["-std=c++17", ...includes, join(dir, "driver.cpp"), library, `-Wl,-rpath,${dir}`, "-o", join(dir, "driver")]);
    for (const line of execFileSync(join(dir, "driver"), { encoding: "utf8" }).trim().split("\n")) {
      const [label, status, message] = line.split("|");
      results.set(label, { status: Number(status), message });
    }
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const call = (label: string) => {
    const r = results.get(label);
    if (!r) throw new Error(`the driver printed nothing for '${label}'`);
    return r;
  };

  it("good calls reach the implementation", () => {
    expect(call("good topk")).toEqual({ status: 0, message: "" });
    expect(call("good decode")).toEqual({ status: 0, message: "" });
    expect(call("good local keys")).toEqual({ status: 0, message: "" });
    expect(call("good union")).toEqual({ status: 0, message: "" });
    expect(call("good paged decode")).toEqual({ status: 0, message: "" });
    expect(call("good HND paged decode")).toEqual({ status: 0, message: "" });
    expect(call("table rows named")).toEqual({ status: 0, message: "" }); // SGLang: req_pool_indices name rows of req_to_token
    expect(call("good slot write")).toEqual({ status: 0, message: "" });
    expect(call("good fp8 decode")).toEqual({ status: 0, message: "" });
    expect(call("interleaved K/V pools written")).toEqual({ status: 0, message: "" }); // the halves of a K/V pair may interleave
  });

  it.each([
    ["misaligned values", /^lim_topk: values \(0x20002\) must be 4-byte aligned: f32 elements are 4 bytes$/],
    ["unknown order", /^lim_topk: order = 7 must be LIM_ORDER_RANK \(0\) or LIM_ORDER_POSITION \(1\)$/],
    ["overlapping indices", /^lim_topk: indices_stride = 8 makes elements of indices overlap: it must be at least 16 \(.*up to k\)$/],
    ["overlapping out", /^lim_decode_attention: out_stride_h = 64 makes elements of out overlap: it must be at least 128/],
    ["null k_cache", /^lim_decode_attention: k_cache is NULL; pass keys \[batch, num_kv_heads, cache_capacity, head_dim\]$/],
    ["bad dtype", /^lim_decode_attention: dtype = 9 must be LIM_DTYPE_BF16 or LIM_DTYPE_FP16$/],
    ["nan scale", /^lim_decode_attention: softmax_scale must be finite and non-zero, got -?nan$/],
    ["logits too narrow", /^lim_decode_attention: logits_stride_h = 60 makes elements of logits overlap: it must be at least 64/],
    ["null result", /^lim_decode_attention_workspace_size: bytes is NULL/],
    ["negative sinks", /^lim_select_lessismore_workspace_size: sinks = -1 must be at least 0/],
    ["null kernel name", /^lim_use_variant: kernel is NULL/],
    ["heads past the model", /^lim_select_lessismore_local_keys: head_offset \(6\) \+ num_q_heads \(4\) must be at most total_q_heads \(8\)/],
    ["keys too narrow", /^lim_select_lessismore_local_keys: keys_stride_b = 48 makes elements of keys overlap: it must be at least 64/],
    ["union without keys", /^lim_select_lessismore_union: keys is NULL/],
    ["page size 12", /^lim_paged_decode_attention: page_size \(12\) must be a power of two$/],
    ["longer than the pages", /^lim_paged_decode_attention: max_seqlen \(100\) must be at most max_pages_per_seq \(4\) \* page_size \(16\)$/],
    ["overlapping pages", /^lim_paged_decode_attention: k_stride_h = 128 makes elements of k_cache overlap: it must be at least 2048/],
    ["null block table", /^lim_paged_decode_attention: block_table is NULL/],
    ["one table row for two requests", /^lim_paged_decode_attention: block_table has num_table_rows \(1\) rows, fewer than batch \(2\): pass block_table_rows/],
    ["slot write without slots", /^lim_write_kv_slots: slot_mapping is NULL/],
    ["fp8 rows 8 elements apart", /^lim_fp8_decode_attention: k_stride_n = 136 must be a non-negative multiple of 16 elements/],
    ["misaligned k_scale", /^lim_fp8_decode_attention: k_scale \(0xe00002\) must be 4-byte aligned: f32 elements are 4 bytes$/],
    ["fp8 head dim 80", /^lim_fp8_decode_attention_workspace_size: head_dim \(80\) must be a multiple of 32 for FP8 caches$/],
    ["fp8 caches in bf16", /^lim_fp8_decode_attention: kv_dtype = 0 must be LIM_DTYPE_E4M3 or LIM_DTYPE_E5M2/],
    ["a stride past any allocation", /^lim_decode_attention: q_stride_b = 4611686018427387904 with batch = 2 makes q span more than 2\^48 elements, more than any GPU holds: pass the tensor's real strides$/],
    ["max_seqlen past 2^30", /^lim_decode_attention_workspace_size: max_seqlen = 1073741825 must be at most 1073741824 \(upper bound of seqlens\)$/],
    ["rows past int32", /^lim_select_lessismore_workspace_size: batch \(65535\) x num_q_heads \(32769\) rows must be at most 2147483647 in one call: select fewer requests at a time$/],
    ["out_values inside values", /^lim_topk: the output out_values \(0x20100 to 0x20200\) overlaps values \(0x20000 to 0x20400\): an output's bytes, first to last, may not overlap another argument's; pass a buffer of its own$/],
    ["out over q", /^lim_decode_attention: the output out \(0x100000 to 0x101000\) overlaps q \(0x100000 to 0x101000\)/],
    ["out over the workspace", /^lim_decode_attention: the output out \(0x400000 to 0x401000\) overlaps workspace \(0x400800 to 0x410800\)/],
    ["new keys inside the pool", /^lim_write_kv_slots: the output k_cache \(0x200000 to 0x280000\) overlaps k_new \(0x200400 to 0x200a00\)/],
    ["three scales for two heads", /^lim_fp8_append_kv: scale_heads \(3\) must be 1 \(one scale per tensor\) or num_kv_heads \(2\) \(one per KV head\)$/],
  ])("%s is refused with LIM_ERROR_INVALID_ARGUMENT and a message naming it", (label, message) => {
    const r = call(label);
    expect(r.status).toBe(1);
    expect(r.message).toMatch(message);
  });

  const python = spawnSync("python3", ["--version"]).status === 0;
  // The binding's signatures against lim.h: python/tests/test_binding.py (a unittest step of .ci/run).
  it.skipIf(!python)("the Python binding's calls reach the same checks", () => {
    const script = [
      "import sys",
      `sys.path.insert(0, ${JSON.stringify(join(generated, "bindings"))})`,
      "import lim_abi",
      `lib = lim_abi.LimLibrary(${JSON.stringify(library)})`,
      "try:",
      "    lib.topk(values=0x20002, values_stride=64, indices=0x30000, indices_stride=16, rows=4, length=64, k=16, order='rank')",
      "    print('accepted')",
      "except lim_abi.LimError as e:",
      "    print(e.status, e)",
      "print(lib.decode_attention_workspace_size(batch=1, num_q_heads=8, num_kv_heads=2, head_dim=128, max_seqlen=64, dtype='bf16'))",
    ].join("\n");
    const [refused, workspace] = execFileSync("python3", ["-c", script], { encoding: "utf8" }).trim().split("\n");
    expect(refused).toBe("1 lim_topk: values (0x20002) must be 4-byte aligned: f32 elements are 4 bytes");
    expect(workspace).toBe("0"); // the stand-in writes nothing: the binding returns the size_t it passed
  });
});
