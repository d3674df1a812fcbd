// Every generated decode-attention variant over contiguous caches, in the dtype and in FP8 (through the
// lim_fp8_* functions, E4M3 and E5M2: the reference takes the FP8 values the caches hold), against the float64 reference:
// fresh random inputs, outputs poisoned with NaN before each run, K/V rows past each sequence (and the strides'
// padding) NaN so that any read past a length shows, N = 1, lengths that are no multiple of any tile, ragged
// batches up to B = 32, padded strides, split and unsplit sequences. Then the argument and
// device-input errors. (lim_use_variant only serves calls whose constants match, so a paged variant can only
// be reached through the paged functions: python/tests/paged_caches.py runs those.)

import { readFileSync } from "node:fs";
import { describe, expect, it, onTestFinished } from "vitest";
import { roundToFp8, type Fp8Format } from "../../runtime/ts/fp8.js";
import { decode, roundTo, type HalfType } from "../../runtime/ts/half.js";
import type { DeviceBuffer, NativeAddon } from "../../runtime/ts/native.js";
import { gpu, upload, withBuffers } from "../helpers/gpu.js";
import { testSeed } from "../helpers/seed.js";
import { randomInt, rng, uniform } from "../../reference/random.js";
import { decodeAttentionReference, relativeError } from "../../reference/attention.js";
import { poisonPastLengths } from "../../reference/poison.js";
import { attentionRecall } from "../../reference/lessismore.js";

interface Variant {
  kernel: string;
  name: string;
  constants: { D: number; G: number; dtype: HalfType; cache: string; kv: string };
}

const manifest = JSON.parse(readFileSync(new URL("../../generated/manifest.json", import.meta.url), "utf8")) as { variants: Variant[] };
const variants = manifest.variants.filter((v) => v.kernel === "decode_attention" && v.constants.cache === "contiguous");
const TOLERANCE: Record<HalfType, number> = { bf16: 1e-2, fp16: 5e-3 };

interface Case {
  label: string;
  numKvHeads: number;
  seqlens: number[];
  capacity: number;
  /** Extra elements between rows/heads, to exercise strides (multiples of 8; twice as many FP8 elements). */
  pad: number;
}

/** Runs one case on one variant and returns the relative errors of out and lse. */
function runCase(native: NativeAddon, v: Variant, c: Case, seed: number): { out: number; lse: number } {
  const { D, G, dtype, kv } = v.constants;
  const fp8 = kv === "e4m3" || kv === "e5m2" ? (kv as Fp8Format) : undefined;
  const pad = fp8 ? 2 * c.pad : c.pad; // 16 bytes either way: every row stays 16-byte aligned
  const next = rng(seed);
  const B = c.seqlens.length;
  const Hkv = c.numKvHeads;
  const Hq = Hkv * G;
  const N = c.capacity;
  // Strided layouts: q [B, Hq, D] with head stride D + pad; caches [B, Hkv, N, D] with token stride D + pad.
  const qStrideH = D + pad;
  const qStrideB = Hq * qStrideH;
  const kStrideN = D + pad;
  const kStrideH = N * kStrideN + pad;
  const kStrideB = Hkv * kStrideH;
  const q = roundTo(dtype, uniform(next, B * qStrideB));
  const cache = (values: Float64Array) => (fp8 ? roundToFp8(fp8, values) : roundTo(dtype, values));
  const k = cache(uniform(next, B * kStrideB));
  const vv = cache(uniform(next, B * kStrideB));
  // Rows at or past each length and the strides' padding are NaN on the GPU; the reference reads below the lengths.
  for (const bits of [k.bits, vv.bits]) poisonPastLengths(bits, c.seqlens, Hkv, D, { b: kStrideB, h: kStrideH, n: kStrideN });
  const scale = 1 / Math.sqrt(D);
  const ref = decodeAttentionReference({
    batch: B, numQHeads: Hq, numKvHeads: Hkv, headDim: D, seqlens: c.seqlens, scale,
    q: { data: q.rounded, strides: [qStrideB, qStrideH] },
    k: { data: k.rounded, strides: [kStrideB, kStrideH, kStrideN] },
    v: { data: vv.rounded, strides: [kStrideB, kStrideH, kStrideN] },
  });

  const buffers: DeviceBuffer[] = [];
  const alloc = (bytes: number) => {
    const b = new native.DeviceBuffer(Math.max(bytes, 16));
    buffers.push(b);
    return b;
  };
  try {
    const qBuf = alloc(q.bits.byteLength);
    const kBuf = alloc(k.bits.byteLength);
    const vBuf = alloc(vv.bits.byteLength);
    qBuf.upload(q.bits);
    kBuf.upload(k.bits);
    vBuf.upload(vv.bits);
    const seqBuf = alloc(B * 4);
    seqBuf.upload(new Int32Array(c.seqlens));
    const outBuf = alloc(B * Hq * D * 2);
    const lseBuf = alloc(B * Hq * 4);
    outBuf.fill(0xff); // NaN in bf16, fp16 and f32: any element the kernel misses fails the check
    lseBuf.fill(0xff);
    const maxSeqlen = Math.max(...c.seqlens);
    const sizes = { batch: B, numQHeads: Hq, numKvHeads: Hkv, headDim: D, maxSeqlen, dtype };
    const wsBytes = fp8 ? native.fp8DecodeAttentionWorkspaceSize({ ...sizes, kvDtype: fp8 }) : native.decodeAttentionWorkspaceSize(sizes);
    const workspace = wsBytes > 0 ? alloc(wsBytes) : null;
    const args = {
      ...sizes, q: qBuf, qStrideB, qStrideH, kCache: kBuf, kStrideB, kStrideH, kStrideN, vCache: vBuf, vStrideB: kStrideB,
      vStrideH: kStrideH, vStrideN: kStrideN, seqlens: seqBuf, out: outBuf, outStrideB: Hq * D, outStrideH: D, lse: lseBuf,
      cacheCapacity: N, softmaxScale: scale, workspace,
    };
    const call = fp8 ? () => native.fp8DecodeAttention({ ...args, kScale: null, vScale: null, scaleHeads: 1, kvDtype: fp8 }) : () => native.decodeAttention(args);
    const errors = () => {
      native.checkDeviceStatus();
      const outBits = new Uint16Array(B * Hq * D);
      outBuf.download(outBits);
      const lse = new Float32Array(B * Hq);
      lseBuf.download(lse);
      return { out: relativeError(decode(dtype, outBits), ref.out), lse: relativeError(lse, ref.lse) };
    };
    call();
    const first = errors();
    // Again as CUDA-graph replays on the same workspace, outputs poisoned: the in-kernel merge only happens
    // if every launch left the arrival counters at 0.
    outBuf.fill(0xff);
    lseBuf.fill(0xff);
    native.timeCalls(call, { repeats: 3, warmup: 1, flushBytes: 0 });
    const replayed = errors();
    return { out: Math.max(first.out, replayed.out), lse: Math.max(first.lse, replayed.lse) };
  } finally {
    for (const b of buffers) b.dispose();
  }
}

function casesFor(next: () => number): Case[] {
  const ragged32 = Array.from({ length: 32 }, () => randomInt(next, 1, 700));
  return [
    { label: "N = 1", numKvHeads: 2, seqlens: [1], capacity: 1, pad: 0 },
    { label: "ragged B = 3, padded strides", numKvHeads: 2, seqlens: [1000, 37, 513], capacity: 1031, pad: 8 },
    { label: "ragged B = 32", numKvHeads: 1, seqlens: ragged32, capacity: 700, pad: 0 },
    { label: "split sequence, N = 12345", numKvHeads: 1, seqlens: [12345], capacity: 12352, pad: 0 },
    { label: "unsplit: 512 blocks fill the GPU", numKvHeads: 16, seqlens: Array.from({ length: 32 }, () => randomInt(next, 1, 100)), capacity: 100, pad: 0 },
  ];
}

describe.skipIf(!gpu)("decode_attention on the GPU", () => {
  const native = gpu as NativeAddon;
  const seed = testSeed();

  it.each(variants.map((v) => [v.name, v] as const))("%s matches the float64 reference", (_name, v) => {
    const next = rng(seed ^ v.name.length);
    native.useVariant({ kernel: "decode_attention", variant: v.name }); // whatever bucket each case's length falls in
    onTestFinished(() => native.useVariant({ kernel: "decode_attention", variant: null }));
    for (const c of casesFor(next)) {
      const caseSeed = Math.floor(next() * 2 ** 31);
      const err = runCase(native, v, c, caseSeed);
      const where = `${c.label} (seed ${caseSeed}; LIM_TEST_SEED=${seed} reproduces the run)`;
      expect(err.out, `output error, ${where}`).toBeLessThan(TOLERANCE[v.constants.dtype]);
      expect(err.lse, `lse error, ${where}`).toBeLessThan(1e-3);
    }
  });

  it("writes the selection layer's logits and a log-sum-exp that make the full set's recall 1", () => {
    const v = variants.find((x) => x.constants.D === 128 && x.constants.G === 4 && x.constants.dtype === "bf16" && x.constants.kv === "bf16")!;
    const next = rng(seed ^ 0x10917);
    const seqlens = [5000, 777];
    const B = 2, Hkv = 2, G = 4, Hq = 8, D = 128, N = 5008;
    const q = roundTo("bf16", uniform(next, B * Hq * D));
    const k = roundTo("bf16", uniform(next, B * Hkv * N * D));
    const vv = roundTo("bf16", uniform(next, B * Hkv * N * D));
    const scale = 1 / Math.sqrt(D);
    withBuffers(native, (alloc) => {
      const logits = alloc(B * Hq * N * 4);
      const lse = alloc(B * Hq * 4);
      logits.fill(0xff);
      const sizes = { batch: B, numQHeads: Hq, numKvHeads: Hkv, headDim: D, maxSeqlen: N, dtype: "bf16" as const };
      const ws = native.decodeAttentionWorkspaceSize(sizes);
      native.decodeAttention({
        ...sizes, q: upload(alloc, q.bits), qStrideB: Hq * D, qStrideH: D, kCache: upload(alloc, k.bits), kStrideB: Hkv * N * D, kStrideH: N * D,
        kStrideN: D, vCache: upload(alloc, vv.bits), vStrideB: Hkv * N * D, vStrideH: N * D, vStrideN: D, seqlens: upload(alloc, new Int32Array(seqlens)),
        out: alloc(B * Hq * D * 2), outStrideB: Hq * D, outStrideH: D, lse, logits, logitsStrideB: Hq * N, logitsStrideH: N, cacheCapacity: N,
        softmaxScale: scale, workspace: ws > 0 ? alloc(ws) : null,
      });
      native.checkDeviceStatus();
      const z = new Float32Array(B * Hq * N);
      const l = new Float32Array(B * Hq);
      logits.download(z);
      lse.download(l);
      let num = 0, den = 0;
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < Hq; h++) {
          const row = (b * Hq + h) * N;
          for (let j = 0; j < seqlens[b]; j++) {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += q.rounded[(b * Hq + h) * D + d] * k.rounded[((b * Hkv + Math.floor(h / G)) * N + j) * D + d];
            num += (z[row + j] - dot * scale) ** 2;
            den += (dot * scale) ** 2;
          }
          const recall = attentionRecall(z.subarray(row, row + seqlens[b]), l[b * Hq + h], Array.from({ length: seqlens[b] }, (_, j) => j));
          expect(recall, `recall of every token, request ${b} head ${h}`).toBeCloseTo(1, 4);
        }
      }
      expect(Math.sqrt(num / den), `logits error of ${v.name}`).toBeLessThan(1e-5);
    });
  });

  describe("bad input", () => {
    const B = 2;
    const D = 128;
    const make = () => {
      const bufs = {
        q: new native.DeviceBuffer(B * 8 * D * 2),
        k: new native.DeviceBuffer(B * 2 * 64 * D * 2),
        v: new native.DeviceBuffer(B * 2 * 64 * D * 2),
        seqlens: new native.DeviceBuffer(B * 4),
        out: new native.DeviceBuffer(B * 8 * D * 2),
      };
      bufs.seqlens.upload(new Int32Array([64, 10]));
      const args = {
        q: bufs.q, qStrideB: 8 * D, qStrideH: D, kCache: bufs.k, kStrideB: 2 * 64 * D, kStrideH: 64 * D, kStrideN: D,
        vCache: bufs.v, vStrideB: 2 * 64 * D, vStrideH: 64 * D, vStrideN: D, seqlens: bufs.seqlens, out: bufs.out,
        outStrideB: 8 * D, outStrideH: D, lse: null, batch: B, numQHeads: 8, numKvHeads: 2, headDim: D, cacheCapacity: 64,
        maxSeqlen: 64, dtype: "bf16" as const, softmaxScale: 0.1, workspace: null,
      };
      return { args, dispose: () => Object.values(bufs).forEach((b) => b.dispose()) };
    };

    it.each([
      ["zero batch", { batch: 0 }, /lim_decode_attention: batch = 0 must be in \[1, 65535\]/],
      ["negative head count", { numKvHeads: -2 }, /lim_decode_attention: num_kv_heads = -2 must be in \[1, 65535\]/],
      ["heads that do not divide", { numKvHeads: 3 }, /must be a multiple of num_kv_heads/],
      ["max_seqlen above the capacity", { maxSeqlen: 65 }, /max_seqlen \(65\) must be in \[1, cache_capacity \(64\)\]/],
      ["a stride that breaks 16-byte rows", { kStrideN: 130 }, /k_stride_n = 130 must be a non-negative multiple of 8/],
      ["a head dim with no variant", { headDim: 112 }, /no generated variant for head_dim=112.*lim generate --head-dims 112 --group-sizes 4 --dtypes bf16/],
      ["a non-finite scale", { softmaxScale: Number.NaN }, /softmax_scale must be finite/],
    ])("%s is refused with a message naming it", (_label, change, message) => {
      const { args, dispose } = make();
      try {
        expect(() => native.decodeAttention({ ...args, ...change })).toThrow(message);
      } finally {
        dispose();
      }
    });

    it("refuses a missing workspace when the sequence is split", () => {
      const { args, dispose } = make();
      const big = { batch: 1, numQHeads: 8, numKvHeads: 2, headDim: 128, maxSeqlen: 100000, dtype: "bf16" as const };
      try {
        expect(native.decodeAttentionWorkspaceSize(big)).toBeGreaterThan(0);
        const kBig = new native.DeviceBuffer(2 * 100000 * 128 * 2);
        try {
          expect(() =>
            native.decodeAttention({ ...args, ...big, kCache: kBig, vCache: kBig, kStrideB: 2 * 100000 * 128, kStrideH: 100000 * 128,
              vStrideB: 2 * 100000 * 128, vStrideH: 100000 * 128, cacheCapacity: 100000 }),
          ).toThrow(/needs \d+ bytes of workspace, got 0 \(NULL\)/);
        } finally {
          kBig.dispose();
        }
      } finally {
        dispose();
      }
    });

    it("reports a sequence length above max_seqlen found on the device, naming the request", () => {
      const { args, dispose } = make();
      try {
        args.seqlens.upload(new Int32Array([64, 30]));
        native.decodeAttention({ ...args, maxSeqlen: 40 });
        expect(() => native.checkDeviceStatus()).toThrow(/decode_attention: seqlens\[0\] = 64 is outside \[1, max_seqlen = 40\]/);
        native.checkDeviceStatus(); // reading the report cleared it
      } finally {
        dispose();
      }
    });
  });
});
