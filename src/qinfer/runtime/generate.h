// The engine's one request interface for a single sequence: evaluate a
// prompt, then sample tokens and hand each to the caller as it comes.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "qinfer/runtime/context.h"
#include "qinfer/runtime/sampler.h"

namespace qinfer {

struct GenerateParams {
  int n_predict = 128;  // < 0: until end of generation or the context is full
  SamplerParams sampling;
};

struct GenerateStats {
  int n_prompt = 0;
  int n_generated = 0;
  double prompt_ms = 0;    // prefill time
  double generate_ms = 0;  // decode time after the first token
  bool stopped_at_eog = false;
};

// Appends to whatever the context already holds. on_token returns false to stop.
GenerateStats generate(Context& ctx, const std::vector<int32_t>& prompt, const GenerateParams& params,
                       const std::function<bool(int32_t)>& on_token);

}  // namespace qinfer
