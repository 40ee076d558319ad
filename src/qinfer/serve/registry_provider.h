// The server's models through the model registry (model_registry.h): every
// -m file and --models-dir model, loaded on first request, evicted LRU under
// --memory-budget. A request holds its ModelHandle; the pointer handed out
// shares ownership with the registry's lease, so while any request (or a
// /health or /metrics read) holds it, the model is never evicted.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qinfer/serve/model_provider.h"
#include "qinfer/serve/model_registry.h"

namespace qinfer::serve {

class RegistryProvider final : public ModelProvider {
 public:
  // `make_handle` loads a model file into a started engine (cmd_serve: the
  // model, its KV options and chat template); `options.load` is set here.
  using MakeHandle = std::function<std::shared_ptr<ModelHandle>(const ModelSource&)>;
  RegistryProvider(ModelRegistryOptions options, MakeHandle make_handle);

  // Throws ApiError 404 (unknown: the message lists the known models), 400
  // model_too_large (it alone needs more than the budget: the plan's line),
  // 503 (the budget is held by busy models; Retry-After), or the loader's error.
  std::shared_ptr<ModelHandle> acquire(const std::string& name) override;
  std::vector<ModelListing> list() const override;
  std::vector<std::shared_ptr<ModelHandle>> loaded() const override;

  ModelRegistry& registry() { return *registry_; }

 private:
  std::unique_ptr<ModelRegistry> registry_;
};

// What a loaded handle counts against --memory-budget: its weights (mapped
// or owned) and its engine's KV pool.
uint64_t handle_resident_bytes(const ModelHandle& h);

}  // namespace qinfer::serve
