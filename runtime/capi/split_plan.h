// How the rows of one (request, head block) are split across blocks. Plain arithmetic, apart from the rest of
// the C ABI (no CUDA), so that a host program can test it (test/build/split_plan.test.ts).

#pragma once

#include <cstdint>

namespace lim_capi {

/** How a sequence of up to max_len tokens is split across blocks: splits blocks of chunk tokens each. */
struct SplitPlan {
  int splits;
  int chunk;
};

/**
 * Splits only when `blocks` (one per request and head) would leave room for more resident blocks and max_len
 * is at least min_split_len: as many splits as keep the grid within one wave, with chunks of at least
 * min_chunk tokens rounded to a multiple of granule; and, where max_chunk > 0, as many more as keep chunks
 * within max_chunk tokens (even if that takes more than one wave).
 */
inline SplitPlan plan_split(int64_t blocks, int max_len, int resident_blocks, int min_split_len, int min_chunk, int granule, int max_chunk) {
  SplitPlan plan{1, max_len};
  if (max_len < min_split_len) return plan;
  // Never more blocks than fit at once: a second, partial wave of equal-sized blocks would idle most of
  // the GPU while it runs (measured: B 32, N 32K ran at 2.6 TB/s with 1.3 waves).
  int64_t splits = blocks > 0 ? resident_blocks / blocks : 1;
  const int64_t max_splits = (max_len + min_chunk - 1) / min_chunk;
  if (splits > max_splits) splits = max_splits;
  if (max_chunk > 0 && splits < (max_len + max_chunk - 1) / max_chunk) splits = (max_len + max_chunk - 1) / max_chunk;
  if (splits <= 1) return plan;
  int64_t chunk = (max_len + splits - 1) / splits;
  chunk = (chunk + granule - 1) / granule * granule;
  plan.chunk = static_cast<int>(chunk);
  plan.splits = static_cast<int>((max_len + chunk - 1) / chunk);
  return plan;
}

}  // namespace lim_capi
