// How each primitive call is written in CUDA. The device functions named here (lim::...) are kernel-
// independent and live in templates/device/lim_device.cuh; a test checks that every primitive the front
// end accepts has a lowering here.

import { STORAGE_BYTES, type Expr, type StorageType } from "../frontend/ir.js";
import { storageCType } from "./ctypes.js";

type Lowering = (args: readonly string[], exprs: readonly Expr[]) => string;

const fn = (name: string): Lowering => (args) => `${name}(${args.join(", ")})`;

/** Integer max/min are plain; float ones are fmaxf/fminf (NaN loses). */
const minMax = (which: "max" | "min"): Lowering => (args, exprs) =>
  exprs[0].type.kind === "scalar" && exprs[0].type.t === "f32" ? `f${which}f(${args.join(", ")})` : `${which}(${args.join(", ")})`;

/** The CUDA type a 16-bit float type constant names. */
const halfCType = (e: Expr): string => (e.k === "string" && e.text === "fp16" ? "__half" : "__nv_bfloat16");

const cast = (ctype: string): Lowering => (args) => `static_cast<${ctype}>(${args[0]})`;

export const PRIMITIVE_LOWERING: Readonly<Record<string, Lowering>> = {
  laneId: () => "lim::lane_id()",
  warpId: () => "lim::warp_id()",
  exp2: fn("lim::fast_exp2"),
  log2: fn("log2f"),
  exp: fn("__expf"),
  log: fn("logf"),
  sqrt: fn("sqrtf"),
  isNaN: fn("isnan"),
  isInf: fn("isinf"),
  abs: (args, exprs) => (exprs[0].type.kind === "scalar" && exprs[0].type.t === "f32" ? `fabsf(${args[0]})` : `abs(${args[0]})`),
  max: minMax("max"),
  min: minMax("min"),
  ceilDiv: fn("lim::ceil_div"),
  f32: cast("float"),
  i32: cast("int"),
  u32: cast("unsigned"),
  dot: fn("lim::dot"),
  laneGroupSum: (args, exprs) => `lim::lane_group_sum<${exprs.slice(1).map((e) => e.value).join(", ")}>(${args[0]})`,
  laneGroupMax: (args, exprs) => `lim::lane_group_max<${exprs.slice(1).map((e) => e.value).join(", ")}>(${args[0]})`,
  orderedKey: fn("lim::ordered_key"),
  keyValue: fn("lim::key_value"),
  atomicAdd: fn("atomicAdd"),
  atomicMin: fn("atomicMin"),
  atomicOr: fn("atomicOr"),
  popcount: fn("__popc"),
  warpBallot: (args) => `__ballot_sync(0xffffffffu, ${args[0]})`,
  bitWidth: (args) => `(32 - __clz(${args[0]}))`,
  nthSetBit: (args) => `static_cast<int>(__fns(${args[0]}, 0u, (${args[1]}) + 1))`,
  // Block collectives are CUB's, sized by the kernel's thread count (every schedule has a `threads` knob).
  blockExclusiveSum: fn("lim::block_exclusive_sum<s::threads>"),
  blockSum: fn("lim::block_sum<s::threads>"),
  blockSortDescending: fn("lim::block_sort_descending<s::threads>"),
  syncthreads: () => "__syncthreads()",
  clusterRank: () => "lim::cluster_rank()",
  clusterSync: () => "lim::cluster_sync()",
  peer: fn("lim::peer"),
  waitForPrecedingGrid: () => "lim::wait_for_preceding_grid()",
  allowDependentGrid: () => "lim::allow_dependent_grid()",
  asyncCommit: () => "lim::cp_async_commit()",
  asyncWait: (_args, exprs) => `lim::cp_async_wait<${exprs[0].value}>()`,
  loadVec: fn("lim::load_vec"),
  copyVec: (args) => `lim::copy16(${args[0]}, ${args[1]})`,
  storeVec: fn("lim::store_vec"),
  asyncCopy: (args, exprs) => {
    const src = exprs[1].type;
    const bytes = (exprs[2].value as number) * (src.kind === "ref" ? STORAGE_BYTES[src.elem] : 0);
    return `lim::cp_async<${bytes}>(${args[0]}, ${args[1]}, ${args[3]})`;
  },
  bulkCopy: (args, exprs) => {
    const src = exprs[1].type;
    const size = src.kind === "ref" ? STORAGE_BYTES[src.elem] : 0;
    const count = exprs[2].value;
    return typeof count === "number" ? `lim::bulk_copy<${count * size}>(${args[0]}, ${args[1]}, ${args[3]})` : `lim::bulk_copy(${args[0]}, ${args[1]}, (${args[2]}) * ${size}, ${args[3]})`;
  },
  asyncArrive: fn("lim::cp_async_arrive"),
  mma: (args, exprs) => `lim::mma_16816<${halfCType(exprs[3])}>(${args.slice(0, 3).join(", ")})`,
  loadMatrix: (args, exprs) => `lim::load_matrix<${exprs[2].value ? "true" : "false"}>(${args[0]}, ${args[1]})`,
  widenFp8: (args, exprs) => {
    const format = exprs[2];
    if (format.k !== "string") throw new Error("widenFp8: the front end passes the format as a constant word"); // checked there with a DSL error
    return `lim::widen_fp8<${storageCType(format.text as StorageType)}, ${exprs[3].value ? "true" : "false"}>(${args[0]}, ${args[1]})`;
  },
  transposeMatrix: fn("lim::transpose_matrix"),
  pack2: (args, exprs) => `lim::pack2<${halfCType(exprs[2])}>(${args[0]}, ${args[1]})`,
  loadBits: fn("lim::load_bits"),
  peek: fn("lim::peek"),
  arrive: fn("lim::barrier_arrive"),
  waitBarrier: fn("lim::barrier_wait"),
  isProducer: () => "lim::is_producer<s::threads>()",
  syncWarp: () => "__syncwarp()",
  producerWarps: () => "lim_producer_warps", // never reached: its value is known, and emitted as a literal
  setMaxRegisters: (_args, exprs) => `lim::set_max_registers<${exprs[0].value}, ${exprs[1].value ? "true" : "false"}>()`,
  syncConsumers: () => "lim::sync_consumers<s::threads>()",
  syncProducers: (_args, exprs) => `lim::sync_producers<${exprs[0].value}>()`,
  lastToArrive: fn("lim::last_to_arrive"),
  lastConsumersToArrive: fn("lim::last_to_arrive<s::threads>"),
  present: (args) => `${args[0]}.present()`,
  raise: (args) => `lim::raise(lim_p.status, lim_raise_base + ${args[0]}, ${args.slice(1).join(", ")})`,
  "tensor.page": (args) => `${args[0]}.page(${args.slice(1).join(", ")})`,
  "tensor.pageEntry": (args) => `${args[0]}.page_entry(${args.slice(1).join(", ")})`,
  "tensor.checkedPage": (args) => `${args[0]}.checked_page(${args.slice(1).join(", ")})`,
  "tensor.pageRef": (args) => `${args[0]}.page_ref(${args.slice(1).join(", ")})`,
  "tensor.stageRow": (args) => `${args[0]}.stage_row(${args.slice(1).join(", ")})`,
  "tensor.stagedRef": (args) => `${args[0]}.staged_ref(${args.slice(1).join(", ")})`,
  "tensor.prefetchRow": (args) => `${args[0]}.prefetch_row(${args.slice(1).join(", ")})`,
  "tensor.store": (args) => `${args[0]}.store(${args.slice(1).join(", ")})`,
  "tensor.atomicAdd": (args) => `${args[0]}.atomic_add(${args.slice(1).join(", ")})`,
  "tensor.atomicMin": (args) => `${args[0]}.atomic_min(${args.slice(1).join(", ")})`,
};
