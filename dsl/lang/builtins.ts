// The primitives a kernel body may call. These declarations give kernels their types in an editor; the
// front end (codegen/frontend/builtins.ts) gives each one its typing rule and lowering, and a test keeps
// the two lists equal. Called on the CPU, every one of them throws: kernel bodies are compiled, never run.

import type { ArrayOf, Barrier, Barriers, Elem, MaybeOut, MaybeTensor, Ref, SharedArray } from "./types.js";

// Scalar types. To the TypeScript checker every scalar is a plain number, so kernels type-check in an
// editor without ceremony; the front end tracks the real types from annotations, literals and primitives.

/** 32-bit float (the accumulation type of every kernel). */
export type f32 = number;
/** 32-bit signed integer. Division and remainder truncate toward zero, as in C. */
export type i32 = number;
/** 32-bit unsigned integer (radix keys, bit masks). */
export type u32 = number;
/** Boolean. */
export type bool = boolean;

function gpuOnly(name: string): never {
  throw new Error(`${name}() is a GPU primitive: kernel bodies are compiled by 'lim generate', never run`);
}

function gpuOnlyObject<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get: (_target, key) => gpuOnly(`${name}.${String(key)}`),
  });
}

// ---- Where this thread is -------------------------------------------------------------------------

/** The block's coordinates in the grid (see the kernel spec's `grid`). */
export const blockIdx = gpuOnlyObject<{ readonly x: i32; readonly y: i32; readonly z: i32 }>("blockIdx");
/** The thread's index in its (one-dimensional) block, 0 .. schedule threads - 1. */
export const threadIdx = gpuOnlyObject<{ readonly x: i32 }>("threadIdx");
/** The thread's lane in its warp, 0..31. */
export function laneId(): i32 {
  return gpuOnly("laneId");
}
/** The warp's index in the block. */
export function warpId(): i32 {
  return gpuOnly("warpId");
}

// ---- Loops and storage ----------------------------------------------------------------------------

/** `for (const i of unroll(n))`: a loop of compile-time trip count n, fully unrolled. */
export function unroll(n: number): Iterable<i32> {
  return gpuOnly("unroll");
}
/**
 * `for (const i of range(start, end, step, unrollBy))`: a run-time loop over start, start + step, ... < end.
 * `unrollBy` (compile-time) asks the compiler to unroll that many iterations, so their loads overlap.
 */
export function range(start: i32, end: i32, step?: i32, unrollBy?: number): Iterable<i32> {
  return gpuOnly("range");
}
/** An array in registers of compile-time dims, optionally filled with `init`. */
export function regs<const D extends readonly number[]>(elem: "f32" | "i32" | "u32", dims: D, init?: number): ArrayOf<D> {
  return gpuOnly("regs");
}
/** An array in shared memory of compile-time dims. Arrays declared in sibling scopes share storage. */
export function shared<const D extends readonly number[], E extends Elem = Elem>(elem: E, dims: D): SharedArray<E, D> {
  return gpuOnly("shared");
}
/** Bytes of one element of a storage type (or of a constant naming one); a compile-time value. */
export function sizeof(elem: Elem): i32 {
  return gpuOnly("sizeof");
}

// ---- Arithmetic -----------------------------------------------------------------------------------

/** 2^x, the fast hardware exponential (softmax is computed in base 2). */
export function exp2(x: f32): f32 {
  return gpuOnly("exp2");
}
/** log2(x). */
export function log2(x: f32): f32 {
  return gpuOnly("log2");
}
export function exp(x: f32): f32 {
  return gpuOnly("exp");
}
export function log(x: f32): f32 {
  return gpuOnly("log");
}
export function sqrt(x: f32): f32 {
  return gpuOnly("sqrt");
}
export function abs<T extends number>(x: T): T {
  return gpuOnly("abs");
}
/** The larger of two values of one type (NaN loses, as in fmaxf). */
export function max<T extends number>(a: T, b: T): T {
  return gpuOnly("max");
}
/** The smaller of two values of one type (NaN loses, as in fminf). */
export function min<T extends number>(a: T, b: T): T {
  return gpuOnly("min");
}
/** ceil(a / b) for non-negative integers. */
export function ceilDiv(a: i32, b: i32): i32 {
  return gpuOnly("ceilDiv");
}
export function isNaN(x: f32): bool {
  return gpuOnly("isNaN");
}
export function isInf(x: f32): bool {
  return gpuOnly("isInf");
}
/**
 * An unsigned key whose order is the order of the float (larger float, larger key); every NaN maps to 0,
 * below every number, so NaN ranks last.
 */
export function orderedKey(x: f32): u32 {
  return gpuOnly("orderedKey");
}
/** The float an orderedKey came from (NaN for key 0). */
export function keyValue(key: u32): f32 {
  return gpuOnly("keyValue");
}
/** Number of set bits. */
export function popcount(x: u32): i32 {
  return gpuOnly("popcount");
}
/** Bits needed to write x: 0 for 0, else 1 + the position of its highest set bit. */
export function bitWidth(x: u32): i32 {
  return gpuOnly("bitWidth");
}
/** Position (0 = least significant) of the n-th set bit of x, counting from 0; -1 when x has fewer. */
export function nthSetBit(x: u32, n: i32): i32 {
  return gpuOnly("nthSetBit");
}
/** Converts to f32. */
export function f32(x: number): f32 {
  return gpuOnly("f32");
}
/** Converts to i32 (truncating floats). */
export function i32(x: number): i32 {
  return gpuOnly("i32");
}
/** Converts to u32. */
export function u32(x: number): u32 {
  return gpuOnly("u32");
}
/** Sum of a[i] * b[i] over two register arrays of one compile-time length. */
export function dot(a: { [i: number]: number }, b: { [i: number]: number }): f32 {
  return gpuOnly("dot");
}

// ---- Collectives ----------------------------------------------------------------------------------

/**
 * Sum over each group of `width` lanes (a power of two up to 32); every lane gets the result. A group is
 * `width` aligned consecutive lanes, or with `stride` (a power of two, width * stride <= 32) the lanes
 * l, l + stride, ..., l + (width - 1) * stride for each l with l % (width * stride) < stride: stride 4 and
 * width 8 sum over the 8 lanes of an accumulator fragment that share a column.
 */
export function laneGroupSum(x: f32, width: number, stride?: number): f32 {
  return gpuOnly("laneGroupSum");
}
/** Maximum over each group of `width` lanes (`stride` apart, as for laneGroupSum); every lane gets the result. */
export function laneGroupMax(x: f32, width: number, stride?: number): f32 {
  return gpuOnly("laneGroupMax");
}
/**
 * Exclusive prefix sum over the block's threads in thread order (CUB BlockScan): out[0] receives the sum of
 * `value` over the lower threads, out[1] the block's total. Every thread of the block must call it.
 */
export function blockExclusiveSum(value: i32, out: { [i: number]: number }): void {
  return gpuOnly("blockExclusiveSum");
}
/** Sum of `value` over the block's threads, returned to every thread (CUB BlockReduce). */
export function blockSum(value: f32): f32 {
  return gpuOnly("blockSum");
}
/**
 * Stable sort of the block's keys, largest first, carrying the values along (CUB BlockRadixSort). Each
 * thread holds `keys.length` consecutive items (blocked arrangement) before and after; equal keys keep
 * their order. With `bits`, only the keys' low `bits` bits are compared (the caller knows the higher ones
 * are equal in every key): a radix pass per 4 bits, so fewer bits sort faster.
 */
export function blockSortDescending(keys: { [i: number]: number }, values: { [i: number]: number }, bits?: i32): void {
  return gpuOnly("blockSortDescending");
}
/**
 * Waits until the kernel before this one in the stream has finished and its writes are visible. Required,
 * before reading that kernel's output, in kernels whose spec sets overlapsPrecedingKernel.
 */
export function waitForPrecedingGrid(): void {
  return gpuOnly("waitForPrecedingGrid");
}
/** Lets the next kernel in the stream (if it overlaps its predecessor) start launching once every block of this one got here. */
export function allowDependentGrid(): void {
  return gpuOnly("allowDependentGrid");
}
/** Block-wide barrier: shared-memory writes before it are visible to every thread after it. */
export function syncthreads(): void {
  return gpuOnly("syncthreads");
}

// ---- Thread-block clusters (a kernel whose spec names a cluster knob) -------------------------------

/** This block's rank in its cluster: 0 to the cluster's blocks - 1 (consecutive blocks along grid x). */
export function clusterRank(): i32 {
  return gpuOnly("clusterRank");
}
/**
 * Barrier of every thread of every block of the cluster (release, then acquire): shared-memory writes before
 * it, to the block's own arrays or a peer's, are visible to every thread of the cluster after it. Call it
 * before reading what peers wrote, and before a block exits while peers may still touch its shared memory.
 */
export function clusterSync(): void {
  return gpuOnly("clusterSync");
}
/**
 * The shared array `array` of the cluster's block `rank` (distributed shared memory): index it to read or
 * write an element, or take .ref(...) for atomics. Not a target of asyncCopy or bulkCopy.
 */
export function peer<A>(array: A, rank: i32): A {
  return gpuOnly("peer");
}

// ---- Memory ---------------------------------------------------------------------------------------

/** Loads dst's length of contiguous elements starting at src into registers (16-byte loads where aligned). */
export function loadVec(dst: { [i: number]: number }, src: Ref): void {
  return gpuOnly("loadVec");
}
/** Stores src's contiguous elements to dst, converting to dst's storage type. */
export function storeVec(dst: Ref, src: { [i: number]: number }): void {
  return gpuOnly("storeVec");
}
/** Copies `count` contiguous elements (16 bytes in all) from one location to another, without conversion. */
export function copyVec(dst: Ref, src: Ref, count: number): void {
  return gpuOnly("copyVec");
}
/** Atomically adds `value` at a location (shared or device memory); returns the old value. */
export function atomicAdd<T extends number>(at: Ref, value: T): T {
  return gpuOnly("atomicAdd");
}
/** Atomically keeps the smaller of the old value and `value` (i32 or u32); returns the old value. */
export function atomicMin<T extends number>(at: Ref, value: T): T {
  return gpuOnly("atomicMin");
}
/** Atomically ORs `value` into a location (i32 or u32); returns the old value. */
export function atomicOr<T extends number>(at: Ref, value: T): T {
  return gpuOnly("atomicOr");
}
/**
 * Starts an asynchronous copy of `count` elements (16 bytes in all) from device memory to shared memory.
 * When `valid` is false the destination is zero-filled and nothing is read. It reads through the L1, which
 * is not coherent across blocks: copy only what no other block of the same launch writes (inputs).
 */
export function asyncCopy(dst: Ref, src: Ref, count: number, valid: bool): void {
  return gpuOnly("asyncCopy");
}
/** Closes the group of asynchronous copies this thread started since the last commit. */
export function asyncCommit(): void {
  return gpuOnly("asyncCommit");
}
/** Waits until at most `pending` of this thread's committed copy groups are still in flight. */
export function asyncWait(pending: number): void {
  return gpuOnly("asyncWait");
}
/** Whether an optional tensor (MaybeTensor or MaybeOut) was given (its pointer is not null). */
export function present(t: MaybeOut<Elem, readonly (string | number)[]> | MaybeTensor<Elem, readonly (string | number)[]>): bool {
  return gpuOnly("present");
}
/**
 * Records a bad-input error in the device status word (the first one wins) for the C ABI to report.
 * `message` is a string literal; {0} .. {3} in it are replaced by the (one to four) values.
 */
export function raise(message: string, ...values: i32[]): void {
  return gpuOnly("raise");
}

// ---- Tensor cores (warp-wide mma.sync, sm_80+) ------------------------------------------------------

/**
 * acc += A x B on the tensor cores for the whole warp (mma.sync m16n8k16, f32 accumulation): A is 16 x 16
 * and B 16 x 8 of the 16-bit float type `elem` (a constant naming bf16 or fp16), each thread holding its
 * fragment (A: 4 u32 of two elements each, B: 2, acc: 4 f32) in the PTX ISA's layout: thread t holds
 * rows t / 4 and t / 4 + 8, columns 2 (t % 4) and 2 (t % 4) + 1 (+ 8) of each 8 x 8 piece. Every lane
 * of the warp must call it.
 */
export function mma(acc: { [i: number]: number }, a: { [i: number]: number }, b: { [i: number]: number }, elem: string): void {
  return gpuOnly("mma");
}
/**
 * Loads 8 x 8 matrices of 16-bit elements from shared memory into fragments (ldmatrix), one u32 of dst per
 * matrix (2 or 4): lane 8m + r gives the address of row r of matrix m (16 contiguous bytes, 16-byte aligned).
 * `transpose` (a literal) loads each matrix transposed. Every lane of the warp must call it.
 */
export function loadMatrix(dst: { [i: number]: number }, src: Ref, transpose: boolean): void {
  return gpuOnly("loadMatrix");
}
/**
 * Four FP8 bytes in `format` ("e4m3" or "e5m2": a constant, such as an FP8 variant's c.kv), a register
 * loadMatrix() read from FP8 rows, widened exactly (every value of both formats is an fp16) to two fp16 pairs
 * for an fp16 mma: dst[0] = bytes (0, 1) and dst[1] = bytes (2, 3); with `transposed` (a literal; for a
 * transposed read, whose register holds two bytes of one row, then two of the next) dst[0] = bytes (0, 2)
 * and dst[1] = bytes (1, 3), the same column of two rows each.
 */
export function widenFp8(dst: { [i: number]: number }, word: u32, format: string, transposed: boolean): void {
  return gpuOnly("widenFp8");
}
/**
 * The 8 x 8 matrix of 16-bit elements whose fragment the warp holds (lane 4r + c: row r, columns 2c and
 * 2c + 1, one u32), transposed (movmatrix): lane 4r + c gets rows 2c and 2c + 1 of column r. It turns an mma's
 * accumulator layout into an operand's. Every lane of the warp must call it.
 */
export function transposeMatrix(word: u32): u32 {
  return gpuOnly("transposeMatrix");
}
/** Two floats rounded to the 16-bit float type `elem` and packed into one u32 (x in the low half). */
export function pack2(x: f32, y: f32, elem: string): u32 {
  return gpuOnly("pack2");
}
/** The 4 bytes at a 4-byte-aligned location (two 16-bit elements), as they are. */
export function loadBits(src: Ref): u32 {
  return gpuOnly("loadBits");
}
/**
 * The i32 at a location, read at the L2 (never through this SM's L1), so that it may be read before
 * waitForPrecedingGrid(): the preceding kernel may still be writing it, so the value is a hint (a row to
 * prefetch), never data.
 */
export function peek(src: Ref<"i32">): i32 {
  return gpuOnly("peek");
}

// ---- Hopper's asynchronous machinery (sm_90): bulk copies, mbarriers, warp roles --------------------

/**
 * `const full = barriers(n, arrivals)`: n mbarriers in shared memory, each completing a phase when
 * `arrivals` threads have called arrive() on it and every byte of the bulk copies signalling it has landed.
 * Declared in the kernel body outside any role branch: thread 0 initialises them and the block waits.
 */
export function barriers(count: number, arrivals: number): Barriers {
  return gpuOnly("barriers");
}
/**
 * Starts a bulk asynchronous copy (the copy engine, one instruction) of `count` contiguous elements, a
 * multiple of 16 bytes, from device memory to shared memory; its bytes count towards `bar`'s current phase,
 * which does not complete before they land. Both addresses must be 16-byte aligned. A count known only at
 * run time is written as `n * ROW`, ROW a compile-time number of elements that is a multiple of 16 bytes.
 */
export function bulkCopy(dst: Ref, src: Ref, count: number, bar: Barrier): void {
  return gpuOnly("bulkCopy");
}
/**
 * This thread's arrival on a barrier once all the asyncCopy() copies it started so far have landed (one of
 * the `arrivals` the phase waits for): hands cp.async copies to waitBarrier() instead of asyncWait().
 */
export function asyncArrive(bar: Barrier): void {
  return gpuOnly("asyncArrive");
}
/** This thread's arrival on a barrier (one of the `arrivals` its phase waits for). */
export function arrive(bar: Barrier): void {
  return gpuOnly("arrive");
}
/**
 * Waits until the phase of `bar` with this parity (0 for phases 0, 2, 4, ..., 1 for 1, 3, ...) has
 * completed; what the copies and arriving threads of that phase wrote is then visible.
 */
export function waitBarrier(bar: Barrier, parity: i32): void {
  return gpuOnly("waitBarrier");
}
/**
 * In a kernel whose spec adds producer warps, `if (isProducer()) { ... } else { ... }` splits the block:
 * the producer warps (after the s.threads consumer threads) take the first branch, the consumers the other.
 * Inside the consumers' branch syncthreads() synchronises the consumers only.
 */
export function isProducer(): bool {
  return gpuOnly("isProducer");
}
/** The producer warps the kernel's spec adds (KernelSpec.producerWarps); a compile-time value. */
export function producerWarps(): i32 {
  return gpuOnly("producerWarps");
}
/**
 * Register reallocation (Hopper setmaxnreg): inside a role branch, this role's threads keep `count`
 * registers each (a multiple of 8 from 24 to 256), giving some back or taking more. The role's warps must
 * fill whole warp groups (4 warps), and the roles' counts together must fit the register file.
 */
export function setMaxRegisters(count: number): void {
  return gpuOnly("setMaxRegisters");
}
/** Synchronises the lanes of this warp (and orders their shared-memory accesses). */
export function syncWarp(): void {
  return gpuOnly("syncWarp");
}
/**
 * A word with bit l set where lane l's `predicate` holds. Every lane of the warp must call it at the same
 * point (loop bounds the warp shares), as for the other warp collectives.
 */
export function warpBallot(predicate: bool): u32 {
  return gpuOnly("warpBallot");
}
/**
 * Counts this block's arrival at a device counter (an i32 location) that `total` blocks share: true in the
 * last block to arrive, which sees every write the others made before arriving. That block sets the
 * counter back to 0, so the next launch (or CUDA-graph replay) starts from 0 again. Every thread of the
 * block (or of the consumers, inside their branch) must call it.
 */
export function lastToArrive(counter: Ref, total: i32): bool {
  return gpuOnly("lastToArrive");
}
