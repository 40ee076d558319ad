#include "qinfer/quant/type_registry.h"

#include <array>

#include "qinfer/core/ascii.h"
#include "qinfer/core/error.h"
#include "qinfer/quant/float_types.h"
#include "qinfer/quant/q4_0.h"
#include "qinfer/quant/q4_1.h"
#include "qinfer/quant/q5_0.h"
#include "qinfer/quant/q5_1.h"
#include "qinfer/quant/q8_0.h"
#include "qinfer/quant/q8_1.h"
#include "qinfer/quant/q6_k.h"
#include "qinfer/quant/q8_k.h"
#include "qinfer/quant/q2_k.h"
#include "qinfer/quant/q3_k.h"
#include "qinfer/quant/q4_k.h"
#include "qinfer/quant/q5_k.h"
#include "qinfer/quant/iq4_nl.h"
#include "qinfer/quant/bnb4.h"
#include "qinfer/quant/int8_rows.h"

namespace qinfer {

namespace {

// One line per type. A new format is one new file plus one line here.
const TypeInfo* const kAllTypes[] = {
    &kTypeF32,
    &kTypeF16,
    &kTypeBF16,
    &kTypeQ4_0,
    &kTypeQ4_1,
    &kTypeQ5_0,
    &kTypeQ5_1,
    &kTypeQ8_0,
    &kTypeQ8_1,
    &kTypeQ6_K,
    &kTypeQ8_K,
    &kTypeQ2_K,
    &kTypeQ3_K,
    &kTypeQ4_K,
    &kTypeQ5_K,
    &kTypeIQ4_NL,
    &kTypeNF4,
    &kTypeFP4,
    &kTypeINT8,
    &kTypeNF4_DQ,
    &kTypeFP4_DQ,
    &kTypeINT4,
};

const std::array<const TypeInfo*, kTypeSlots>& by_id() {
  static const auto table = [] {
    std::array<const TypeInfo*, kTypeSlots> t{};
    for (const TypeInfo* info : kAllTypes) t[type_slot(info->id)] = info;
    return t;
  }();
  return table;
}

}  // namespace

const TypeInfo* find_type(uint32_t raw_id) {
  const uint32_t slot = type_slot(raw_id);
  return slot == kNoSlot ? nullptr : by_id()[slot];
}
const TypeInfo* find_type(TypeId id) { return find_type(uint32_t(id)); }

const TypeInfo* find_type(std::string_view name) {
  for (const TypeInfo* info : kAllTypes)
    if (ascii_iequals(info->name, name)) return info;
  return nullptr;
}

const TypeInfo& type_info(TypeId id) {
  const TypeInfo* info = find_type(id);
  if (!info) throw Error("unknown tensor type id " + std::to_string(uint32_t(id)));
  return *info;
}

size_t row_size(TypeId id, int64_t n) {
  const TypeInfo& info = type_info(id);
  if (n % info.block_size != 0)
    throw Error(std::string("row of ") + std::to_string(n) + " elements is not a multiple of the " + info.name +
                " block size " + std::to_string(info.block_size));
  return info.row_header + size_t(n / info.block_size) * info.type_size;
}

const TypeInfo* const* all_types(size_t* count) {
  *count = sizeof(kAllTypes) / sizeof(kAllTypes[0]);
  return kAllTypes;
}

}  // namespace qinfer
