// The registered weight types that have a matmul kernel, in registry order:
// what the kernel tests and benchmarks walk, so a new type is covered as
// soon as it has a kernel.
#pragma once
#include <vector>

#include "qinfer/quant/type_registry.h"

namespace qinfer::kernels {

std::vector<TypeId> types_with_kernels();

}  // namespace qinfer::kernels
