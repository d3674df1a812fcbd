// Sparse attention over index lists (shared per request, and per query head) and the gather of selected
// rows, against the float64 reference restricted to the same positions: fresh random data and random
// ascending lists, lists shorter than the budget, one-element lists, the last position only, ragged
// batches; then the bad-index reports and the argument errors.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decode, roundTo, type HalfType } from "../../runtime/ts/half.js";
import type { NativeAddon } from "../../runtime/ts/native.js";
import { gpu, upload, withBuffers } from "../helpers/gpu.js";
import { testSeed } from "../helpers/seed.js";
import { randomInt, rng, uniform } from "../../reference/random.js";
import { decodeAttentionReference, relativeError } from "../../reference/attention.js";
import { poisonPastLengths } from "../../reference/poison.js";

interface Variant {
  kernel: string;
  constants: { D: number; G: number; dtype: HalfType; cache: string; kv: string };
}
const manifest = JSON.parse(readFileSync(new URL("../../generated/manifest.json", import.meta.url), "utf8")) as { variants: Variant[] };
// One entry per (D, G, dtype) over contiguous caches in the dtype, the ones the functions here call.
const attention = manifest.variants
  .filter((v) => v.kernel === "decode_attention" && v.constants.cache === "contiguous" && v.constants.kv === v.constants.dtype)
  .map((v) => v.constants)
  .filter((c, i, all) => all.findIndex((d) => d.D === c.D && d.G === c.G && d.dtype === c.dtype) === i);
const TOLERANCE: Record<HalfType, number> = { bf16: 1e-2, fp16: 5e-3 };

/** An ascending list of `count` distinct positions below n. */
function ascending(next: () => number, n: number, count: number): number[] {
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(randomInt(next, 0, n - 1));
  return [...chosen].sort((a, b) => a - b);
}

interface Shape {
  D: number;
  G: number;
  dtype: HalfType;
  Hkv: number;
  seqlens: number[];
  capacity: number;
}

function makeProblem(next: () => number, s: Shape) {
  const B = s.seqlens.length;
  const Hq = s.Hkv * s.G;
  const q = roundTo(s.dtype, uniform(next, B * Hq * s.D));
  const k = roundTo(s.dtype, uniform(next, B * s.Hkv * s.capacity * s.D));
  const v = roundTo(s.dtype, uniform(next, B * s.Hkv * s.capacity * s.D));
  const strides = { qStrideB: Hq * s.D, qStrideH: s.D, kStrideB: s.Hkv * s.capacity * s.D, kStrideH: s.capacity * s.D, kStrideN: s.D };
  // Rows at or past each length are NaN on the GPU (the reference reads only listed positions below it).
  for (const bits of [k.bits, v.bits]) poisonPastLengths(bits, s.seqlens, s.Hkv, s.D, { b: strides.kStrideB, h: strides.kStrideH, n: strides.kStrideN });
  const reference = (rows: (b: number, h: number) => readonly number[]) =>
    decodeAttentionReference(
      {
        batch: B, numQHeads: Hq, numKvHeads: s.Hkv, headDim: s.D, seqlens: s.seqlens, scale: 1 / Math.sqrt(s.D),
        q: { data: q.rounded, strides: [strides.qStrideB, strides.qStrideH] },
        k: { data: k.rounded, strides: [strides.kStrideB, strides.kStrideH, strides.kStrideN] },
        v: { data: v.rounded, strides: [strides.kStrideB, strides.kStrideH, strides.kStrideN] },
      },
      rows,
    );
  return { B, Hq, q, k, v, strides, reference };
}

describe.skipIf(!gpu)("sparse attention on the GPU", () => {
  const native = gpu as NativeAddon;
  const seed = testSeed();
  const note = `(LIM_TEST_SEED=${seed} reproduces this run)`;
  // Head dims and group sizes each once, both dtypes.
  const shapes = attention.filter((c) => (c.G === 4 || c.D === 128) && c.G !== 2);

  it.each(shapes.map((c) => [`d${c.D} g${c.G} ${c.dtype}`, c] as const))("%s: shared lists and per-head lists equal attention restricted to them", (_label, c) => {
    const next = rng(seed ^ (c.D * 97 + c.G * 13 + (c.dtype === "bf16" ? 1 : 2)));
    const maxCount = 1024;
    const shape: Shape = { ...c, Hkv: 2, seqlens: [3000, 500, 40, 2048], capacity: 3000 };
    const p = makeProblem(next, shape);
    // Shared lists: a full budget, a short list, one element, the last position only.
    const shared = [ascending(next, 3000, maxCount), ascending(next, 500, 37), ascending(next, 40, 1), [2047]];
    // Per-head lists: every head its own length and positions.
    const perHead = shape.seqlens.map((n) => Array.from({ length: p.Hq }, () => ascending(next, n, randomInt(next, 1, Math.min(n, maxCount)))));
    const sharedIdx = new Int32Array(p.B * maxCount).fill(-7);
    shared.forEach((l, b) => sharedIdx.set(l, b * maxCount));
    const headIdx = new Int32Array(p.B * p.Hq * maxCount).fill(-7);
    perHead.forEach((lists, b) => lists.forEach((l, h) => headIdx.set(l, (b * p.Hq + h) * maxCount)));
    withBuffers(native, (alloc) => {
      const base = {
        q: upload(alloc, p.q.bits), kCache: upload(alloc, p.k.bits), vCache: upload(alloc, p.v.bits), ...p.strides,
        vStrideB: p.strides.kStrideB, vStrideH: p.strides.kStrideH, vStrideN: p.strides.kStrideN, seqlens: upload(alloc, new Int32Array(shape.seqlens)),
        outStrideB: p.Hq * c.D, outStrideH: c.D, batch: p.B, numQHeads: p.Hq, numKvHeads: shape.Hkv, headDim: c.D,
        cacheCapacity: shape.capacity, maxSeqlen: shape.capacity, dtype: c.dtype, softmaxScale: 1 / Math.sqrt(c.D), maxCount,
      };
      const run = (perHeadLists: boolean) => {
        const out = alloc(p.B * p.Hq * c.D * 2);
        const lse = alloc(p.B * p.Hq * 4);
        out.fill(0xff);
        lse.fill(0xff);
        const ws = native.sparseAttentionWorkspaceSize({ ...base, perHead: perHeadLists });
        const workspace = ws > 0 ? alloc(ws) : null;
        if (perHeadLists) {
          const counts = new Int32Array(perHead.flatMap((lists) => lists.map((l) => l.length)));
          native.sparseAttentionPerHead({ ...base, out, lse, workspace, indices: upload(alloc, headIdx), indicesStrideB: p.Hq * maxCount, indicesStrideH: maxCount, counts: upload(alloc, counts) });
        } else {
          native.sparseAttention({ ...base, out, lse, workspace, indices: upload(alloc, sharedIdx), indicesStrideB: maxCount, counts: upload(alloc, new Int32Array(shared.map((l) => l.length))) });
        }
        native.checkDeviceStatus();
        const bits = new Uint16Array(p.B * p.Hq * c.D);
        const lseOut = new Float32Array(p.B * p.Hq);
        out.download(bits);
        lse.download(lseOut);
        return { out: decode(c.dtype, bits), lse: lseOut };
      };
      for (const perHeadLists of [false, true]) {
        const got = run(perHeadLists);
        const ref = p.reference((b, h) => (perHeadLists ? perHead[b][h] : shared[b]));
        const what = `${perHeadLists ? "per-head" : "shared"} lists ${note}`;
        expect(relativeError(got.out, ref.out), `output, ${what}`).toBeLessThan(TOLERANCE[c.dtype]);
        expect(relativeError(got.lse, ref.lse), `lse, ${what}`).toBeLessThan(1e-3);
      }
    });
  });

  it("gather copies the listed rows; dense attention over them equals sparse attention", () => {
    const next = rng(seed ^ 0x9a7);
    const c = { D: 128, G: 4, dtype: "bf16" as const };
    const shape: Shape = { ...c, Hkv: 2, seqlens: [5000, 300], capacity: 5000 };
    const p = makeProblem(next, shape);
    const maxCount = 2048;
    const lists = [ascending(next, 5000, 2048), ascending(next, 300, 299)];
    const idx = new Int32Array(p.B * maxCount);
    lists.forEach((l, b) => idx.set(l, b * maxCount));
    const counts = new Int32Array(lists.map((l) => l.length));
    withBuffers(native, (alloc) => {
      const kBuf = upload(alloc, p.k.bits);
      const vBuf = upload(alloc, p.v.bits);
      const seqlens = upload(alloc, new Int32Array(shape.seqlens));
      const outK = alloc(p.B * shape.Hkv * maxCount * c.D * 2);
      const outV = alloc(p.B * shape.Hkv * maxCount * c.D * 2);
      outK.fill(0);
      outV.fill(0);
      const compact = { outStrideB: shape.Hkv * maxCount * c.D, outStrideH: maxCount * c.D, outStrideN: c.D };
      native.gatherKv({
        kCache: kBuf, vCache: vBuf, ...p.strides, vStrideB: p.strides.kStrideB, vStrideH: p.strides.kStrideH, vStrideN: p.strides.kStrideN, seqlens,
        indices: upload(alloc, idx), indicesStrideB: maxCount, counts: upload(alloc, counts), outK, outV, ...compact, batch: p.B,
        numKvHeads: shape.Hkv, headDim: c.D, cacheCapacity: shape.capacity, maxSeqlen: shape.capacity, maxCount, dtype: c.dtype,
      });
      native.checkDeviceStatus();
      const gotK = new Uint16Array(p.B * shape.Hkv * maxCount * c.D);
      outK.download(gotK);
      lists.forEach((l, b) => {
        for (let h = 0; h < shape.Hkv; h++) {
          l.forEach((j, i) => {
            const src = ((b * shape.Hkv + h) * shape.capacity + j) * c.D;
            const dst = ((b * shape.Hkv + h) * maxCount + i) * c.D;
            expect(Array.from(gotK.subarray(dst, dst + c.D)), `row ${i} of request ${b}, head ${h}`).toEqual(Array.from(p.k.bits.subarray(src, src + c.D)));
          });
        }
      });
      // Dense attention over the compact cache, with the list lengths as sequence lengths.
      const out = alloc(p.B * p.Hq * c.D * 2);
      out.fill(0xff);
      const sizes = { batch: p.B, numQHeads: p.Hq, numKvHeads: shape.Hkv, headDim: c.D, maxSeqlen: maxCount, dtype: c.dtype };
      const ws = native.decodeAttentionWorkspaceSize(sizes);
      native.decodeAttention({
        ...sizes, q: upload(alloc, p.q.bits), qStrideB: p.strides.qStrideB, qStrideH: p.strides.qStrideH, kCache: outK, kStrideB: compact.outStrideB,
        kStrideH: compact.outStrideH, kStrideN: compact.outStrideN, vCache: outV, vStrideB: compact.outStrideB, vStrideH: compact.outStrideH,
        vStrideN: compact.outStrideN, seqlens: upload(alloc, counts), out, outStrideB: p.Hq * c.D, outStrideH: c.D, lse: null,
        cacheCapacity: maxCount, softmaxScale: 1 / Math.sqrt(c.D), workspace: ws > 0 ? alloc(ws) : null,
      });
      native.checkDeviceStatus();
      const bits = new Uint16Array(p.B * p.Hq * c.D);
      out.download(bits);
      expect(relativeError(decode(c.dtype, bits), p.reference((b) => lists[b]).out)).toBeLessThan(TOLERANCE.bf16);
    });
  });

  describe("bad lists", () => {
    const D = 128;
    const attempt = (lists: number[][], counts?: number[]) =>
      withBuffers(native, (alloc) => {
        const B = lists.length;
        const maxCount = 64;
        const idx = new Int32Array(B * maxCount);
        lists.forEach((l, b) => idx.set(l, b * maxCount));
        const out = alloc(B * 8 * D * 2);
        out.fill(0xff);
        const kv = alloc(B * 2 * 100 * D * 2);
        kv.fill(0);
        native.sparseAttention({
          q: alloc(B * 8 * D * 2), qStrideB: 8 * D, qStrideH: D, kCache: kv, kStrideB: 2 * 100 * D, kStrideH: 100 * D, kStrideN: D, vCache: kv,
          vStrideB: 2 * 100 * D, vStrideH: 100 * D, vStrideN: D, seqlens: upload(alloc, new Int32Array(B).fill(50)), indices: upload(alloc, idx),
          indicesStrideB: maxCount, counts: upload(alloc, new Int32Array(counts ?? lists.map((l) => l.length))), out, outStrideB: 8 * D, outStrideH: D,
          lse: null, batch: B, numQHeads: 8, numKvHeads: 2, headDim: D, cacheCapacity: 100, maxSeqlen: 100, maxCount, dtype: "bf16",
          softmaxScale: 0.1, workspace: alloc(1 << 20),
        });
        native.checkDeviceStatus();
      });

    it("an index at or past the sequence length is skipped and reported with its request and position", () => {
      expect(() => attempt([[0, 1, 2], [3, 50]])).toThrow(/decode_attention: indices\[1\]\[0\]\[1\] = 50 is not a position below seqlens\[b\] above the previous entry/);
    });
    it("a list that is not strictly ascending is reported", () => {
      expect(() => attempt([[5, 9, 9, 12]])).toThrow(/indices\[0\]\[0\]\[2\] = 9 is not a position/);
      expect(() => attempt([[5, 4]])).toThrow(/indices\[0\]\[0\]\[1\] = 4/);
    });
    it("an empty list is reported", () => {
      expect(() => attempt([[1, 2], []])).toThrow(/decode_attention: counts\[1\]\[0\] = 0 is outside \[1, 64\]/);
    });
    it("a valid batch after a reported one runs clean", () => {
      expect(() => attempt([[0, 49]])).not.toThrow();
    });
  });
});
