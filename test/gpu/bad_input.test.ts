// Bad arguments through the C ABI: each is refused with LIM_ERROR_INVALID_ARGUMENT and a message that names
// the function and the argument, before anything reaches the GPU, and the process keeps working: after
// every refused call, a good decode-attention call still matches the float64 reference. The cases are the
// ones a sweep of bad calls once got through (pointers 2 bytes off, output strides that make rows overlap,
// messages that named no argument), plus one of each kind of check the generated wrappers make.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { decode, roundTo } from "../../runtime/ts/half.js";
import type { DeviceBuffer, NativeAddon } from "../../runtime/ts/native.js";
import { decodeAttentionReference, relativeError } from "../../reference/attention.js";
import { rng, uniform } from "../../reference/random.js";
import { gpu, upload, withBuffers } from "../helpers/gpu.js";

const B = 2, HQ = 8, HKV = 2, D = 128, N = 64, K = 16;

/** A good decode-attention call on fresh random data: its relative error against float64. */
function goodCallError(native: NativeAddon, seed: number): number {
  return withBuffers(native, (alloc) => {
    const next = rng(seed);
    const q = roundTo("bf16", uniform(next, B * HQ * D));
    const k = roundTo("bf16", uniform(next, B * HKV * N * D));
    const v = roundTo("bf16", uniform(next, B * HKV * N * D));
    const seqlens = [N, 17];
    const ref = decodeAttentionReference({
      batch: B, numQHeads: HQ, numKvHeads: HKV, headDim: D, seqlens, scale: 0.1,
      q: { data: q.rounded, strides: [HQ * D, D] },
      k: { data: k.rounded, strides: [HKV * N * D, N * D, D] },
      v: { data: v.rounded, strides: [HKV * N * D, N * D, D] },
    });
    const out = alloc(B * HQ * D * 2);
    out.fill(0xff);
    native.decodeAttention({
      q: upload(alloc, q.bits), qStrideB: HQ * D, qStrideH: D,
      kCache: upload(alloc, k.bits), kStrideB: HKV * N * D, kStrideH: N * D, kStrideN: D,
      vCache: upload(alloc, v.bits), vStrideB: HKV * N * D, vStrideH: N * D, vStrideN: D,
      seqlens: upload(alloc, new Int32Array(seqlens)), out, outStrideB: HQ * D, outStrideH: D, lse: null,
      batch: B, numQHeads: HQ, numKvHeads: HKV, headDim: D, cacheCapacity: N, maxSeqlen: N, dtype: "bf16", softmaxScale: 0.1, workspace: null,
    });
    native.checkDeviceStatus();
    const bits = new Uint16Array(B * HQ * D);
    out.download(bits);
    return relativeError(decode("bf16", bits), ref.out);
  });
}

/** Buffers big enough for every call below, and the valid arguments of each function. */
function fixtures(alloc: (bytes: number) => DeviceBuffer) {
  const kv = () => alloc(B * HKV * N * D * 2);
  const seqlens = upload(alloc, new Int32Array([N, 17]));
  const lists = upload(alloc, new Int32Array(B * HQ * K).map((_, i) => i % K));
  const counts = upload(alloc, new Int32Array(B * HQ).fill(K));
  const logits = alloc(B * HQ * N * 4);
  const attention = {
    q: alloc(B * HQ * D * 2), qStrideB: HQ * D, qStrideH: D, kCache: kv(), kStrideB: HKV * N * D, kStrideH: N * D, kStrideN: D,
    vCache: kv(), vStrideB: HKV * N * D, vStrideH: N * D, vStrideN: D, seqlens, out: alloc(B * HQ * D * 2), outStrideB: HQ * D, outStrideH: D,
    lse: null, batch: B, numQHeads: HQ, numKvHeads: HKV, headDim: D, cacheCapacity: N, maxSeqlen: N, dtype: "bf16" as const, softmaxScale: 0.1,
    workspace: alloc(1 << 20),
  };
  return {
    decode: attention,
    sparse: { ...attention, indices: lists, indicesStrideB: K, counts, maxCount: K },
    perHead: { ...attention, indices: lists, indicesStrideB: HQ * K, indicesStrideH: K, counts, maxCount: K },
    gather: {
      kCache: kv(), kStrideB: HKV * N * D, kStrideH: N * D, kStrideN: D, vCache: kv(), vStrideB: HKV * N * D, vStrideH: N * D, vStrideN: D,
      seqlens, indices: lists, indicesStrideB: K, counts, outK: alloc(B * HKV * K * D * 2), outV: alloc(B * HKV * K * D * 2),
      outStrideB: HKV * K * D, outStrideH: K * D, outStrideN: D, batch: B, numKvHeads: HKV, headDim: D, cacheCapacity: N, maxSeqlen: N,
      maxCount: K, dtype: "bf16" as const,
    },
    append: {
      kNew: alloc(B * HKV * D * 2), vNew: alloc(B * HKV * D * 2), seqlens, kCache: kv(), vCache: kv(), cacheStrideB: HKV * N * D,
      cacheStrideH: N * D, cacheStrideN: D, batch: B, numKvHeads: HKV, headDim: D, cacheCapacity: N, dtype: "bf16" as const,
    },
    select: {
      logits, logitsStrideB: HQ * N, logitsStrideH: N, seqlens, indices: alloc(B * 64 * 4), indicesStrideB: 64, counts: alloc(B * 4),
      batch: B, numQHeads: HQ, maxSeqlen: N, budget: 32, recencyRatio: 0.25, sinks: 4, workspace: alloc(1 << 20),
    },
    perHeadSelect: {
      logits, logitsStrideB: HQ * N, logitsStrideH: N, seqlens, indices: alloc(B * HQ * K * 4), indicesStrideB: HQ * K, indicesStrideH: K,
      counts: alloc(B * HQ * 4), batch: B, numQHeads: HQ, maxSeqlen: N, budget: K,
    },
    topk: { values: logits, valuesStride: N, lengths: null, indices: alloc(B * HQ * K * 4), indicesStride: K, outValues: alloc(B * HQ * K * 4), rows: B * HQ, length: N, k: K, order: "rank" as const },
    recall: {
      logits, logitsStrideB: HQ * N, logitsStrideH: N, logitsCapacity: N, lse: alloc(B * HQ * 4), indices: lists, indicesStrideB: K, indicesStrideS: 0,
      counts, recall: alloc(B * HQ * 4), batch: B, numQHeads: HQ, sets: 1, maxCount: K,
    },
  };
}

type Fixtures = ReturnType<typeof fixtures>;
type BadCall = (native: NativeAddon, f: Fixtures) => void;

const off = (b: DeviceBuffer, bytes = 2) => b.view(bytes);

const CASES: [string, BadCall, RegExp][] = [
  // Pointers 2 bytes off their element type's alignment.
  ["select_lessismore indices", (n, f) => n.selectLessismore({ ...f.select, indices: off(f.select.indices) }), /lim_select_lessismore: indices \(0x[0-9a-f]+\) must be 4-byte aligned/],
  ["select_lessismore counts", (n, f) => n.selectLessismore({ ...f.select, counts: off(f.select.counts) }), /lim_select_lessismore: counts \(0x[0-9a-f]+\) must be 4-byte aligned/],
  ["select_per_head indices", (n, f) => n.selectPerHead({ ...f.perHeadSelect, indices: off(f.perHeadSelect.indices) }), /lim_select_per_head: indices \(0x[0-9a-f]+\) must be 4-byte aligned/],
  ["select_per_head counts", (n, f) => n.selectPerHead({ ...f.perHeadSelect, counts: off(f.perHeadSelect.counts) }), /lim_select_per_head: counts \(0x[0-9a-f]+\) must be 4-byte aligned/],
  ["topk values", (n, f) => n.topk({ ...f.topk, values: off(f.topk.values) }), /lim_topk: values \(0x[0-9a-f]+\) must be 4-byte aligned/],
  ["topk indices", (n, f) => n.topk({ ...f.topk, indices: off(f.topk.indices) }), /lim_topk: indices \(0x[0-9a-f]+\) must be 4-byte aligned/],
  ["topk out_values", (n, f) => n.topk({ ...f.topk, outValues: off(f.topk.outValues) }), /lim_topk: out_values \(0x[0-9a-f]+\) must be 4-byte aligned/],
  ["attention_recall lse", (n, f) => n.attentionRecall({ ...f.recall, lse: off(f.recall.lse) }), /lim_attention_recall: lse \(0x[0-9a-f]+\) must be 4-byte aligned/],
  ["attention_recall indices", (n, f) => n.attentionRecall({ ...f.recall, indices: off(f.recall.indices) }), /lim_attention_recall: indices \(0x[0-9a-f]+\) must be 4-byte aligned/],
  ["count_indices counts", (n, f) => n.countIndices({ indices: f.sparse.indices, indicesStrideB: K, indicesStrideL: K, counts: off(f.sparse.counts), batch: B, lists: 1, maxCount: K }), /lim_count_indices: counts \(0x[0-9a-f]+\) must be 4-byte aligned/],
  ["attention_recall recall", (n, f) => n.attentionRecall({ ...f.recall, recall: off(f.recall.recall) }), /lim_attention_recall: recall \(0x[0-9a-f]+\) must be 4-byte aligned/],
  ["decode_attention q 8 bytes off", (n, f) => n.decodeAttention({ ...f.decode, q: off(f.decode.q, 8) }), /lim_decode_attention: q \(0x[0-9a-f]+\) must be 16-byte aligned/],
  ["gather_kv k_cache", (n, f) => n.gatherKv({ ...f.gather, kCache: off(f.gather.kCache, 8) }), /lim_gather_kv: k_cache \(0x[0-9a-f]+\) must be 16-byte aligned/],
  ["gather_kv out_k", (n, f) => n.gatherKv({ ...f.gather, outK: off(f.gather.outK, 8) }), /lim_gather_kv: out_k \(0x[0-9a-f]+\) must be 16-byte aligned/],
  // Output strides that make rows overlap.
  ["decode_attention out_stride_h < head_dim", (n, f) => n.decodeAttention({ ...f.decode, outStrideH: 64 }), /lim_decode_attention: out_stride_h = 64 makes elements of out overlap: it must be at least 128/],
  ["sparse_attention out_stride_h < head_dim", (n, f) => n.sparseAttention({ ...f.sparse, outStrideH: 64 }), /lim_sparse_attention: out_stride_h = 64 makes elements of out overlap/],
  ["sparse_attention_per_head out_stride_h < head_dim", (n, f) => n.sparseAttentionPerHead({ ...f.perHead, outStrideH: 64 }), /lim_sparse_attention_per_head: out_stride_h = 64 makes elements of out overlap/],
  ["decode_attention out_stride_b < heads", (n, f) => n.decodeAttention({ ...f.decode, outStrideB: 4 * D }), /lim_decode_attention: out_stride_b = 512 makes elements of out overlap: it must be at least 1024/],
  ["gather_kv out_stride_n < head_dim", (n, f) => n.gatherKv({ ...f.gather, outStrideN: 64 }), /lim_gather_kv: out_stride_n = 64 makes elements of out_k overlap/],
  ["gather_kv out_stride_h < rows", (n, f) => n.gatherKv({ ...f.gather, outStrideH: 2 * D }), /lim_gather_kv: out_stride_h = 256 makes elements of out_k overlap: it must be at least 2048/],
  ["append_kv cache_stride_n < head_dim", (n, f) => n.appendKv({ ...f.append, cacheStrideN: 64 }), /lim_append_kv: cache_stride_n = 64 makes elements of k_cache overlap/],
  ["append_kv cache_stride_h < tokens", (n, f) => n.appendKv({ ...f.append, cacheStrideH: 2 * D }), /lim_append_kv: cache_stride_h = 256 makes elements of k_cache overlap: it must be at least 8192/],
  ["select_per_head indices_stride_h < budget", (n, f) => n.selectPerHead({ ...f.perHeadSelect, indicesStrideH: K - 1, indicesStrideB: HQ * (K - 1) }), /lim_select_per_head: indices_stride_h = 15 makes elements of indices overlap: it must be at least 16/],
  // Index strides of the sparse functions, named.
  ["sparse_attention indices_stride_b < max_count", (n, f) => n.sparseAttention({ ...f.sparse, indicesStrideB: K - 1 }), /lim_sparse_attention: indices_stride_b = 15 makes elements of indices overlap: it must be at least 16/],
  ["sparse_attention_per_head indices_stride_h < max_count", (n, f) => n.sparseAttentionPerHead({ ...f.perHead, indicesStrideH: K - 1 }), /lim_sparse_attention_per_head: indices_stride_h = 15 makes elements of indices overlap/],
  // One of each other kind of check.
  ["a missing input (refused by the binding)", (n, f) => n.decodeAttention({ ...f.decode, seqlens: null as never }), /decodeAttention: 'seqlens' must be a DeviceBuffer/],
  ["a size out of range", (n, f) => n.decodeAttention({ ...f.decode, batch: 0 }), /lim_decode_attention: batch = 0 must be in \[1, 65535\] \(requests\)/],
  ["a negative head count", (n, f) => n.decodeAttention({ ...f.decode, numKvHeads: -2 }), /lim_decode_attention: num_kv_heads = -2 must be in \[1, 65535\]/],
  ["a stride of 0", (n, f) => n.decodeAttention({ ...f.decode, kStrideH: 0 }), /lim_decode_attention: k_stride_h = 0 makes elements of k_cache overlap/],
  ["a row stride off 16 bytes", (n, f) => n.decodeAttention({ ...f.decode, kStrideN: 130 }), /lim_decode_attention: k_stride_n = 130 must be a non-negative multiple of 8 elements/],
  ["an unknown dtype", (n, f) => n.decodeAttention({ ...f.decode, dtype: "f8" as never }), /'dtype' must be "bf16" or "fp16"/],
  ["a relation", (n, f) => n.decodeAttention({ ...f.decode, numKvHeads: 3 }), /lim_decode_attention: num_q_heads \(8\) must be a multiple of num_kv_heads \(3\)/],
  ["sets neither 1 nor heads", (n, f) => n.attentionRecall({ ...f.recall, sets: 2 }), /lim_attention_recall: sets must be 1 \(shared\) or num_q_heads \(8, per head\), got 2/],
  ["a misaligned workspace", (n, f) => n.decodeAttention({ ...f.decode, workspace: off(f.decode.workspace as DeviceBuffer, 8) }), /lim_decode_attention: workspace \(0x[0-9a-f]+\) must be 16-byte aligned/],
];

describe.skipIf(!gpu)("bad arguments through the C ABI", () => {
  const native = gpu as NativeAddon;

  it("a good call is correct before any bad one", () => {
    expect(goodCallError(native, 1)).toBeLessThan(1e-2);
  });

  it.each(CASES)("%s: refused with a message naming it; the next good call is correct", (_label, call, message) => {
    withBuffers(native, (alloc) => {
      const f = fixtures(alloc);
      expect(() => call(native, f)).toThrow(message);
      native.checkDeviceStatus(); // nothing reached the GPU: no device report, no fault
    });
    expect(goodCallError(native, 2)).toBeLessThan(1e-2);
  });

  it("the command that a 'no variant' error names generates the missing variant", () => {
    let message = "";
    withBuffers(native, (alloc) => {
      try {
        native.decodeAttention({ ...fixtures(alloc).decode, headDim: 112 }); // generated neither by default nor in the device sample
      } catch (e) {
        message = (e as Error).message;
      }
    });
    const command = /run `bin\/lim (generate [^`]*)`/.exec(message);
    expect(command, message).not.toBeNull();
    const out = mkdtempSync(join(tmpdir(), "lim-no-variant-"));
    try {
      const run = spawnSync(join(PROJECT_ROOT, "bin", "lim"), [...command![1].split(" "), "--out", out], { cwd: PROJECT_ROOT, encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
      const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as { variants: { kernel: string; constants: Record<string, unknown> }[] };
      expect(manifest.variants.some((v) => v.kernel === "decode_attention" && v.constants.D === 112 && v.constants.G === 4 && v.constants.dtype === "bf16")).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);

  it("the valid fixtures are accepted (so each refusal above is the changed argument's)", () => {
    const accepted = withBuffers(native, (alloc) => {
      const f = fixtures(alloc);
      const calls = [
        () => native.decodeAttention(f.decode), () => native.sparseAttention(f.sparse), () => native.sparseAttentionPerHead(f.perHead),
        () => native.gatherKv(f.gather), () => native.selectPerHead(f.perHeadSelect), () => native.topk(f.topk), () => native.attentionRecall(f.recall),
      ];
      for (const call of calls) call();
      native.synchronize();
      return calls.length;
    });
    expect(accepted).toBe(7);
  });
});
