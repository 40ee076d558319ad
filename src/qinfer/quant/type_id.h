// Tensor element types. The numbers are GGUF's ggml_type ids: they are on disk,
// so they never move; new types append. qinfer's own types (bitsandbytes' and
// LLM.int8's formats, which ggml does not have) live in a range far above
// ggml's, so that ggml can keep appending without ever meeting them; llama.cpp
// does not load files that use them.
#pragma once
#include <cstdint>

namespace qinfer {

enum class TypeId : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ4_NL = 20,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
  // qinfer-only (kQinferTypeBase + k):
  NF4 = 1024,     // bitsandbytes NF4: 64-weight blocks, fp32 absmax, normal-float code book
  FP4 = 1025,     // bitsandbytes FP4 (E2M1): same blocks, float code book
  INT8 = 1026,    // LLM.int8: int8 rows with a per-row absmax, outlier inputs in float at run time
  NF4_DQ = 1027,  // NF4 with double-quantized absmax (storage; expanded to NF4 when loaded)
  FP4_DQ = 1028,  // FP4 with double-quantized absmax (storage; expanded to FP4 when loaded)
  INT4 = 1029,    // bitsandbytes' "int4" code book (absmax · k/7): plain 4-bit integers, NF4's and FP4's baseline
};

constexpr uint32_t kTypeIdLimit = 40;        // every ggml id is below this
constexpr uint32_t kQinferTypeBase = 1024;   // first qinfer-only id
constexpr uint32_t kQinferTypeCount = 8;     // room reserved for qinfer-only ids
// Dense index for per-type tables: ggml ids map to themselves, qinfer-only
// ids follow them; kNoSlot for ids qinfer does not know.
constexpr uint32_t kTypeSlots = kTypeIdLimit + kQinferTypeCount;
constexpr uint32_t kNoSlot = 0xffffffffu;
constexpr uint32_t type_slot(uint32_t raw_id) {
  if (raw_id < kTypeIdLimit) return raw_id;
  if (raw_id >= kQinferTypeBase && raw_id < kQinferTypeBase + kQinferTypeCount)
    return kTypeIdLimit + (raw_id - kQinferTypeBase);
  return kNoSlot;
}
constexpr uint32_t type_slot(TypeId id) { return type_slot(uint32_t(id)); }
// True for types only qinfer reads (llama.cpp cannot load a file with them).
constexpr bool is_qinfer_only(TypeId id) { return uint32_t(id) >= kQinferTypeBase; }

}  // namespace qinfer
