// Per-format model loaders behind load_model().
#pragma once
#include <memory>
#include <string>

#include "qinfer/model/model.h"

namespace qinfer {

std::unique_ptr<Model> load_gguf_model(const std::string& path);
std::unique_ptr<Model> load_llama2c_model(const std::string& path, const LoadOptions& options);
// The vocabulary only: what a checkpoint's header and tokenizer.bin say.
std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, const LoadOptions& options);

}  // namespace qinfer
