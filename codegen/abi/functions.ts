// The public C functions of the library, one entry per function: rendered into generated/include/lim.h
// (templates/abi/lim.h.hbs) and implemented by the C ABI glue in runtime/capi. Keeping the declarations
// here, as data, gives every function one documented signature that the C++ compiler checks against its
// definition.

export interface AbiParam {
  readonly ctype: string;
  readonly name: string;
  readonly doc: string;
}

export interface AbiFunction {
  readonly name: string;
  /** Paragraphs of the doc comment. */
  readonly doc: readonly string[];
  readonly params: readonly AbiParam[];
}

const stream: AbiParam = { ctype: "cudaStream_t", name: "stream", doc: "stream the kernels run on (0: the legacy default stream)" };

/** q, the caches and seqlens: the inputs every attention function takes. */
const attentionInputs: readonly AbiParam[] = [
  { ctype: "const void*", name: "q", doc: "queries [batch, num_q_heads, head_dim]" },
  { ctype: "int64_t", name: "q_stride_b", doc: "element stride between requests of q" },
  { ctype: "int64_t", name: "q_stride_h", doc: "element stride between heads of q" },
  { ctype: "const void*", name: "k_cache", doc: "keys [batch, num_kv_heads, cache_capacity, head_dim]" },
  { ctype: "int64_t", name: "k_stride_b", doc: "element stride between requests of k_cache" },
  { ctype: "int64_t", name: "k_stride_h", doc: "element stride between heads of k_cache" },
  { ctype: "int64_t", name: "k_stride_n", doc: "element stride between tokens of k_cache" },
  { ctype: "const void*", name: "v_cache", doc: "values, laid out like k_cache" },
  { ctype: "int64_t", name: "v_stride_b", doc: "element stride between requests of v_cache" },
  { ctype: "int64_t", name: "v_stride_h", doc: "element stride between heads of v_cache" },
  { ctype: "int64_t", name: "v_stride_n", doc: "element stride between tokens of v_cache" },
  { ctype: "const int32_t*", name: "seqlens", doc: "[batch] tokens in each request's cache, the new one included (device memory)" },
];

/** The output, the optional log-sum-exp, the sizes, dtype and scale of every attention function. */
const attentionOutputs: readonly AbiParam[] = [
  { ctype: "void*", name: "out", doc: "output [batch, num_q_heads, head_dim], same dtype as q" },
  { ctype: "int64_t", name: "out_stride_b", doc: "element stride between requests of out" },
  { ctype: "int64_t", name: "out_stride_h", doc: "element stride between heads of out" },
  { ctype: "float*", name: "lse", doc: "optional [batch, num_q_heads] natural-log log-sum-exp of the scaled scores, contiguous; NULL to skip" },
];

const attentionSizes: readonly AbiParam[] = [
  { ctype: "int32_t", name: "batch", doc: "requests" },
  { ctype: "int32_t", name: "num_q_heads", doc: "query heads" },
  { ctype: "int32_t", name: "num_kv_heads", doc: "KV heads (divides num_q_heads)" },
  { ctype: "int32_t", name: "head_dim", doc: "head dimension" },
  { ctype: "int32_t", name: "cache_capacity", doc: "tokens the caches hold per request and head (Nmax)" },
  { ctype: "int32_t", name: "max_seqlen", doc: "an upper bound of seqlens (at most cache_capacity)" },
];

const attentionTail: readonly AbiParam[] = [
  { ctype: "lim_dtype", name: "dtype", doc: "LIM_DTYPE_BF16 or LIM_DTYPE_FP16" },
  { ctype: "float", name: "softmax_scale", doc: "scale of q . k, usually 1/sqrt(head_dim)" },
];

const logitsIn: readonly AbiParam[] = [
  { ctype: "const float*", name: "logits", doc: "[batch, num_q_heads, >= max_seqlen] scaled logits of the selection layer (lim_decode_attention's logits output)" },
  { ctype: "int64_t", name: "logits_stride_b", doc: "element stride between requests of logits" },
  { ctype: "int64_t", name: "logits_stride_h", doc: "element stride between heads of logits (at least max_seqlen)" },
  { ctype: "const int32_t*", name: "seqlens", doc: "[batch] tokens of each request, the new one included (device memory)" },
];

export const ABI_FUNCTIONS: readonly AbiFunction[] = [
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
      { ctype: "float*", name: "logits", doc: "optional [batch, num_q_heads, >= max_seqlen] fp32 scaled logits q.k * softmax_scale of every token (selection layers); NULL to skip" },
      { ctype: "int64_t", name: "logits_stride_b", doc: "element stride between requests of logits" },
      { ctype: "int64_t", name: "logits_stride_h", doc: "element stride between heads of logits (at least max_seqlen)" },
      ...attentionSizes,
      ...attentionTail,
      { ctype: "void*", name: "workspace", doc: "device scratch of lim_decode_attention_workspace_size bytes (16-byte aligned); may be NULL when that size is 0" },
      { ctype: "size_t", name: "workspace_bytes", doc: "size of workspace" },
      stream,
    ],
  },
  {
    name: "lim_decode_attention_workspace_size",
    doc: [
      "Bytes of workspace lim_decode_attention needs for these sizes on the current device (0 when the sequence",
      "is not split). The same arguments always give the same plan, so a CUDA graph can be captured once.",
    ],
    params: [
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "num_q_heads", doc: "query heads" },
      { ctype: "int32_t", name: "num_kv_heads", doc: "KV heads" },
      { ctype: "int32_t", name: "head_dim", doc: "head dimension" },
      { ctype: "int32_t", name: "max_seqlen", doc: "upper bound of seqlens" },
      { ctype: "lim_dtype", name: "dtype", doc: "element type" },
      { ctype: "size_t*", name: "bytes", doc: "receives the size" },
    ],
  },
  {
    name: "lim_select_lessismore",
    doc: [
      "LessIsMore token selection for every request of a batch separately (DESIGN.md section 2). With",
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
      { ctype: "int32_t*", name: "indices", doc: "[batch, >= budget] output positions, ascending" },
      { ctype: "int64_t", name: "indices_stride_b", doc: "element stride between requests of indices (at least budget)" },
      { ctype: "int32_t*", name: "counts", doc: "[batch] output: positions written for each request" },
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "num_q_heads", doc: "query heads that rank tokens" },
      { ctype: "int32_t", name: "max_seqlen", doc: "an upper bound of seqlens" },
      { ctype: "int32_t", name: "budget", doc: "K, the tokens kept per request (at least sinks + 2)" },
      { ctype: "float", name: "recency_ratio", doc: "r in [0, 1): the share of the budget given to the most recent tokens (0.25 in the paper)" },
      { ctype: "int32_t", name: "sinks", doc: "S >= 0 first tokens always kept (4 in the paper)" },
      { ctype: "void*", name: "workspace", doc: "device scratch of lim_select_lessismore_workspace_size bytes (16-byte aligned)" },
      { ctype: "size_t", name: "workspace_bytes", doc: "size of workspace" },
      stream,
    ],
  },
  {
    name: "lim_select_lessismore_workspace_size",
    doc: ["Bytes of workspace lim_select_lessismore needs (also checks the budget, ratio and sinks)."],
    params: [
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "num_q_heads", doc: "query heads" },
      { ctype: "int32_t", name: "max_seqlen", doc: "upper bound of seqlens" },
      { ctype: "int32_t", name: "budget", doc: "K" },
      { ctype: "float", name: "recency_ratio", doc: "r" },
      { ctype: "int32_t", name: "sinks", doc: "S" },
      { ctype: "size_t*", name: "bytes", doc: "receives the size" },
    ],
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
      { ctype: "int32_t*", name: "indices", doc: "[batch, num_q_heads, >= budget] output positions, ascending per head" },
      { ctype: "int64_t", name: "indices_stride_b", doc: "element stride between requests of indices" },
      { ctype: "int64_t", name: "indices_stride_h", doc: "element stride between heads of indices (at least budget)" },
      { ctype: "int32_t*", name: "counts", doc: "optional [batch, num_q_heads] output, contiguous: positions written per head; NULL to skip" },
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "num_q_heads", doc: "query heads" },
      { ctype: "int32_t", name: "max_seqlen", doc: "upper bound of seqlens" },
      { ctype: "int32_t", name: "budget", doc: "K, tokens per head" },
      stream,
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
      { ctype: "const float*", name: "values", doc: "[rows, length] input" },
      { ctype: "int64_t", name: "values_stride", doc: "element stride between rows of values" },
      { ctype: "const int32_t*", name: "lengths", doc: "optional [rows] valid length of each row (at most length); NULL: every row has length" },
      { ctype: "int32_t*", name: "indices", doc: "[rows, >= k] output positions" },
      { ctype: "int64_t", name: "indices_stride", doc: "element stride between rows of indices" },
      { ctype: "float*", name: "out_values", doc: "optional [rows, >= k] output values, strided like indices; NULL to skip" },
      { ctype: "int32_t", name: "rows", doc: "rows" },
      { ctype: "int32_t", name: "length", doc: "columns of values" },
      { ctype: "int32_t", name: "k", doc: "values to keep per row (1 .. the largest generated top-k budget)" },
      { ctype: "int32_t", name: "order", doc: "LIM_ORDER_RANK (0) or LIM_ORDER_POSITION (1)" },
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
      { ctype: "const float*", name: "logits", doc: "[batch, num_q_heads, logits_capacity] scaled logits" },
      { ctype: "int64_t", name: "logits_stride_b", doc: "element stride between requests of logits" },
      { ctype: "int64_t", name: "logits_stride_h", doc: "element stride between heads of logits" },
      { ctype: "int32_t", name: "logits_capacity", doc: "valid positions per row of logits; indices at or past it are reported as bad input" },
      { ctype: "const float*", name: "lse", doc: "[batch, num_q_heads] natural log-sum-exp of the full attention, contiguous" },
      { ctype: "const int32_t*", name: "indices", doc: "[batch, sets, >= max_count] positions" },
      { ctype: "int64_t", name: "indices_stride_b", doc: "element stride between requests of indices" },
      { ctype: "int64_t", name: "indices_stride_s", doc: "element stride between the sets of a request" },
      { ctype: "const int32_t*", name: "counts", doc: "[batch, sets] entries used in each set, contiguous" },
      { ctype: "float*", name: "recall", doc: "[batch, num_q_heads] output, contiguous" },
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "num_q_heads", doc: "query heads" },
      { ctype: "int32_t", name: "sets", doc: "1 or num_q_heads" },
      { ctype: "int32_t", name: "max_count", doc: "capacity of each set (counts above it are bad input)" },
      stream,
    ],
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
      { ctype: "const int32_t*", name: "indices", doc: "[batch, >= max_count] ascending positions" },
      { ctype: "int64_t", name: "indices_stride_b", doc: "element stride between requests of indices" },
      { ctype: "const int32_t*", name: "counts", doc: "[batch] entries used in each list, in [1, max_count]" },
      ...attentionOutputs,
      ...attentionSizes,
      { ctype: "int32_t", name: "max_count", doc: "capacity of each list (the budget K)" },
      ...attentionTail,
      { ctype: "void*", name: "workspace", doc: "device scratch of lim_sparse_attention_workspace_size bytes (16-byte aligned); may be NULL when that size is 0" },
      { ctype: "size_t", name: "workspace_bytes", doc: "size of workspace" },
      stream,
    ],
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
      { ctype: "const int32_t*", name: "indices", doc: "[batch, num_q_heads, >= max_count] ascending positions per head" },
      { ctype: "int64_t", name: "indices_stride_b", doc: "element stride between requests of indices" },
      { ctype: "int64_t", name: "indices_stride_h", doc: "element stride between heads of indices" },
      { ctype: "const int32_t*", name: "counts", doc: "[batch, num_q_heads] entries used in each list, contiguous" },
      ...attentionOutputs,
      ...attentionSizes,
      { ctype: "int32_t", name: "max_count", doc: "capacity of each list (the budget K)" },
      ...attentionTail,
      { ctype: "void*", name: "workspace", doc: "device scratch of lim_sparse_attention_workspace_size bytes with per_head = 1" },
      { ctype: "size_t", name: "workspace_bytes", doc: "size of workspace" },
      stream,
    ],
  },
  {
    name: "lim_sparse_attention_workspace_size",
    doc: ["Bytes of workspace lim_sparse_attention (per_head = 0) or lim_sparse_attention_per_head (per_head = 1) needs."],
    params: [
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "num_q_heads", doc: "query heads" },
      { ctype: "int32_t", name: "num_kv_heads", doc: "KV heads" },
      { ctype: "int32_t", name: "head_dim", doc: "head dimension" },
      { ctype: "int32_t", name: "max_count", doc: "capacity of each list" },
      { ctype: "lim_dtype", name: "dtype", doc: "element type" },
      { ctype: "int32_t", name: "per_head", doc: "0: one list per request; 1: one per query head" },
      { ctype: "size_t*", name: "bytes", doc: "receives the size" },
    ],
  },
  {
    name: "lim_gather_kv",
    doc: [
      "Copies the K and V rows of each request's index list into compact buffers [batch, num_kv_heads, >= max_count,",
      "head_dim], for engines that keep a compact cache of the selected tokens: row i of request b is the list's",
      "i-th position. Rows past counts[b] are left as they were; bad entries are skipped and reported.",
    ],
    params: [
      { ctype: "const void*", name: "k_cache", doc: "keys [batch, num_kv_heads, cache_capacity, head_dim]" },
      { ctype: "int64_t", name: "k_stride_b", doc: "element stride between requests of k_cache" },
      { ctype: "int64_t", name: "k_stride_h", doc: "element stride between heads of k_cache" },
      { ctype: "int64_t", name: "k_stride_n", doc: "element stride between tokens of k_cache" },
      { ctype: "const void*", name: "v_cache", doc: "values, laid out like k_cache" },
      { ctype: "int64_t", name: "v_stride_b", doc: "element stride between requests of v_cache" },
      { ctype: "int64_t", name: "v_stride_h", doc: "element stride between heads of v_cache" },
      { ctype: "int64_t", name: "v_stride_n", doc: "element stride between tokens of v_cache" },
      { ctype: "const int32_t*", name: "seqlens", doc: "[batch] tokens in each request's cache" },
      { ctype: "const int32_t*", name: "indices", doc: "[batch, >= max_count] ascending positions" },
      { ctype: "int64_t", name: "indices_stride_b", doc: "element stride between requests of indices" },
      { ctype: "const int32_t*", name: "counts", doc: "[batch] entries used in each list" },
      { ctype: "void*", name: "out_k", doc: "compact keys [batch, num_kv_heads, >= max_count, head_dim]" },
      { ctype: "void*", name: "out_v", doc: "compact values, laid out like out_k" },
      { ctype: "int64_t", name: "out_stride_b", doc: "element stride between requests of out_k and out_v" },
      { ctype: "int64_t", name: "out_stride_h", doc: "element stride between heads of out_k and out_v" },
      { ctype: "int64_t", name: "out_stride_n", doc: "element stride between rows of out_k and out_v" },
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "num_kv_heads", doc: "KV heads" },
      { ctype: "int32_t", name: "head_dim", doc: "head dimension" },
      { ctype: "int32_t", name: "cache_capacity", doc: "tokens the caches hold" },
      { ctype: "int32_t", name: "max_seqlen", doc: "an upper bound of seqlens" },
      { ctype: "int32_t", name: "max_count", doc: "capacity of each list and of the compact buffers" },
      { ctype: "lim_dtype", name: "dtype", doc: "LIM_DTYPE_BF16 or LIM_DTYPE_FP16" },
      stream,
    ],
  },
  {
    name: "lim_advance_seqlens",
    doc: [
      "Counts one new token per request on the device: seqlens[b] += 1. A length that would pass capacity is",
      "left as it is and reported by lim_check_device_status. Call it before lim_append_kv in each decode step.",
    ],
    params: [
      { ctype: "int32_t*", name: "seqlens", doc: "[batch] tokens in each request's cache (device memory)" },
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "capacity", doc: "tokens the caches hold per request" },
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
      { ctype: "const void*", name: "k_new", doc: "[batch, num_kv_heads, head_dim] the new token's keys, contiguous" },
      { ctype: "const void*", name: "v_new", doc: "[batch, num_kv_heads, head_dim] the new token's values, contiguous" },
      { ctype: "const int32_t*", name: "seqlens", doc: "[batch] tokens in each cache, the new one included" },
      { ctype: "void*", name: "k_cache", doc: "keys [batch, num_kv_heads, cache_capacity, head_dim]" },
      { ctype: "void*", name: "v_cache", doc: "values, laid out like k_cache" },
      { ctype: "int64_t", name: "cache_stride_b", doc: "element stride between requests of both caches" },
      { ctype: "int64_t", name: "cache_stride_h", doc: "element stride between heads of both caches" },
      { ctype: "int64_t", name: "cache_stride_n", doc: "element stride between tokens of both caches" },
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "num_kv_heads", doc: "KV heads" },
      { ctype: "int32_t", name: "head_dim", doc: "head dimension" },
      { ctype: "int32_t", name: "cache_capacity", doc: "tokens the caches hold" },
      { ctype: "lim_dtype", name: "dtype", doc: "LIM_DTYPE_BF16 or LIM_DTYPE_FP16" },
      stream,
    ],
  },
  {
    name: "lim_synthesize_kv",
    doc: [
      "Fills positions [0, seqlens[b]) of one layer's contiguous K and V caches with structured synthetic data",
      "(attention sinks, per-head heavy hitters, recent tokens; see dsl/kernels/synthetic.ts), a pure function",
      "of (seed, layer, position). For benchmarks and tests without model weights.",
    ],
    params: [
      { ctype: "void*", name: "k_cache", doc: "keys [batch, num_kv_heads, cache_capacity, head_dim], contiguous" },
      { ctype: "void*", name: "v_cache", doc: "values, laid out like k_cache" },
      { ctype: "const int32_t*", name: "seqlens", doc: "[batch] positions to fill per request" },
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "num_kv_heads", doc: "KV heads" },
      { ctype: "int32_t", name: "head_dim", doc: "head dimension" },
      { ctype: "int32_t", name: "cache_capacity", doc: "tokens the caches hold" },
      { ctype: "lim_dtype", name: "dtype", doc: "LIM_DTYPE_BF16 or LIM_DTYPE_FP16" },
      { ctype: "uint32_t", name: "seed", doc: "the data's seed" },
      { ctype: "int32_t", name: "layer", doc: "the layer (part of every element's hash)" },
      { ctype: "int32_t", name: "recent_window", doc: "the last recent_window tokens of each prompt are recent tokens" },
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
      { ctype: "void*", name: "q", doc: "[batch, num_q_heads, head_dim] output, contiguous" },
      { ctype: "void*", name: "k_new", doc: "[batch, num_kv_heads, head_dim] output, contiguous" },
      { ctype: "void*", name: "v_new", doc: "[batch, num_kv_heads, head_dim] output, contiguous" },
      { ctype: "const int32_t*", name: "seqlens", doc: "[batch] tokens including the new one" },
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "num_q_heads", doc: "query heads" },
      { ctype: "int32_t", name: "num_kv_heads", doc: "KV heads (divides num_q_heads)" },
      { ctype: "int32_t", name: "head_dim", doc: "head dimension" },
      { ctype: "lim_dtype", name: "dtype", doc: "LIM_DTYPE_BF16 or LIM_DTYPE_FP16" },
      { ctype: "uint32_t", name: "seed", doc: "the data's seed" },
      { ctype: "int32_t", name: "layer", doc: "the layer" },
      stream,
    ],
  },
];
