// What GET /api/models says about each model: its registry state plus what
// the GGUF header tells without loading the weights (architecture, file type,
// parameter count, training context).
#pragma once
#include <vector>

#include "qinfer/serve/model_registry.h"
#include "qinfer/serve/ollama.h"

namespace qinfer::serve {

// Reads the header of status.source.path; a file that cannot be read is
// listed with `error` set (the listing never fails for one bad file).
ModelCard describe_model(const ModelStatus& status);
std::vector<ModelCard> describe_models(const std::vector<ModelStatus>& models);

}  // namespace qinfer::serve
