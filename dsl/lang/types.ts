// The memory types a kernel body works with: tensors in device memory, locations, register and shared
// arrays. The scalar types (f32, i32, u32, bool) are declared beside their conversion primitives in
// builtins.ts.

import type { i32, u32 } from "./builtins.js";

/** Element types that live in device memory. bf16, fp16, e4m3 and e5m2 (FP8) are converted to f32 when loaded. */
export type StorageType = "bf16" | "fp16" | "e4m3" | "e5m2" | "f32" | "i32" | "u32";

/** The FP8 formats (OCP E4M3 and E5M2) a K/V cache may hold; on the host, e.g. in a spec's rules. */
export const isFp8 = (t: string): t is "e4m3" | "e5m2" => t === "e4m3" || t === "e5m2";

/**
 * The element type of a tensor, a shared array or a register array: a storage type, or the name of a
 * compile-time constant whose value is one (e.g. "dtype").
 */
export type Elem = StorageType | (string & {});

/** One index per dimension of a shape. */
export type IndexOf<Dims extends readonly unknown[]> = { [K in keyof Dims]: number };

/** The location of one element: what copies, vector loads and atomics take. */
export interface Ref<E extends Elem = Elem> {
  readonly __element: E;
}

/**
 * A run-time tensor argument in device memory, read-only. Dims name compile-time constants (e.g. "D"),
 * run-time sizes (e.g. "B", "Nmax") or are numbers. Every dimension but the last is addressed through a
 * run-time element stride; the last is contiguous so that rows can be read with 16-byte vector loads.
 *
 * A KV cache [B, H, N, D] may name a layout constant as its third argument (Tensor<"dtype", ["B", "Hkv",
 * "Nmax", "D"], "cache"> with constants { cache: ["contiguous", "paged"] }): its rows are then addressed
 * through that layout (a paged cache through its block table) while the kernel indexes logical positions.
 */
export interface Tensor<E extends Elem, Dims extends readonly (string | number)[], Layout extends string = never> {
  /** The layout constant's name, for a cache tensor (type-level only). */
  readonly __layout?: Layout;
  /** Reads one element (bf16/fp16 are converted to f32). */
  at(...index: IndexOf<Dims>): number;
  /** The location of one element, for vector loads and asynchronous copies. */
  ref(...index: IndexOf<Dims>): Ref<E>;
  /** The run-time size of a named dimension. */
  size(dim: Extract<Dims[number], string>): i32;
  /**
   * A one-dimensional table kept per tensor (one entry) or per KV head (an FP8 cache's scales): the entry of
   * KV head `head`, i.e. at(size == 1 ? 0 : head).
   */
  perHead(head: i32): number;
  /**
   * A cache tensor only: the page holding (request, position): a paged cache's block table entry, or -1 where
   * the table names no page of the pool (never read such a row; report it with raise()); a contiguous cache
   * is one page per request (the request itself).
   */
  page(request: i32, position: i32): i32;
  /**
   * A cache tensor only: page() in two steps, for a kernel that looks rows up ahead of their use. pageEntry()
   * loads the block table entry unchecked (from an address kept inside the table; a contiguous cache: the
   * request), and checkedPage() checks it where it is used (page() checks at once, which waits for the load).
   */
  pageEntry(request: i32, position: i32): i32;
  checkedPage(request: i32, position: i32, entry: i32): i32;
  /** A cache tensor only: the location of element d of (head, position) in `page` (from page(); not -1). */
  pageRef(page: i32, head: i32, position: i32, d: i32): Ref<E>;
  /**
   * A cache tensor only: writes the address of the row at `position` in `page` (from page(); -1 reads as
   * page 0), at head 0, into two u32 words of shared memory, so that the threads copying pieces of that row add only
   * their head and element (stagedRef) instead of each paying the row's 64-bit multiplies.
   */
  stageRow(slot: Ref<"u32">, page: i32, position: i32): void;
  /**
   * A cache tensor only: the location of element d of `head` in the row whose address stageRow() wrote to a
   * slot, given as the slot's two words (low, high), read into registers first: a thread can then read the
   * words of several rows before any of their copies, which ptxas does not do for it.
   */
  stagedRef(low: u32, high: u32, head: i32, d: i32): Ref<E>;
  /**
   * A cache tensor only: starts moving the first `elements` elements of row (request, head, position) into the
   * L2, loading nothing into the kernel. Safe before waitForPrecedingGrid() (the L2 is where every SM's writes
   * meet, so a line fetched early is never stale); a paged cache's page comes from its block table read with
   * peek(), and an entry outside the pool prefetches nothing. The position must lie inside the cache.
   */
  prefetchRow(request: i32, head: i32, position: i32, elements: i32): void;
}

/** An input the caller may omit (a null pointer); test it with present() before use. */
export interface MaybeTensor<E extends Elem, Dims extends readonly (string | number)[]> extends Tensor<E, Dims> {
  readonly __optionalInput: true;
}

/** A tensor the kernel writes. */
export interface Out<E extends Elem, Dims extends readonly (string | number)[], Layout extends string = never> extends Tensor<E, Dims, Layout> {
  /** Writes one element (converted to the storage type). */
  store(value: number, ...index: IndexOf<Dims>): void;
  /** Atomically adds to one element and returns the old value. */
  atomicAdd(value: number, ...index: IndexOf<Dims>): number;
  /** Atomically takes the minimum with one element and returns the old value. */
  atomicMin(value: number, ...index: IndexOf<Dims>): number;
}

/** An output the caller may omit (a null pointer); test it with present() before use. */
export interface MaybeOut<E extends Elem, Dims extends readonly (string | number)[]> extends Out<E, Dims> {
  readonly __optional: true;
}

/** A compile-time-shaped array: nested number-indexed levels, one per dimension. */
export type ArrayOf<Dims extends readonly number[]> = Dims extends readonly [number]
  ? { [i: number]: number }
  : Dims extends readonly [number, ...infer Rest extends readonly number[]]
    ? { [i: number]: ArrayOf<Rest> }
    : never;

/** An array in registers, one copy per thread. Index it only with compile-time values (unroll loops). */
export type Registers<Dims extends readonly number[]> = ArrayOf<Dims>;

/** An array in shared memory, one copy per thread block. */
export type SharedArray<E extends Elem, Dims extends readonly number[]> = ArrayOf<Dims> & {
  ref(...index: IndexOf<Dims>): Ref<E>;
};

/** One mbarrier in shared memory: copies and threads arrive on it, threads wait for its phases to complete. */
export interface Barrier {
  readonly __barrier: true;
}

/** An array of mbarriers (see barriers()): index it with a stage number. */
export type Barriers = { readonly [i: number]: Barrier };
