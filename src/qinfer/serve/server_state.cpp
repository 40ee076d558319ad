#include "qinfer/serve/server_state.h"

#include "qinfer/serve/registry_provider.h"

namespace qinfer::serve {

ServerState::ServerState(ServeOptions options, std::unique_ptr<ModelProvider> models)
    : options_(std::move(options)), models_(std::move(models)) {
  metrics_ = std::make_unique<ServerMetrics>(
      [this] {
        std::vector<EngineSnapshot> out;
        for (const auto& m : models_->loaded()) out.push_back({m->id, m->engine->stats()});
        return out;
      },
      [this] {
        std::vector<ModelMemory> out;
        for (const auto& m : models_->loaded()) out.push_back({m->id, handle_resident_bytes(*m)});
        return out;
      },
      memory_budget());
}

uint64_t ServerState::memory_budget() const {
  if (auto* reg = dynamic_cast<RegistryProvider*>(models_.get())) return reg->registry().memory_budget();
  return 0;
}

GenerationLimits ServerState::limits_for(const ModelHandle& model) const {
  GenerationLimits l;
  l.max_in_flight = model.engine->max_seqs() + options_.max_queue;
  l.sampling = options_.sampling;
  l.metrics = metrics_.get();
  return l;
}

}  // namespace qinfer::serve
