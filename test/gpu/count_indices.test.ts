// lim_count_indices against the literal rule on fresh random lists: counts[b, l] is the position of the
// first -1 of each list (its capacity when there is none); outputs poisoned first; bad padding is reported
// through the device status, naming the entry.

import { describe, expect, it } from "vitest";
import type { NativeAddon } from "../../runtime/ts/native.js";
import { randomInt, rng } from "../../reference/random.js";
import { gpu, upload, withBuffers } from "../helpers/gpu.js";
import { testSeed } from "../helpers/seed.js";

/** Lists [batch, lists, capacity] (row stride `stride`) of ascending positions, each padded with -1 after a random length. */
function paddedLists(next: () => number, batch: number, lists: number, capacity: number, stride: number) {
  const data = new Int32Array(batch * lists * stride).fill(-7); // the padding past the capacity is never read
  const lengths: number[] = [];
  for (let row = 0; row < batch * lists; row++) {
    const n = row % 5 === 0 ? capacity : randomInt(next, 0, capacity); // some lists full, some empty
    for (let i = 0; i < capacity; i++) data[row * stride + i] = i < n ? i * 3 : -1;
    lengths.push(n);
  }
  return { data, lengths };
}

describe.skipIf(!gpu)("lim_count_indices on the GPU", () => {
  const native = gpu as NativeAddon;
  const seed = testSeed();

  it.each([
    [1, 1, 1],
    [3, 1, 2048],
    [2, 32, 1000],
    [5, 8, 4099],
  ])("batch %i, %i lists of %i entries: the first -1 of each", (batch, lists, capacity) => {
    const next = rng(seed + capacity);
    const stride = capacity + 3;
    const { data, lengths } = paddedLists(next, batch, lists, capacity, stride);
    const counts = withBuffers(native, (alloc) => {
      const out = alloc(batch * lists * 4);
      out.fill(0xff);
      native.countIndices({ indices: upload(alloc, data), indicesStrideB: lists * stride, indicesStrideL: stride, counts: out, batch, lists, maxCount: capacity });
      native.checkDeviceStatus();
      const host = new Int32Array(batch * lists);
      out.download(host);
      return [...host];
    });
    expect(counts, `LIM_TEST_SEED=${seed}`).toEqual(lengths);
  });

  it.each([
    ["an entry after the padding", [4, 9, -1, 12, -1], /count_indices: indices\[0\]\[0\]\[3\] = 12 follows the padding -1 that ends the list/],
    ["a negative entry that is not the padding", [4, -2, 9, -1, -1], /count_indices: indices\[0\]\[0\]\[1\] = -2 is negative but not the padding -1/],
  ])("%s is reported through the device status", (_label, list, message) => {
    withBuffers(native, (alloc) => {
      const out = alloc(4);
      native.countIndices({ indices: upload(alloc, new Int32Array(list)), indicesStrideB: list.length, indicesStrideL: list.length, counts: out, batch: 1, lists: 1, maxCount: list.length });
      expect(() => native.checkDeviceStatus()).toThrow(message);
      native.checkDeviceStatus(); // reading the report cleared it
    });
  });
});
