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
      { ctype: "void*", name: "out", doc: "output [batch, num_q_heads, head_dim], same dtype as q" },
      { ctype: "int64_t", name: "out_stride_b", doc: "element stride between requests of out" },
      { ctype: "int64_t", name: "out_stride_h", doc: "element stride between heads of out" },
      { ctype: "float*", name: "lse", doc: "optional [batch, num_q_heads] natural-log log-sum-exp of the scaled scores, contiguous; NULL to skip" },
      { ctype: "int32_t", name: "batch", doc: "requests" },
      { ctype: "int32_t", name: "num_q_heads", doc: "query heads" },
      { ctype: "int32_t", name: "num_kv_heads", doc: "KV heads (divides num_q_heads)" },
      { ctype: "int32_t", name: "head_dim", doc: "head dimension" },
      { ctype: "int32_t", name: "cache_capacity", doc: "tokens the caches hold per request and head (Nmax)" },
      { ctype: "int32_t", name: "max_seqlen", doc: "an upper bound of seqlens (at most cache_capacity); plans the split" },
      { ctype: "lim_dtype", name: "dtype", doc: "LIM_DTYPE_BF16 or LIM_DTYPE_FP16" },
      { ctype: "float", name: "softmax_scale", doc: "scale of q . k, usually 1/sqrt(head_dim)" },
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
];
