// The weights of a Hugging Face checkpoint: model.safetensors, or the shards
// model-0000i-of-0000n.safetensors listed by model.safetensors.index.json.
// Every shard is mapped; tensors are views into the maps.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "qinfer/formats/safetensors.h"

namespace qinfer {

class HfWeights {
 public:
  // Throws InputError naming the missing shard, the index field or the
  // tensor that is listed in one place and absent from the other.
  static HfWeights open(const std::string& dir);

  // In convert_hf_to_gguf.py's order: shard files sorted by name, the
  // tensors of each sorted by name.
  const std::vector<const StTensor*>& tensors() const { return order_; }
  const StTensor* find(const std::string& name) const;
  // Which file a tensor came from, for messages.
  const std::string& file_of(const StTensor* t) const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::vector<const StTensor*> order_;
  std::vector<size_t> shard_of_;  // parallel to order_
};

}  // namespace qinfer
