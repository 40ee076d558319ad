// Measures one model file — throughput, memory, quality against the baseline's
// logits — in a child process of its own, so that each variant's peak RSS is
// its own and a crash in one variant cannot take the whole run down.
#pragma once
#include <string>
#include <vector>

#include "qinfer/optimize/variant.h"

namespace qinfer {

struct MeasureParams {
  std::string model_path;
  std::string label;
  std::string file_type;       // recorded as is
  bool baseline = false;
  int threads = 0;             // resolve_thread_count
  int n_prompt = 512, n_gen = 128, reps = 3;
  std::string eval_text;       // the baseline tokenizes this
  int n_ctx = 128;             // evaluation chunk length
  int n_chunks = 100;          // < 0: all
  std::string base_logits;     // written by the baseline, read by the others
  double base_ppl = 0;         // the baseline's measured perplexity (ΔPPL's reference)
  std::vector<std::string> sample_prompts;  // greedy continuations for the side-by-side view
  int sample_tokens = 48;
};

// Throws Error (or InputError for bad inputs) with the child's message.
VariantResult measure_variant(const MeasureParams& params);

// The same work in this process; what the child runs.
VariantResult measure_variant_here(const MeasureParams& params);

}  // namespace qinfer
