// bitsandbytes' 4-bit formats (QLoRA, arXiv 2305.14314): NF4 (normal-float
// code book), FP4 (E2M1 float code book) and INT4 (integers −7..7, the plain
// baseline QLoRA compares them with), 64 weights per block scaled by
// the block's absmax, and their double-quantized storage (the absmax values
// quantized to 8 bits with the signed dynamic map in groups of 256, around
// their mean). qinfer-only types: ggml has no such formats.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

constexpr int kQK_BNB4 = 64;          // bitsandbytes' default (and qinfer's only) block size
constexpr int kBnbNestedBlock = 256;  // absmax values per double-quant group

// The code books, as bitsandbytes' get_4bit_type builds them (normalised by
// their largest magnitude). NF4 is sorted; FP4 is indexed by its bit pattern
// (bit 3 = sign, bits 0..2 = E2M1 magnitude).
extern const float kNF4Values[16];
extern const float kFP4Values[16];
extern const float kINT4Values[16];  // get_4bit_type("int4"): [7, 6, …, 0, −0, −1, …, −7] / 7

// Layout (36 bytes), the same for NF4 and FP4:
//   [0..3]   absmax  float32: largest |x| of the block (bitsandbytes' absmax)
//   [4..35]  qs[32]  byte k: high nibble = code of element 2k, low nibble =
//                    code of element 2k + 1 (bitsandbytes' packing: a tensor's
//                    blocks laid end to end are its packed weight and absmax)
// Value: y = code_book[code] · absmax.
struct BlockBnb4 {
  float absmax;
  uint8_t qs[kQK_BNB4 / 2];
};
static_assert(sizeof(BlockBnb4) == 36, "BlockBnb4 must be 36 bytes");

// Double-quantized storage (33 bytes): the absmax replaced by its 8-bit code.
//   [0]      qabsmax  index into the signed dynamic map
//   [1..32]  qs[32]   as BlockBnb4
// The block's absmax = dynamic_map[qabsmax] · nested_absmax[b / 256] + offset,
// with nested_absmax (one float per 256 blocks of the tensor) and offset (the
// mean absmax) kept in the tensor's companion "<name>.dq" (F32: offset, then
// the nested absmax values).
struct BlockBnb4DQ {
  uint8_t qabsmax;
  uint8_t qs[kQK_BNB4 / 2];
};
static_assert(sizeof(BlockBnb4DQ) == 33, "BlockBnb4DQ must be 33 bytes");

// bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7,
// total_bits=8): 256 sorted float32 values in [-0.99297, 1], computed with
// the same float32 operations as torch.
const std::vector<float>& bnb_dynamic_map();

// Quantize / dequantize k weights (k % 64 == 0) with the given code book.
void quantize_row_nf4(const float* x, BlockBnb4* y, int64_t k);
void quantize_row_fp4(const float* x, BlockBnb4* y, int64_t k);
void quantize_row_int4(const float* x, BlockBnb4* y, int64_t k);
void dequantize_row_bnb4(const BlockBnb4* x, const float* code_book, float* y, int64_t k);

// Double quantization of a tensor's n_blocks absmax values (as bitsandbytes'
// quantize_4bit(compress_statistics=True)): offset = mean, then blockwise
// 8-bit quantization of (absmax − offset) in groups of 256. Writes each
// block's qabsmax and its codes into dq; returns the companion state
// {offset, nested_absmax...}.
std::vector<float> double_quantize(const BlockBnb4* blocks, int64_t n_blocks, BlockBnb4DQ* dq);
// The inverse: dq blocks + companion state → blocks with float absmax.
// Throws InputError when the state is too short for n_blocks.
void expand_double_quant(const BlockBnb4DQ* dq, int64_t n_blocks, const float* state, int64_t n_state, BlockBnb4* out);
// Floats the companion state of n_blocks blocks holds.
inline int64_t double_quant_state_size(int64_t n_blocks) {
  return 1 + (n_blocks + kBnbNestedBlock - 1) / kBnbNestedBlock;
}
// The companion tensor's name.
inline std::string double_quant_state_name(const std::string& tensor) { return tensor + ".dq"; }

// The type whose blocks a double-quantized type stores (NF4 for NF4_DQ, FP4
// for FP4_DQ), or the type itself.
TypeId double_quant_base(TypeId type);
inline bool is_double_quant(TypeId type) { return type == TypeId::NF4_DQ || type == TypeId::FP4_DQ; }

// A whole tensor (rows × cols floats) as a double-quantized type: the blocks
// and the companion state. cols % 64 == 0.
struct DoubleQuantTensor {
  std::vector<uint8_t> blocks;  // rows × cols/64 BlockBnb4DQ
  std::vector<float> state;     // {offset, nested absmax...}
};
DoubleQuantTensor double_quantize_tensor(const float* w, int64_t rows, int64_t cols, TypeId dq_type);

extern const TypeInfo kTypeNF4;
extern const TypeInfo kTypeFP4;
extern const TypeInfo kTypeINT4;
extern const TypeInfo kTypeNF4_DQ;
extern const TypeInfo kTypeFP4_DQ;

}  // namespace qinfer
