#include "qinfer/serve/server_state.h"

namespace qinfer::serve {

ServerState::ServerState(ServeOptions options, std::unique_ptr<ModelProvider> models)
    : options_(std::move(options)), models_(std::move(models)) {}

GenerationLimits ServerState::limits_for(const ModelHandle& model) const {
  GenerationLimits l;
  l.max_in_flight = model.engine->max_seqs() + options_.max_queue;
  l.sampling = options_.sampling;
  return l;
}

}  // namespace qinfer::serve
