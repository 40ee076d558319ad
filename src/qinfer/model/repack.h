// Repacking at load: the weight matrices whose type has a packed layout that
// the active kernel path reads faster (kernels/packed.h) are copied once into
// it, and the file's pages of those tensors are dropped from memory, so the
// resident weights stay one copy. The GGUF on disk is untouched; Tensor::data
// still points at the file (valid to read: dropped pages fault back in).
// Matrices without a packed layout (F16, BF16, F32, the types the active path
// has no packed kernel for) are copied as they are into the same huge-page
// arena (core/huge_buffer.h), and there Tensor::data points at the copy.
// Opt out with LoadOptions::repack = false (`--no-repack`) or QINFER_NO_REPACK=1.
#pragma once
#include <cstdint>
#include <string>

#include "qinfer/quant/type_id.h"

namespace qinfer {

class Model;

struct RepackSummary {
  int tensors = 0;          // repacked
  uint64_t bytes = 0;       // their packed bytes (resident instead of the file's)
  uint64_t file_bytes = 0;  // their bytes in the file
  uint64_t largest_slice_bytes = 0;  // the file's pages resident beside the packed copy at most
  int copied = 0;           // matrices without a packed layout copied as they are into the arena
  uint64_t copied_bytes = 0;
  bool huge_pages = false;  // the arena was advised into huge pages (core/huge_buffer.h)
};

// One line for people: what was repacked or copied at load and how much of
// it the kernel backs with 2 MiB pages now (read from /proc/self/smaps, so
// the advice that THP ignored is not reported as huge pages).
std::string describe_weight_memory(const Model& model);

// False when QINFER_NO_REPACK is set to anything but "" or "0".
bool repack_allowed_by_env();

// Whether a weight matrix of `type` with rows of n elements is repacked at
// load on this machine's active kernel path: the one predicate the loader
// and the memory plan share.
bool repacks(TypeId type, int64_t n, int64_t rows);

// The most file bytes of such a tensor resident beside its packed copy while
// it is packed (a slice of rows; the plan's transient).
uint64_t repack_slice_bytes(TypeId type, int64_t n, int64_t rows);

// Repacks the layer matrices and an untied classifier that repacks() selects
// and whose bytes are in the model's file mapping (not converted at load).
RepackSummary repack_weights(Model& model);

}  // namespace qinfer
