// The registry of packed weight layouts: one row per type that has one.
#include "qinfer/kernels/packed.h"
#include "qinfer/kernels/packed_q4_0x16.h"

namespace qinfer::kernels {

namespace {

const PackedFormat kFormats[] = {
    {TypeId::Q4_0, "q4_0x16", q4_0x16::kRows, q4_0x16::bytes, q4_0x16::pack, q4_0x16::matmul_reference},
};

}  // namespace

const PackedFormat* packed_format(TypeId type) {
  for (const PackedFormat& f : kFormats)
    if (f.type == type) return &f;
  return nullptr;
}

}  // namespace qinfer::kernels
