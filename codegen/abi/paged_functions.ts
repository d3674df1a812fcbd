// The paged versions of the cache functions, derived from the contiguous ones (codegen/abi/functions.ts) so
// that every argument they share is described once: each K/V cache [batch, heads, capacity, head_dim]
// becomes a pool of pages [num_pages, page_size, heads, head_dim] (NHD) or [num_pages, heads, page_size,
// head_dim] (HND), in its strides, and the cache capacity becomes the block table that maps each request's
// positions to pages (vLLM's block_table; SGLang's token pool is page_size 1). Positions everywhere else
// (seqlens, index lists) stay logical. Also the engines' own cache write: new tokens to the slots an engine
// mapped them to (vLLM's slot_mapping).

import type { AbiFunction, AbiParam, Requirement, TensorParam } from "./params.js";

const PAGED_DOC = [
  "Paged caches: k_cache and v_cache are pools of num_pages pages of page_size positions (a power of two) of",
  "every KV head, NHD [num_pages, page_size, num_kv_heads, head_dim] or HND [num_pages, num_kv_heads, page_size,",
  "head_dim] as their strides say. Position n of request b lies in page block_table[r][n / page_size] at slot",
  "n % page_size, r = b or block_table_rows[b] (a table shared by more requests than the batch, such as SGLang's",
  "req_to_token, read in place); a table entry outside [0, num_pages) or a row outside [0, num_table_rows) is",
  "reported by lim_check_device_status and never read.",
];

/** The prefix of a cache's stride names: k for k_stride_b, cache for shared or absent (contiguous-only) strides. */
const stridePrefix = (cache: TensorParam): string => (cache.strides ? cache.strides[0].replace(/_stride_b$/, "") : "cache");

/** The pool version of a contiguous cache argument. */
function pool(cache: TensorParam): TensorParam {
  const prefix = stridePrefix(cache);
  const doc = cache.doc.replace(/\[batch, num_kv_heads, cache_capacity, head_dim\](, contiguous)?/, "pool [num_pages, page_size, num_kv_heads, head_dim] (NHD; HND in the strides)");
  return { ...cache, doc, shape: ["num_pages", "page_size", "num_kv_heads", "head_dim"], strides: [`${prefix}_stride_page`, `${prefix}_stride_slot`, `${prefix}_stride_h`, "1"] };
}

/** The stride arguments of a pool, named after the contiguous cache's (prefix_stride_b, _h, _n). */
function poolStrides(name: string): AbiParam[] {
  const prefix = name.replace(/_stride_[bhn]$/, "");
  const of = prefix === "cache" ? "both pools" : `${prefix}_cache`;
  if (name.endsWith("_stride_b")) {
    return [
      { kind: "stride", name: `${prefix}_stride_page`, doc: `element stride between pages of ${of}` },
      { kind: "stride", name: `${prefix}_stride_slot`, doc: `element stride between the positions of a page of ${of}` },
      { kind: "stride", name: `${prefix}_stride_h`, doc: `element stride between heads of ${of}` },
    ];
  }
  return []; // _h and _n: their roles moved into the three above
}

/** The block table and the pool sizes, in place of cache_capacity. */
const blockTable: readonly AbiParam[] = [
  {
    kind: "tensor", name: "block_table", element: "i32", access: "in",
    doc: "[num_table_rows, >= max_pages_per_seq] page ids: position n of request b lies in page block_table[b][n / page_size] (row block_table_rows[b] if given)",
    shape: ["num_table_rows", "max_pages_per_seq"], strides: ["block_table_stride", "1"],
  },
  { kind: "stride", name: "block_table_stride", doc: "element stride between rows of block_table" },
  {
    kind: "tensor", name: "block_table_rows", element: "i32", access: "in", optional: true,
    doc: "optional [batch] the row of block_table holding each request's pages (SGLang's req_pool_indices over req_to_token); NULL: row b",
    shape: ["batch"],
  },
  { kind: "size", name: "num_table_rows", doc: "rows of block_table (at least batch without block_table_rows); a row of block_table_rows outside [0, num_table_rows) is reported by lim_check_device_status", min: 1 },
  { kind: "size", name: "num_pages", doc: "pages in each pool", min: 1 },
  { kind: "size", name: "page_size", doc: "positions per page: a power of two (1 for a token pool such as SGLang's)", min: 1, max: 1 << 20 },
  { kind: "size", name: "max_pages_per_seq", doc: "columns of block_table: a request holds at most max_pages_per_seq * page_size positions", min: 1 },
];

const tableRowPerRequest: Requirement = {
  check: "block_table_rows != nullptr || num_table_rows >= batch",
  message: "block_table has num_table_rows ({num_table_rows}) rows, fewer than batch ({batch}): pass block_table_rows to name each request's row, or a row per request",
};
const pageSizePowerOfTwo: Requirement = { check: "(page_size & (page_size - 1)) == 0", message: "page_size ({page_size}) must be a power of two" };
const seqlenFitsPages: Requirement = {
  check: "max_seqlen <= static_cast<int64_t>(max_pages_per_seq) * page_size",
  message: "max_seqlen ({max_seqlen}) must be at most max_pages_per_seq ({max_pages_per_seq}) * page_size ({page_size})",
};

/** The paged version of a contiguous cache function. */
function paged(fn: AbiFunction): AbiFunction {
  const caches = fn.params.filter((p): p is TensorParam => p.kind === "tensor" && p.shape?.[2] === "cache_capacity");
  const cacheStrides = new Set(caches.flatMap((c) => c.strides ?? []));
  const params = fn.params.flatMap((p): AbiParam[] => {
    if (p.kind === "tensor" && caches.includes(p)) {
      // Caches the contiguous function takes without strides get the pools' strides after the last of them.
      return p === caches.at(-1) && !p.strides ? [pool(p), ...poolStrides("cache_stride_b")] : [pool(p)];
    }
    if (p.kind === "stride" && cacheStrides.has(p.name)) return poolStrides(p.name);
    if (p.name === "cache_capacity") return [...blockTable];
    if (p.name === "max_seqlen") return [{ ...p, doc: "an upper bound of seqlens (at most max_pages_per_seq * page_size)" }];
    if (p.kind === "workspace") return [{ ...p, doc: pagedNames(p.doc) }];
    return [p];
  });
  const hasMaxSeqlen = params.some((p) => p.name === "max_seqlen");
  const requires = [
    ...(fn.requires ?? []).filter((r) => !r.check.includes("cache_capacity")),
    pageSizePowerOfTwo,
    tableRowPerRequest,
    ...(hasMaxSeqlen ? [seqlenFitsPages] : []),
  ];
  const name = fn.name.replace(/^lim_/, "lim_paged_");
  return { ...fn, name, doc: [...fn.doc.map(pagedNames), ...PAGED_DOC], params, requires };
}

/** Text naming the contiguous workspace queries, naming the paged ones instead. */
const pagedNames = (text: string): string => text.replace(/lim_(decode_attention|sparse_attention)_workspace_size/g, "lim_paged_$1_workspace_size");

/** The paged workspace-size query of an attention function: same arguments, the paged variant's plan. */
function pagedWorkspace(fn: AbiFunction): AbiFunction {
  return { ...fn, name: fn.name.replace(/^lim_/, "lim_paged_"), doc: fn.doc.map((line) => line.replace(/lim_(decode_attention|sparse_attention)\b/g, "lim_paged_$1")) };
}

const PAGED = ["lim_decode_attention", "lim_sparse_attention", "lim_sparse_attention_per_head", "lim_gather_kv", "lim_append_kv", "lim_synthesize_kv"];
const PAGED_WORKSPACE = ["lim_decode_attention_workspace_size", "lim_sparse_attention_workspace_size"];

/** vLLM's cache write: new tokens' K and V to the slots the engine chose (page * page_size + offset). */
const writeKvSlots: AbiFunction = {
  name: "lim_write_kv_slots",
  doc: [
    "Writes new tokens' keys and values into paged pools at the slots an engine mapped them to, as vLLM's cache",
    "write does: token t goes to page slot_mapping[t] / page_size, position slot_mapping[t] % page_size of that",
    "page, for every KV head. A slot of -1 (padding) is skipped; any other slot outside the pools is skipped",
    "and reported by lim_check_device_status.",
  ],
  params: [
    { kind: "tensor", name: "k_new", element: "kv", access: "in", doc: "[num_tokens, num_kv_heads, head_dim] new keys", shape: ["num_tokens", "num_kv_heads", "head_dim"], strides: ["new_stride_t", "new_stride_h", "1"] },
    { kind: "tensor", name: "v_new", element: "kv", access: "in", doc: "[num_tokens, num_kv_heads, head_dim] new values, laid out like k_new", shape: ["num_tokens", "num_kv_heads", "head_dim"], strides: ["new_stride_t", "new_stride_h", "1"] },
    { kind: "stride", name: "new_stride_t", doc: "element stride between tokens of k_new and v_new" },
    { kind: "stride", name: "new_stride_h", doc: "element stride between heads of k_new and v_new" },
    { kind: "tensor", name: "slot_mapping", element: "i32", access: "in", doc: "[num_tokens] each token's slot, page * page_size + offset; -1 skips it", shape: ["num_tokens"] },
    { kind: "tensor", name: "k_cache", element: "kv", access: "out", doc: "key pool [num_pages, page_size, num_kv_heads, head_dim] (NHD; HND in the strides)", shape: ["num_pages", "page_size", "num_kv_heads", "head_dim"], strides: ["cache_stride_page", "cache_stride_slot", "cache_stride_h", "1"] },
    { kind: "tensor", name: "v_cache", element: "kv", access: "out", doc: "value pool, laid out like k_cache", shape: ["num_pages", "page_size", "num_kv_heads", "head_dim"], strides: ["cache_stride_page", "cache_stride_slot", "cache_stride_h", "1"] },
    { kind: "stride", name: "cache_stride_page", doc: "element stride between pages of both pools" },
    { kind: "stride", name: "cache_stride_slot", doc: "element stride between the positions of a page of both pools" },
    { kind: "stride", name: "cache_stride_h", doc: "element stride between heads of both pools" },
    { kind: "size", name: "num_tokens", doc: "new tokens (the entries of slot_mapping)", min: 1 },
    { kind: "size", name: "num_kv_heads", doc: "KV heads", min: 1, max: 65535 },
    { kind: "size", name: "head_dim", doc: "head dimension", min: 1 },
    { kind: "size", name: "num_pages", doc: "pages in each pool", min: 1 },
    { kind: "size", name: "page_size", doc: "positions per page", min: 1, max: 1 << 20 },
    { kind: "dtype", name: "dtype", doc: "LIM_DTYPE_BF16 or LIM_DTYPE_FP16", allowed: ["bf16", "fp16"] },
    { kind: "stream", name: "stream", doc: "stream the kernels run on (0: the legacy default stream)" },
  ],
};

/** The paged functions, after the contiguous ones they derive from. */
export function pagedFunctions(contiguous: readonly AbiFunction[]): AbiFunction[] {
  const find = (name: string) => {
    const fn = contiguous.find((f) => f.name === name);
    if (!fn) throw new Error(`codegen/abi/paged_functions.ts: no function ${name} to derive a paged version from`);
    return fn;
  };
  return [...PAGED.map((n) => paged(find(n))), ...PAGED_WORKSPACE.map((n) => pagedWorkspace(find(n))), writeKvSlots];
}
