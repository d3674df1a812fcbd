// lim_abi_checks.h
// Copied by `lim generate` from templates/abi/lim_abi_checks.h. Do not edit here.
//
// The kernel-independent helpers that the generated argument checks of generated/abi.cpp call: recording
// an error, alignment, the test that a strided tensor's elements do not overlap, and the test that an output's
// bytes do not overlap another argument's. C++ only, internal to the library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>

#include "lim.h"

namespace lim_capi {

/** Records the message for lim_last_error() and returns the status code (runtime/capi/core.cpp). */
int fail(int code, const std::string& message);

/** Clears the thread's last error and returns LIM_OK (runtime/capi/core.cpp). */
int ok();

/** Whether a pointer is aligned to `bytes`. */
inline bool aligned(const void* p, std::size_t bytes) { return reinterpret_cast<std::uintptr_t>(p) % bytes == 0; }

/** A pointer as text, for messages about alignment. */
inline std::string pointer_text(const void* p) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", p);
  return text;
}

/** Returns from the calling function when a check fails. */
#define LIM_CHECK(check)                            \
  do {                                              \
    if (const int lim_status_ = (check)) return lim_status_; \
  } while (0)

/**
 * The largest size argument the library takes where the ABI description names no bound of its own: no token
 * count, row count or head count is meaningful beyond 2^30, and the bound keeps the sums the planner and the
 * kernels compute in int32 (a length plus a tile, a split count times a chunk) from overflowing.
 */
constexpr int64_t kSizeMax = int64_t{1} << 30;

/**
 * The most elements a strided tensor may span: 2^48, at least 256 TB, more than any GPU holds, so that a
 * garbage stride is refused here instead of sending a kernel's 64-bit address arithmetic out of the space.
 */
constexpr double kSpanMax = 281474976710656.0;  // 2^48

/** A size argument in [min, max]. */
inline int size_in(const char* fn, const char* name, int64_t value, int64_t min, int64_t max, const char* doc) {
  if (value >= min && value <= max) return LIM_OK;
  // Against the default bound, the side that was crossed; against a bound of the argument's own, the range.
  const std::string bound = max != kSizeMax ? "in [" + std::to_string(min) + ", " + std::to_string(max) + "]"
                            : value < min   ? "at least " + std::to_string(min)
                                            : "at most " + std::to_string(max);
  return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + name + " = " + std::to_string(value) + " must be " + bound + " (" + doc + ")");
}

/** A pointer argument: not NULL unless optional, aligned to `align` bytes. */
inline int pointer(const char* fn, const char* name, const void* p, std::size_t align, bool optional, const char* doc, const char* why) {
  if (p == nullptr) {
    return optional ? LIM_OK : fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + name + " is NULL; pass " + doc);
  }
  if (aligned(p, align)) return LIM_OK;
  return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + name + " (" + pointer_text(p) + ") must be " + std::to_string(align) + "-byte aligned: " + why);
}

/** An element stride: non-negative, and a multiple of `multiple` elements so that rows stay aligned. */
inline int stride(const char* fn, const char* name, int64_t value, int64_t multiple, const char* tensor) {
  if (value >= 0 && value % multiple == 0) return LIM_OK;
  if (multiple == 1) return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + name + " = " + std::to_string(value) + " must be non-negative");
  return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + name + " = " + std::to_string(value) + " must be a non-negative multiple of " +
                                              std::to_string(multiple) + " elements (every row of " + tensor + " starts on a 16-byte boundary)");
}

/** A value among the allowed ones; `allowed` describes them. */
inline int one_of(const char* fn, const char* name, int64_t value, std::initializer_list<int64_t> values, const char* allowed) {
  for (int64_t v : values) if (v == value) return LIM_OK;
  return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + name + " = " + std::to_string(value) + " must be " + allowed);
}

/** One dimension of a strided tensor: its extent and stride, and the names of the arguments that give them. */
struct Dim {
  const char* extent_name;
  int64_t extent;
  const char* stride_name;
  int64_t stride;
};

/**
 * Fails unless distinct indices of the tensor address distinct elements. Dimensions of extent 1 do not
 * matter; the others, ordered by stride, must each step over everything the smaller ones span (the test
 * is exact for layouts that are permutations of nested dimensions, which is every layout engines use).
 */
inline int no_overlap(const char* fn, const char* tensor, std::initializer_list<Dim> given) {
  Dim dims[8];
  int n = 0;
  for (const Dim& d : given) if (n < 8) dims[n++] = d;
  // Insertion sort by stride: a handful of dimensions.
  for (int i = 1; i < n; ++i) {
    for (int j = i; j > 0 && dims[j].stride < dims[j - 1].stride; --j) {
      const Dim t = dims[j];
      dims[j] = dims[j - 1];
      dims[j - 1] = t;
    }
  }
  int64_t span = 1;  // elements covered by the dimensions inside the current one
  const char* inner = nullptr;
  for (int i = 0; i < n; ++i) {
    if (dims[i].extent <= 1) continue;
    if (dims[i].stride < span) {
      return fail(LIM_ERROR_INVALID_ARGUMENT,
                  std::string(fn) + ": " + dims[i].stride_name + " = " + std::to_string(dims[i].stride) + " makes elements of " + tensor +
                      " overlap: it must be at least " + std::to_string(span) +
                      (inner ? std::string(" (the elements spanned by the dimensions inside it, up to ") + inner + ")" : std::string("")));
    }
    // The span grows to the last element this dimension reaches (in double first: the product may overflow).
    const double reach = static_cast<double>(dims[i].stride) * static_cast<double>(dims[i].extent - 1) + static_cast<double>(span);
    if (reach > kSpanMax) {
      return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + dims[i].stride_name + " = " + std::to_string(dims[i].stride) + " with " +
                                                  dims[i].extent_name + " = " + std::to_string(dims[i].extent) + " makes " + tensor +
                                                  " span more than 2^48 elements, more than any GPU holds: pass the tensor's real strides");
    }
    span = dims[i].stride * (dims[i].extent - 1) + span;
    inner = dims[i].extent_name;
  }
  return LIM_OK;
}

/** The bytes [begin, end) a tensor argument reaches (none for an absent optional one), named for messages. */
struct Extent {
  const char* name;
  std::uintptr_t begin;
  std::uintptr_t end;
};

/** The extent of a strided tensor, checked by no_overlap first (so that its span fits in 2^48 elements). */
inline Extent strided_extent(const char* name, const void* p, int64_t element_bytes, std::initializer_list<Dim> dims) {
  if (p == nullptr) return {name, 0, 0};
  int64_t last = 0;  // the offset of the last element reached, in elements
  for (const Dim& d : dims) last += d.stride * (d.extent - 1);
  const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(p);
  return {name, begin, begin + static_cast<std::uintptr_t>((last + 1) * element_bytes)};
}

/** The extent of `bytes` bytes from p (a workspace of the caller's size; to the top of the space if that wraps); none when p is NULL. */
inline Extent byte_extent(const char* name, const void* p, std::size_t bytes) {
  const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t end = bytes > UINTPTR_MAX - begin ? UINTPTR_MAX : begin + bytes;
  return p == nullptr ? Extent{name, 0, 0} : Extent{name, begin, end};
}

/** The extent of a contiguous tensor of the given extents; fails when it would span more than any GPU holds. */
inline int contiguous_extent(const char* fn, const char* name, const void* p, int64_t element_bytes, std::initializer_list<int64_t> extents,
                             Extent* out) {
  double elements = 1;  // in double first: the product of sizes up to 2^30 may overflow
  for (int64_t e : extents) elements *= static_cast<double>(e);
  if (elements > kSpanMax) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + name + " would hold more than 2^48 elements, more than any GPU holds: pass its real sizes");
  }
  const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(p);
  *out = p == nullptr ? Extent{name, 0, 0} : Extent{name, begin, begin + static_cast<std::uintptr_t>(static_cast<int64_t>(elements) * element_bytes)};
  return LIM_OK;
}

/**
 * Fails when the range of the output `out` (its first byte to its last) overlaps the range of one of `others`:
 * the kernels read their inputs and write their outputs at the same time from many blocks, so an output over
 * an argument gives wrong results (a top-k over values it is overwriting, a workspace's counters overwritten by
 * the output), which no later check sees. Ranges, not bytes: an output interleaved with another argument (rows
 * of one buffer taken in turn) is refused too, though no byte is shared (the K/V pairs the wrapper exempts are
 * the interleaving engines use).
 */
inline int disjoint(const char* fn, const Extent& out, std::initializer_list<Extent> others) {
  for (const Extent& other : others) {
    if (out.begin < other.end && other.begin < out.end) {
      return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": the output " + out.name + " (" + pointer_text(reinterpret_cast<const void*>(out.begin)) + " to " +
                                                  pointer_text(reinterpret_cast<const void*>(out.end)) + ") overlaps " + other.name + " (" +
                                                  pointer_text(reinterpret_cast<const void*>(other.begin)) + " to " + pointer_text(reinterpret_cast<const void*>(other.end)) +
                                                  "): an output's bytes, first to last, may not overlap another argument's; pass a buffer of its own");
    }
  }
  return LIM_OK;
}

}  // namespace lim_capi
