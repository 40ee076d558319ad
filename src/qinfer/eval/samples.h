// Greedy continuations of fixed prompts: the same prompts through several
// models, read side by side, show what the numbers mean (qinfer optimize and
// `qinfer eval --prompts` store them; the report shows them per prompt).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "qinfer/model/model.h"

namespace qinfer {

// One continuation per prompt (BOS added as the model asks, temperature 0,
// stopping early at end of generation). InputError when a prompt does not fit.
std::vector<std::string> greedy_samples(const Model& model, const std::vector<std::string>& prompts, int n_tokens,
                                        int threads);

// [{"prompt": ..., "text": ...}], the form the report reads from a run's parameters.
nlohmann::json samples_json(const std::vector<std::string>& prompts, const std::vector<std::string>& texts);

// Prompts from a file, one per non-empty line; InputError naming the file when there are none.
std::vector<std::string> read_prompt_lines(const std::string& path);

}  // namespace qinfer
