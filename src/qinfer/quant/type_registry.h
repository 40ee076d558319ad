// The one type registry: every tensor type is one row (block size, bytes per
// block, scalar reference conversions, the type activations are converted to
// for dot products). Fast kernels live in kernels/ and are keyed by the same id.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "qinfer/quant/type_id.h"

namespace qinfer {

using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);
// Quantizes nrows rows of n_per_row floats the way llama-quantize does
// (ggml_quantize_chunk): imatrix, when not null, holds n_per_row importance
// weights (one per column) and selects ggml's weighted search for the types
// that have one. Returns the bytes written (nrows · row_size). The input must be
// finite (callers check with row_has_nonfinite); n_per_row % block_size == 0.
using QuantizeRowsFn = size_t (*)(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                                  const float* imatrix);

struct TypeInfo {
  TypeId id;
  const char* name;          // as llama.cpp prints it: "f32", "q4_0", ...
  int64_t block_size;        // elements per block
  size_t type_size;          // bytes per block
  bool quantized;
  ToFloatFn to_float;        // reference dequantize of n elements (n % block_size == 0)
  FromFloatFn from_float;    // reference quantize, or nullptr when not supported
  TypeId vec_dot_type;       // activations are converted to this type for dot products
  QuantizeRowsFn quantize = nullptr;  // llama-quantize's row quantizer, or nullptr when not supported
};

// nullptr when the id is not a type qinfer knows.
const TypeInfo* find_type(TypeId id);
const TypeInfo* find_type(uint32_t raw_id);
// Case-insensitive: "q4_0", "Q4_0", "f16", ...
const TypeInfo* find_type(std::string_view name);
// Throws Error for unknown ids.
const TypeInfo& type_info(TypeId id);

// Bytes of a row of n elements; throws Error when n is not a multiple of the block.
size_t row_size(TypeId id, int64_t n);

// Every registered type, for tests and listings.
const TypeInfo* const* all_types(size_t* count);

}  // namespace qinfer
