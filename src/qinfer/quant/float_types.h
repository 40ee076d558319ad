#pragma once
#include "qinfer/quant/type_registry.h"

namespace qinfer {
extern const TypeInfo kTypeF32;
extern const TypeInfo kTypeF16;
extern const TypeInfo kTypeBF16;
}  // namespace qinfer
