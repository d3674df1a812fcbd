// The public C functions of the library, one entry per function, as data: the one source from which
// `lim generate` renders the header (generated/include/lim.h), the C wrappers that check every argument
// (generated/abi.cpp), the argument structs the hand-written implementations in runtime/capi take
// (generated/include/lim_abi_impl.h), the Node addon's bindings, their TypeScript types and the Python
// ctypes binding (generated/bindings/). Each argument declares its role (codegen/abi/params.ts); the
// checks and the bindings follow from the roles.

import { fp8Functions } from "./fp8_functions.js";
import { pagedFunctions } from "./paged_functions.js";
import type { AbiFunction, AbiParam, Element, Requirement, TensorParam } from "./params.js";

// ---- argument builders: short to read, one line per argument

function tensor(name: string, element: Element, access: "in" | "out", doc: string, layout: { shape?: string[]; strides?: string[]; optional?: boolean } = {}): TensorParam {
  return { kind: "tensor", name, element, access, doc, ...layout };
}
const stride = (name: string, doc: string): AbiParam => ({ kind: "stride", name, doc });
const size = (name: string, doc: string, min = 1, max?: number): AbiParam => ({ kind: "size", name, doc, min, ...(max === undefined ? {} : { max }) });
const stream: AbiParam = { kind: "stream", name: "stream", doc: "stream the kernels run on (0: the legacy default stream)" };
const bytesOut: AbiParam = { kind: "result", name: "bytes", doc: "receives the size in bytes" };
const kvDtype: AbiParam = { kind: "dtype", name: "dtype", doc: "LIM_DTYPE_BF16 or LIM_DTYPE_FP16", allowed: ["bf16", "fp16"] };
/** What every attention function's workspace must be: the in-kernel split merge keeps counters in it. */
const ATTENTION_WORKSPACE =
  "Zero it once when allocated (cudaMemset); every call leaves it ready for the next, CUDA-graph replays included. The three attention functions may share one workspace (in stream order); no other function may write into it.";

const workspace = (doc: string): AbiParam[] => [
  { kind: "workspace", name: "workspace", doc },
  { kind: "workspace_bytes", name: "workspace_bytes", doc: "size of workspace in bytes" },
];

/** The grid limit of CUDA's y and z dimensions: requests and heads are launched along them. */
const GRID_YZ = 65535;

const batch = size("batch", "requests", 1, GRID_YZ);
const numQHeads = size("num_q_heads", "query heads", 1, GRID_YZ);
const numKvHeads = size("num_kv_heads", "KV heads (divides num_q_heads)", 1, GRID_YZ);
const headDim = size("head_dim", "head dimension");
const maxSeqlen = size("max_seqlen", "an upper bound of seqlens (at most cache_capacity)");
const cacheCapacity = size("cache_capacity", "tokens the caches hold per request and head (Nmax)");

const headsDivide: Requirement = { check: "num_q_heads % num_kv_heads == 0", message: "num_q_heads ({num_q_heads}) must be a multiple of num_kv_heads ({num_kv_heads})" };
const seqlenFits: Requirement = { check: "max_seqlen <= cache_capacity", message: "max_seqlen ({max_seqlen}) must be in [1, cache_capacity ({cache_capacity})]" };
const scaleFinite: Requirement = { check: "std::isfinite(softmax_scale) && softmax_scale != 0.0f", message: "softmax_scale must be finite and non-zero, got {softmax_scale}" };

/** A K or V cache [batch, num_kv_heads, cache_capacity, head_dim] with its strides. */
function cache(name: string, prefix: string, access: "in" | "out", doc: string): AbiParam[] {
  return [
    tensor(name, "kv", access, doc, {
      shape: ["batch", "num_kv_heads", "cache_capacity", "head_dim"],
      strides: [`${prefix}_stride_b`, `${prefix}_stride_h`, `${prefix}_stride_n`, "1"],
    }),
    stride(`${prefix}_stride_b`, `element stride between requests of ${name}`),
    stride(`${prefix}_stride_h`, `element stride between heads of ${name}`),
    stride(`${prefix}_stride_n`, `element stride between tokens of ${name}`),
  ];
}

/** q, the caches and seqlens: the inputs every attention function takes. */
const attentionInputs: readonly AbiParam[] = [
  tensor("q", "kv", "in", "queries [batch, num_q_heads, head_dim]", { shape: ["batch", "num_q_heads", "head_dim"], strides: ["q_stride_b", "q_stride_h", "1"] }),
  stride("q_stride_b", "element stride between requests of q"),
  stride("q_stride_h", "element stride between heads of q"),
  ...cache("k_cache", "k", "in", "keys [batch, num_kv_heads, cache_capacity, head_dim]"),
  ...cache("v_cache", "v", "in", "values [batch, num_kv_heads, cache_capacity, head_dim]"),
  tensor("seqlens", "i32", "in", "[batch] tokens in each request's cache, the new one included", { shape: ["batch"] }),
];

/** The output and the optional log-sum-exp of every attention function. */
const attentionOutputs: readonly AbiParam[] = [
  tensor("out", "kv", "out", "output [batch, num_q_heads, head_dim], same dtype as q", { shape: ["batch", "num_q_heads", "head_dim"], strides: ["out_stride_b", "out_stride_h", "1"] }),
  stride("out_stride_b", "element stride between requests of out"),
  stride("out_stride_h", "element stride between heads of out"),
  tensor("lse", "f32", "out", "optional [batch, num_q_heads] natural-log log-sum-exp of the scaled scores, contiguous; NULL to skip", { shape: ["batch", "num_q_heads"], optional: true }),
];

const attentionSizes: readonly AbiParam[] = [batch, numQHeads, numKvHeads, headDim, cacheCapacity, maxSeqlen];
const attentionTail: readonly AbiParam[] = [kvDtype, { kind: "float", name: "softmax_scale", doc: "scale of q . k, usually 1/sqrt(head_dim)" }];
const attentionRequires: readonly Requirement[] = [headsDivide, seqlenFits, scaleFinite];

/** The selection layer's logits and the sequence lengths: what the selection functions rank. */
const logitsIn: readonly AbiParam[] = [
  tensor("logits", "f32", "in", "[batch, num_q_heads, >= max_seqlen] scaled logits of the selection layer (lim_decode_attention's logits output)", {
    shape: ["batch", "num_q_heads", "max_seqlen"], strides: ["logits_stride_b", "logits_stride_h", "1"],
  }),
  stride("logits_stride_b", "element stride between requests of logits"),
  stride("logits_stride_h", "element stride between heads of logits (at least max_seqlen)"),
  tensor("seqlens", "i32", "in", "[batch] tokens of each request, the new one included", { shape: ["batch"] }),
];
/** The selection ranks batch x num_q_heads rows in one launch, counted (and indexed) in int32. */
const rowsFit: Requirement = {
  check: "int64_t{batch} * num_q_heads <= INT32_MAX",
  message: "batch ({batch}) x num_q_heads ({num_q_heads}) rows must be at most 2147483647 in one call: select fewer requests at a time",
};
/** The kernels read logits as rows b * heads + h; one request's batch stride is never used (PyTorch may leave it at anything). */
const headsConsecutive: Requirement = {
  check: "batch == 1 || logits_stride_b == logits_stride_h * num_q_heads",
  message: "logits_stride_b ({logits_stride_b}) must equal num_q_heads * logits_stride_h ({logits_stride_h}): the heads of a request are consecutive rows",
};

/** One ascending index list per request, [batch, max_count], and its counts. */
const sharedLists: readonly AbiParam[] = [
  tensor("indices", "i32", "in", "[batch, >= max_count] ascending positions", { shape: ["batch", "max_count"], strides: ["indices_stride_b", "1"] }),
  stride("indices_stride_b", "element stride between requests of indices"),
  tensor("counts", "i32", "in", "[batch] entries used in each list, in [1, max_count]", { shape: ["batch"] }),
];

/** An attention function's lists: counts may be left out for lists padded with -1 (the engines' convention). */
const LIST_PADDING = "; NULL: each list runs to max_count and its -1 entries (the engines' padding) are skipped";
const attentionLists: readonly AbiParam[] = sharedLists.map((p) =>
  p.name === "counts" ? { ...(p as TensorParam), doc: `${p.doc}${LIST_PADDING}`, optional: true } : p,
);

/** LessIsMore's budget and how it is split: the ranked middle, the recency window and the sinks. */
const budgetSplit: readonly AbiParam[] = [
  size("budget", "K, the tokens kept per request (at least sinks + 2)"),
  { kind: "float", name: "recency_ratio", doc: "r in [0, 1): the share of the budget given to the most recent tokens (0.25 in the paper)" },
  size("sinks", "S >= 0 first tokens always kept (4 in the paper)", 0),
];

/** LessIsMore's output: one ascending set per request and its size. */
const setOut: readonly AbiParam[] = [
  tensor("indices", "i32", "out", "[batch, >= budget] output positions, ascending", { shape: ["batch", "budget"], strides: ["indices_stride_b", "1"] }),
  stride("indices_stride_b", "element stride between requests of indices (at least budget)"),
  tensor("counts", "i32", "out", "[batch] output: positions written for each request", { shape: ["batch"] }),
];

/** The first-occurrence keys the two halves of a tensor-parallel selection exchange, [batch, max_seqlen] uint32. */
function keysArray(access: "in" | "out", doc: string): AbiParam[] {
  return [
    tensor("keys", "u32", access, doc, { shape: ["batch", "max_seqlen"], strides: ["keys_stride_b", "1"] }),
    stride("keys_stride_b", "element stride between requests of keys (at least max_seqlen)"),
  ];
}
const totalQHeads = size("total_q_heads", "query heads of the whole model, over all GPUs");

const core: readonly AbiFunction[] = [
  { name: "lim_version", returns: "const char*", doc: ["The library version, e.g. \"0.1.0\"."], params: [] },
  { name: "lim_abi_version", returns: "int", doc: ["LIM_ABI_VERSION of the built library; compare with the header's to detect a mismatch."], params: [] },
  { name: "lim_last_error", returns: "const char*", doc: ["The message of the last failed call on this thread (\"\" when none)."], params: [] },
  {
    name: "lim_check_device",
    doc: [
      "Checks that a GPU can run the library's kernels (compute capability among the built targets) and",
      "allocates its device-status word; call it once before capturing a CUDA graph.",
    ],
    params: [{ kind: "device", name: "device", doc: "CUDA device index" }],
  },
  { name: "lim_built_architectures", returns: "const char*", doc: ["Comma-separated CUDA architectures the library was built for, e.g. \"90a\"."], params: [] },
  {
    name: "lim_check_device_status",
    doc: [
      "Waits for stream and reports the first bad input a kernel met on it since the last check (for example a",
      "sequence length beyond max_seqlen), naming the kernel, the argument and the request; then clears it.",
      "Blocks the host.",
    ],
    params: [stream],
  },
  {
    name: "lim_use_variant",
    doc: [
      "Makes the dispatcher use one named variant of a kernel (e.g. \"decode_attention__d128_g4_bf16_contiguous__t256_r1_s2_m1\")",
      "whenever its constants match, instead of the default schedule; NULL restores the default. For tuning",
      "sweeps and experiments; affects every thread.",
    ],
    params: [
      { kind: "string", name: "kernel", doc: "the kernel's name, e.g. \"decode_attention\"" },
      { kind: "string", name: "variant", doc: "a variant of that kernel in this library (generated/manifest.json), or NULL", optional: true },
    ],
  },
];

const attention: readonly AbiFunction[] = [
  {
    name: "lim_decode_attention",
    doc: [
      "Full decode attention: for each request b and query head h, softmax(scale * q[b,h] . K[b, h/G, :n]) V[b, h/G, :n]",
      "with n = seqlens[b] and G = num_q_heads / num_kv_heads. Accumulates in fp32; the G query heads of a KV head",
      "share each K/V row read. Long sequences are split across thread blocks (planned from max_seqlen and the",
      "device) and merged. All pointers are device pointers; q, K, V and out are bf16 or fp16 (dtype), 16-byte",
      "aligned, with a contiguous last dimension and strides that are multiples of 8 elements. Asynchronous on",
      "stream; seqlens outside [1, max_seqlen] are reported by lim_check_device_status.",
    ],
    params: [
      ...attentionInputs,
      ...attentionOutputs,
      tensor("logits", "f32", "out", "optional [batch, num_q_heads, >= max_seqlen] fp32 scaled logits q.k * softmax_scale of every token (selection layers); NULL to skip", {
        shape: ["batch", "num_q_heads", "max_seqlen"], strides: ["logits_stride_b", "logits_stride_h", "1"], optional: true,
      }),
      stride("logits_stride_b", "element stride between requests of logits"),
      stride("logits_stride_h", "element stride between heads of logits (at least max_seqlen)"),
      ...attentionSizes,
      ...attentionTail,
      ...workspace(`device scratch of lim_decode_attention_workspace_size bytes (16-byte aligned); may be NULL when that size is 0. ${ATTENTION_WORKSPACE}`),
      stream,
    ],
    requires: attentionRequires,
  },
  {
    name: "lim_decode_attention_workspace_size",
    doc: [
      "Bytes of workspace lim_decode_attention needs for these sizes on the current device (0 when the sequence",
      "is not split). The same arguments always give the same plan, so a CUDA graph can be captured once.",
    ],
    params: [batch, numQHeads, numKvHeads, headDim, size("max_seqlen", "upper bound of seqlens"), kvDtype, bytesOut],
    requires: [headsDivide],
  },
  {
    name: "lim_sparse_attention",
    doc: [
      "LessIsMore's sparse attention over a shared token set: each request attends over the positions of its",
      "own ascending index list (lim_select_lessismore's output), the same list for all its query heads, so",
      "each selected K/V row is read once per GQA group. Equals full attention restricted to the set. Long",
      "lists are split across thread blocks and merged. An entry outside [0, seqlens[b]) or not above the",
      "previous one is skipped and reported by lim_check_device_status, never read.",
    ],
    params: [
      ...attentionInputs,
      ...attentionLists,
      ...attentionOutputs,
      ...attentionSizes,
      size("max_count", "capacity of each list (the budget K)"),
      ...attentionTail,
      ...workspace(`device scratch of lim_sparse_attention_workspace_size bytes (16-byte aligned); may be NULL when that size is 0. ${ATTENTION_WORKSPACE}`),
      stream,
    ],
    requires: attentionRequires,
  },
  {
    name: "lim_sparse_attention_per_head",
    doc: [
      "TidalDecode-style sparse attention: every query head attends over its own ascending index list",
      "(lim_select_per_head's output), so the heads of a GQA group read K/V rows separately. Bad entries are",
      "skipped and reported as for lim_sparse_attention.",
    ],
    params: [
      ...attentionInputs,
      tensor("indices", "i32", "in", "[batch, num_q_heads, >= max_count] ascending positions per head", {
        shape: ["batch", "num_q_heads", "max_count"], strides: ["indices_stride_b", "indices_stride_h", "1"],
      }),
      stride("indices_stride_b", "element stride between requests of indices"),
      stride("indices_stride_h", "element stride between heads of indices"),
      tensor("counts", "i32", "in", `[batch, num_q_heads] entries used in each list, contiguous${LIST_PADDING}`, { shape: ["batch", "num_q_heads"], optional: true }),
      ...attentionOutputs,
      ...attentionSizes,
      size("max_count", "capacity of each list (the budget K)"),
      ...attentionTail,
      ...workspace(`device scratch of lim_sparse_attention_workspace_size bytes with per_head = 1. ${ATTENTION_WORKSPACE}`),
      stream,
    ],
    requires: attentionRequires,
  },
  {
    name: "lim_sparse_attention_workspace_size",
    doc: ["Bytes of workspace lim_sparse_attention (per_head = 0) or lim_sparse_attention_per_head (per_head = 1) needs."],
    params: [
      batch, numQHeads, numKvHeads, headDim, size("max_count", "capacity of each list"), kvDtype,
      { kind: "flag", name: "per_head", doc: "0: one list per request; 1: one per query head" },
      bytesOut,
    ],
    requires: [headsDivide],
  },
  {
    name: "lim_gather_kv",
    doc: [
      "Copies the K and V rows of each request's index list into compact buffers [batch, num_kv_heads, >= max_count,",
      "head_dim], for engines that keep a compact cache of the selected tokens: row i of request b is the list's",
      "i-th position. Rows past counts[b] are left as they were; bad entries are skipped and reported.",
    ],
    params: [
      ...cache("k_cache", "k", "in", "keys [batch, num_kv_heads, cache_capacity, head_dim]"),
      ...cache("v_cache", "v", "in", "values [batch, num_kv_heads, cache_capacity, head_dim]"),
      tensor("seqlens", "i32", "in", "[batch] tokens in each request's cache", { shape: ["batch"] }),
      ...sharedLists,
      tensor("out_k", "kv", "out", "compact keys [batch, num_kv_heads, >= max_count, head_dim]", {
        shape: ["batch", "num_kv_heads", "max_count", "head_dim"], strides: ["out_stride_b", "out_stride_h", "out_stride_n", "1"],
      }),
      tensor("out_v", "kv", "out", "compact values, laid out like out_k", {
        shape: ["batch", "num_kv_heads", "max_count", "head_dim"], strides: ["out_stride_b", "out_stride_h", "out_stride_n", "1"],
      }),
      stride("out_stride_b", "element stride between requests of out_k and out_v"),
      stride("out_stride_h", "element stride between heads of out_k and out_v"),
      stride("out_stride_n", "element stride between rows of out_k and out_v"),
      batch, size("num_kv_heads", "KV heads", 1, GRID_YZ), headDim, cacheCapacity, maxSeqlen,
      size("max_count", "capacity of each list and of the compact buffers"),
      kvDtype,
      stream,
    ],
    requires: [seqlenFits],
  },
];

const selection: readonly AbiFunction[] = [
  {
    name: "lim_select_lessismore",
    doc: [
      "LessIsMore token selection for every request of a batch separately (docs/algorithm.md). With",
      "middle = floor(budget * (1 - recency_ratio)) and recent = budget - middle - sinks, each query head ranks the",
      "candidates [sinks, n - recent) by logit (descending, ties to the lower position, NaN below every number,",
      "infinities as numbers); the heads' picks are merged rank-major (rank 0 of every head, then rank 1, ...),",
      "keeping first occurrences, cut to `middle` tokens; the set adds the sinks and the recency window. Request b",
      "gets exactly min(budget, n) distinct positions in ascending order in indices[b, :] and their number in",
      "counts[b]; when budget >= n every position 0..n-1 is kept. Sequence lengths outside [1, max_seqlen] are",
      "reported by lim_check_device_status.",
    ],
    params: [
      ...logitsIn,
      ...setOut,
      batch,
      size("num_q_heads", "query heads that rank tokens"),
      maxSeqlen,
      ...budgetSplit,
      ...workspace("device scratch of lim_select_lessismore_workspace_size bytes (16-byte aligned)"),
      stream,
    ],
    requires: [headsConsecutive, rowsFit],
  },
  {
    name: "lim_select_lessismore_local_keys",
    doc: [
      "The first half of lim_select_lessismore, for tensor parallelism (docs/tensor-parallel.md): this GPU's",
      "num_q_heads query heads, global heads head_offset .. head_offset + num_q_heads - 1 of total_q_heads, rank",
      "their candidates as lim_select_lessismore does, and keys[b, j] receives the smallest rank-major key",
      "r * total_q_heads + h of any local pick (rank r, global head h) of token j, and 0x7f7f7f7f where no local",
      "head picked it (above every key, and positive read as int32 or as uint32); every entry of keys[:, :max_seqlen]",
      "is written. The element-wise minimum of all GPUs' key arrays (an all-reduce with MIN over int32 or uint32,",
      "e.g. NCCL's) holds the keys of every head; lim_select_lessismore_union then gives every GPU the single-GPU",
      "set. Needs no workspace.",
    ],
    params: [
      ...logitsIn,
      ...keysArray("out", "output: [batch, >= max_seqlen] each token's smallest rank-major key among this GPU's picks"),
      batch,
      size("num_q_heads", "this GPU's query heads (rows of logits per request)"),
      size("head_offset", "global index of this GPU's first query head", 0),
      totalQHeads,
      maxSeqlen,
      ...budgetSplit,
      stream,
    ],
    requires: [headsConsecutive, rowsFit, {
      check: "int64_t{head_offset} + num_q_heads <= total_q_heads",
      message: "head_offset ({head_offset}) + num_q_heads ({num_q_heads}) must be at most total_q_heads ({total_q_heads}): this GPU's heads are part of the model's",
    }],
  },
  {
    name: "lim_select_lessismore_union",
    doc: [
      "The second half of lim_select_lessismore: the set of every request from the first-occurrence keys of all",
      "heads (the element-wise minimum of the GPUs' lim_select_lessismore_local_keys outputs). Writes what",
      "lim_select_lessismore writes, identically on every GPU given the same keys. Sequence lengths outside",
      "[1, max_seqlen] are reported by lim_check_device_status.",
    ],
    params: [
      ...keysArray("in", "[batch, >= max_seqlen] first-occurrence keys of all heads"),
      tensor("seqlens", "i32", "in", "[batch] tokens of each request, the new one included", { shape: ["batch"] }),
      ...setOut,
      batch,
      totalQHeads,
      maxSeqlen,
      ...budgetSplit,
      stream,
    ],
  },
  {
    name: "lim_select_lessismore_workspace_size",
    doc: ["Bytes of workspace lim_select_lessismore needs (also checks the budget, ratio and sinks)."],
    params: [
      batch, size("num_q_heads", "query heads"), size("max_seqlen", "upper bound of seqlens"), size("budget", "K"),
      { kind: "float", name: "recency_ratio", doc: "r" }, size("sinks", "S", 0), bytesOut,
    ],
    requires: [rowsFit],
  },
  {
    name: "lim_select_per_head",
    doc: [
      "TidalDecode-style selection (the baseline LessIsMore is compared with): each query head's own top `budget`",
      "tokens of all n (same ranking rule as lim_select_lessismore, no sinks or recency window), written in",
      "ascending order to indices[b, h, :]; counts[b, h] = min(budget, n). Entries past the count are -1.",
    ],
    params: [
      ...logitsIn,
      tensor("indices", "i32", "out", "[batch, num_q_heads, >= budget] output positions, ascending per head", {
        shape: ["batch", "num_q_heads", "budget"], strides: ["indices_stride_b", "indices_stride_h", "1"],
      }),
      stride("indices_stride_b", "element stride between requests of indices (num_q_heads * indices_stride_h)"),
      stride("indices_stride_h", "element stride between heads of indices (at least budget)"),
      tensor("counts", "i32", "out", "optional [batch, num_q_heads] output, contiguous: positions written per head; NULL to skip", { shape: ["batch", "num_q_heads"], optional: true }),
      batch, size("num_q_heads", "query heads"), size("max_seqlen", "upper bound of seqlens"), size("budget", "K, tokens per head"),
      stream,
    ],
    requires: [
      headsConsecutive,
      rowsFit,
      {
        check: "indices_stride_b == indices_stride_h * num_q_heads",
        message: "indices_stride_b ({indices_stride_b}) must equal num_q_heads * indices_stride_h ({indices_stride_h}): the heads of a request are consecutive rows",
      },
    ],
  },
  {
    name: "lim_topk",
    doc: [
      "Exact top-k of each row of a float matrix by radix select (not a sort of the row): the k largest values,",
      "ties to the lower position, NaN below every number. order LIM_ORDER_RANK writes them largest first,",
      "LIM_ORDER_POSITION in ascending position order. Rows shorter than k are padded with index -1.",
    ],
    params: [
      tensor("values", "f32", "in", "[rows, length] input", { shape: ["rows", "length"], strides: ["values_stride", "1"] }),
      stride("values_stride", "element stride between rows of values"),
      tensor("lengths", "i32", "in", "optional [rows] valid length of each row (at most length); NULL: every row has length", { shape: ["rows"], optional: true }),
      tensor("indices", "i32", "out", "[rows, >= k] output positions", { shape: ["rows", "k"], strides: ["indices_stride", "1"] }),
      stride("indices_stride", "element stride between rows of indices"),
      tensor("out_values", "f32", "out", "optional [rows, >= k] output values, strided like indices; NULL to skip", { shape: ["rows", "k"], strides: ["indices_stride", "1"], optional: true }),
      size("rows", "rows"),
      size("length", "columns of values"),
      size("k", "values to keep per row (1 .. the largest generated top-k budget)"),
      {
        kind: "enum", name: "order", doc: "LIM_ORDER_RANK (largest first) or LIM_ORDER_POSITION (ascending positions)",
        values: { rank: { constant: "LIM_ORDER_RANK", value: 0 }, position: { constant: "LIM_ORDER_POSITION", value: 1 } },
      },
      stream,
    ],
  },
  {
    name: "lim_attention_recall",
    doc: [
      "Attention recall of index sets: recall[b, h] = sum over j in the set of exp(logits[b, h, j] - lse[b, h]),",
      "the softmax mass head h puts on the set. sets = 1 means one set per request shared by all heads",
      "(lim_select_lessismore's output); sets = num_q_heads means one per head (lim_select_per_head's).",
    ],
    params: [
      tensor("logits", "f32", "in", "[batch, num_q_heads, logits_capacity] scaled logits", {
        shape: ["batch", "num_q_heads", "logits_capacity"], strides: ["logits_stride_b", "logits_stride_h", "1"],
      }),
      stride("logits_stride_b", "element stride between requests of logits"),
      stride("logits_stride_h", "element stride between heads of logits"),
      size("logits_capacity", "valid positions per row of logits; indices at or past it are reported as bad input"),
      tensor("lse", "f32", "in", "[batch, num_q_heads] natural log-sum-exp of the full attention, contiguous", { shape: ["batch", "num_q_heads"] }),
      tensor("indices", "i32", "in", "[batch, sets, >= max_count] positions", { shape: ["batch", "sets", "max_count"], strides: ["indices_stride_b", "indices_stride_s", "1"] }),
      stride("indices_stride_b", "element stride between requests of indices"),
      stride("indices_stride_s", "element stride between the sets of a request"),
      tensor("counts", "i32", "in", "[batch, sets] entries used in each set, contiguous", { shape: ["batch", "sets"] }),
      tensor("recall", "f32", "out", "[batch, num_q_heads] output, contiguous", { shape: ["batch", "num_q_heads"] }),
      batch, size("num_q_heads", "query heads"), size("sets", "1 or num_q_heads"),
      size("max_count", "capacity of each set (counts above it are bad input)"),
      stream,
    ],
    requires: [{ check: "sets == 1 || sets == num_q_heads", message: "sets must be 1 (shared) or num_q_heads ({num_q_heads}, per head), got {sets}" }],
  },
];

/** Index lists in the engines' form. */
const lists: readonly AbiFunction[] = [
  {
    name: "lim_count_indices",
    doc: [
      "Counts the entries of index lists padded with -1, the form engines' sparse attention passes (DeepSeek sparse",
      "attention, FlashMLA): counts[b, l] = the position of the first -1 in indices[b, l, :max_count], or max_count",
      "when there is none. Runs on the device, so a captured graph counts each step's lists; the counts then serve",
      "lim_sparse_attention (lists = 1) or lim_sparse_attention_per_head (lists = num_q_heads). A negative entry other",
      "than -1, or an entry after the first -1 that is not -1, is reported by lim_check_device_status.",
    ],
    params: [
      tensor("indices", "i32", "in", "[batch, lists, >= max_count] positions, padded with -1", {
        shape: ["batch", "lists", "max_count"], strides: ["indices_stride_b", "indices_stride_l", "1"],
      }),
      stride("indices_stride_b", "element stride between requests of indices"),
      stride("indices_stride_l", "element stride between the lists of a request"),
      tensor("counts", "i32", "out", "[batch, lists] output: entries before the padding, contiguous", { shape: ["batch", "lists"] }),
      batch,
      size("lists", "index lists per request (1: shared by all heads; num_q_heads: one per head)"),
      size("max_count", "capacity of each list"),
      stream,
    ],
  },
];

const cacheFunctions: readonly AbiFunction[] = [
  {
    name: "lim_advance_seqlens",
    doc: [
      "Counts one new token per request on the device: seqlens[b] += 1. A length that would pass capacity is",
      "left as it is and reported by lim_check_device_status. Call it before lim_append_kv in each decode step.",
    ],
    params: [
      tensor("seqlens", "i32", "out", "[batch] tokens in each request's cache (read and written)", { shape: ["batch"] }),
      size("batch", "requests"),
      size("capacity", "tokens the caches hold per request"),
      stream,
    ],
  },
  {
    name: "lim_append_kv",
    doc: [
      "Writes each request's new key and value at position seqlens[b] - 1 of its cache, for every KV head.",
      "Positions outside the cache are skipped and reported by lim_check_device_status.",
    ],
    params: [
      tensor("k_new", "kv", "in", "[batch, num_kv_heads, head_dim] the new token's keys, contiguous", { shape: ["batch", "num_kv_heads", "head_dim"] }),
      tensor("v_new", "kv", "in", "[batch, num_kv_heads, head_dim] the new token's values, contiguous", { shape: ["batch", "num_kv_heads", "head_dim"] }),
      tensor("seqlens", "i32", "in", "[batch] tokens in each cache, the new one included", { shape: ["batch"] }),
      tensor("k_cache", "kv", "out", "keys [batch, num_kv_heads, cache_capacity, head_dim]", {
        shape: ["batch", "num_kv_heads", "cache_capacity", "head_dim"], strides: ["cache_stride_b", "cache_stride_h", "cache_stride_n", "1"],
      }),
      tensor("v_cache", "kv", "out", "values, laid out like k_cache", {
        shape: ["batch", "num_kv_heads", "cache_capacity", "head_dim"], strides: ["cache_stride_b", "cache_stride_h", "cache_stride_n", "1"],
      }),
      stride("cache_stride_b", "element stride between requests of both caches"),
      stride("cache_stride_h", "element stride between heads of both caches"),
      stride("cache_stride_n", "element stride between tokens of both caches"),
      batch, size("num_kv_heads", "KV heads", 1, GRID_YZ), headDim, size("cache_capacity", "tokens the caches hold"),
      kvDtype,
      stream,
    ],
  },
  {
    name: "lim_synthesize_kv",
    doc: [
      "Fills positions [0, seqlens[b]) of one layer's K and V caches with structured synthetic data",
      "(attention sinks, per-head heavy hitters, recent tokens; see dsl/kernels/synthetic.ts), a pure function",
      "of (seed, layer, position). For benchmarks and tests without model weights.",
    ],
    params: [
      tensor("k_cache", "kv", "out", "keys [batch, num_kv_heads, cache_capacity, head_dim], contiguous", { shape: ["batch", "num_kv_heads", "cache_capacity", "head_dim"] }),
      tensor("v_cache", "kv", "out", "values, laid out like k_cache", { shape: ["batch", "num_kv_heads", "cache_capacity", "head_dim"] }),
      tensor("seqlens", "i32", "in", "[batch] positions to fill per request", { shape: ["batch"] }),
      batch, size("num_kv_heads", "KV heads", 1, GRID_YZ), headDim, size("cache_capacity", "tokens the caches hold"),
      kvDtype,
      { kind: "u32", name: "seed", doc: "the data's seed" },
      size("layer", "the layer (part of every element's hash)", 0),
      size("recent_window", "the last recent_window tokens of each prompt are recent tokens", 0),
      stream,
    ],
  },
  {
    name: "lim_synthesize_step",
    doc: [
      "One decode step of synthetic data for one layer: every query head's query, and the new token's key and",
      "value (position seqlens[b] - 1), consistent with lim_synthesize_kv's structure. Keyed by that position, so",
      "a captured step makes new data at every replay.",
    ],
    params: [
      tensor("q", "kv", "out", "[batch, num_q_heads, head_dim] output, contiguous", { shape: ["batch", "num_q_heads", "head_dim"] }),
      tensor("k_new", "kv", "out", "[batch, num_kv_heads, head_dim] output, contiguous", { shape: ["batch", "num_kv_heads", "head_dim"] }),
      tensor("v_new", "kv", "out", "[batch, num_kv_heads, head_dim] output, contiguous", { shape: ["batch", "num_kv_heads", "head_dim"] }),
      tensor("seqlens", "i32", "in", "[batch] tokens including the new one", { shape: ["batch"] }),
      batch, numQHeads, numKvHeads, headDim,
      kvDtype,
      { kind: "u32", name: "seed", doc: "the data's seed" },
      size("layer", "the layer", 0),
      stream,
    ],
    requires: [headsDivide],
  },
];

const contiguous: readonly AbiFunction[] = [...core, ...attention, ...selection, ...lists, ...cacheFunctions];

const sixteenBit: readonly AbiFunction[] = [...contiguous, ...pagedFunctions(contiguous)];

export const ABI_FUNCTIONS: readonly AbiFunction[] = [...sixteenBit, ...fp8Functions(sixteenBit)];
