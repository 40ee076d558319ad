// The registry of packed weight layouts: one row per type that has one.
#include "qinfer/kernels/packed.h"
#include "qinfer/kernels/packed_iq4_nlx16.h"
#include "qinfer/kernels/packed_kx16.h"
#include "qinfer/kernels/packed_q4_0x16.h"
#include "qinfer/kernels/packed_q5_0x16.h"
#include "qinfer/kernels/packed_q8_0x16.h"

namespace qinfer::kernels {

namespace {

const PackedFormat kFormats[] = {
    {TypeId::Q4_0, "q4_0x16", q4_0x16::kRows, q4_0x16::bytes, q4_0x16::pack, q4_0x16::matmul_reference},
    {TypeId::Q8_0, "q8_0x16", q8_0x16::kRows, q8_0x16::bytes, q8_0x16::pack, q8_0x16::matmul_reference},
    {TypeId::Q5_0, "q5_0x16", q5_0x16::kRows, q5_0x16::bytes, q5_0x16::pack, q5_0x16::matmul_reference},
    {TypeId::IQ4_NL, "iq4_nlx16", iq4_nlx16::kRows, iq4_nlx16::bytes, iq4_nlx16::pack, iq4_nlx16::matmul_reference},
    {TypeId::Q4_K, "q4_Kx16", kx16::kRows, kx16::bytes_q4_k, kx16::pack_q4_k, kx16::reference_q4_k},
    {TypeId::Q5_K, "q5_Kx16", kx16::kRows, kx16::bytes_q5_k, kx16::pack_q5_k, kx16::reference_q5_k},
    {TypeId::Q6_K, "q6_Kx16", kx16::kRows, kx16::bytes_q6_k, kx16::pack_q6_k, kx16::reference_q6_k},
};

}  // namespace

const PackedFormat* packed_format(TypeId type) {
  for (const PackedFormat& f : kFormats)
    if (f.type == type) return &f;
  return nullptr;
}

}  // namespace qinfer::kernels
