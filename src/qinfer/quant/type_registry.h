// quant/ is the tensor types (what a block of numbers looks like); quantize/
// is the job that turns a model file into a quantized one.
//
// The one type registry: every tensor type is one row (block size, bytes per
// block, scalar reference conversions, the type activations are converted to
// for dot products). Fast kernels live in kernels/ and are keyed by the same id.
//
// Adding a tensor type X (tests/test_type_checklist.cpp checks what it can):
//  1. quant/x.h, quant/x.cpp: the block struct with a layout comment and a
//     static_assert on its size; quantize_row_x_ref / dequantize_row_x (scalar,
//     the reference); `extern const TypeInfo kTypeX` (block_size, type_size,
//     quantized, to_float, from_float, vec_dot_type, and `quantize` when it has
//     an imatrix-aware row quantizer as llama-quantize's).
//  2. quant/type_id.h: its id. A ggml type keeps GGUF's number; a type ggml
//     does not have (NF4, ...) takes the next number from kQinferTypeBase
//     (1024) up, raising kQinferTypeCount if needed, so ggml can keep
//     appending below kTypeIdLimit; its files will not load in llama.cpp
//     (is_qinfer_only; `qinfer info` and quantize say so). A type whose rows
//     start with a per-row scale sets row_header (INT8).
//  3. quant/type_registry.cpp: one line in kAllTypes.
//  4. kernels/: the scalar dot `vec_dot_x_<act>_generic` (declared in
//     kernel_table.h) and its `set<...>(t, TypeId::X)` line in
//     fill_table_generic (which also gives it the scalar matmul); if its
//     vec_dot_type is new, a converter in the same table. SIMD versions are
//     optional, one `set` line per ISA file, each tested against the scalar.
//  5. Only if llama.cpp has a file type for it, or it is a qinfer-only type
//     users quantize to (its number equal to the type id): model/file_types
//     (enum value and table row); only if llama-quantize's mixes use it:
//     quantize/tensor_policy.cpp.
//  6. Tests: the expected row in tests/test_quant.cpp (QuantRegistry), round-
//     trip error bounds and every-code dequantization, SIMD vs scalar in
//     tests/test_kernels*.cpp. bench/bench_kernels.cpp and
//     tests/test_quant_nonfinite.cpp pick the type up from the registry.
//  7. README.md: the type list under "Models".
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
  // Bytes every row starts with before its blocks (a per-row scale: INT8);
  // for such types to_float/from_float/quantize take whole rows.
  size_t row_header = 0;
};

// nullptr when the id is not a type qinfer knows.
const TypeInfo* find_type(TypeId id);
const TypeInfo* find_type(uint32_t raw_id);
// Case-insensitive: "q4_0", "Q4_0", "f16", ...
const TypeInfo* find_type(std::string_view name);
// Throws Error for unknown ids.
const TypeInfo& type_info(TypeId id);

// Bytes of a row of n elements (row header included); throws Error when n is
// not a multiple of the block.
size_t row_size(TypeId id, int64_t n);

// Every registered type, for tests and listings.
const TypeInfo* const* all_types(size_t* count);

}  // namespace qinfer
