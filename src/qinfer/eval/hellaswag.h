// Multiple-choice accuracy in the HellaSwag format, scored as llama.cpp's
// llama-perplexity --hellaswag does (hellaswag_score in
// examples/perplexity/perplexity.cpp):
//   for each ending e, tokenize context + " " + e (with BOS); the tokens all
//   four sequences share form the common prefix; the ending's score is the
//   mean log-probability of the tokens after that prefix
//     score(e) = Σ_{i ≥ cp} log p(t_i | t_<i) / (n_e − cp)
//   and the prediction is the ending with the highest score (first on ties).
// Accuracy ± sqrt(p(1 − p)/(N − 1)) (binomial standard error, as llama.cpp's
// multiple-choice and winogrande modes print it).
//
// Task file: JSON Lines, one task per line, the fields of the Hugging Face
// "Rowan/hellaswag" dataset:
//   {"ctx": "...", "endings": ["...", "...", "...", "..."], "label": 2,
//    "activity_label": "..." (optional)}
// label may be an integer or a digit string ("2", as the HF files have it).
// As llama.cpp's prepared file (lm-evaluation-harness preprocessing) the
// context is "activity_label: ctx" when activity_label is present, and
// context and endings are stripped, " [title]" becomes ". ", other [..]
// markers are removed and double spaces collapsed. Blank lines are skipped.
// Tasks are taken in file order (llama.cpp draws them at random with a fixed
// seed; over a whole file the accuracy is the same).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qinfer {

class Context;
class Tokenizer;

struct HellaswagTask {
  std::string context;
  std::array<std::string, 4> endings;
  int label = 0;  // index of the correct ending
};

// InputError naming the file, line and field on bad input.
std::vector<HellaswagTask> parse_hellaswag_jsonl(const std::string& text, const std::string& name);
std::vector<HellaswagTask> load_hellaswag_jsonl(const std::string& path);

// lm-evaluation-harness's HellaSwag text preprocessing (see above).
std::string hellaswag_preprocess(const std::string& text);

// What scoring needs from a model; a fake one makes the arithmetic testable.
struct SequenceScorer {
  std::function<std::vector<int32_t>(const std::string&)> tokenize;  // with BOS when the model adds one
  // log p(tokens[i] | tokens[0..i)) for i = first .. tokens.size() − 1 (first ≥ 1).
  std::function<std::vector<double>(const std::vector<int32_t>& tokens, size_t first)> log_probs;
};

// A scorer over a model: each sequence is evaluated from an empty cache.
SequenceScorer context_scorer(Context& ctx, const Tokenizer& tokenizer);

struct HellaswagTaskResult {
  std::array<double, 4> score{};  // mean log-prob of each ending
  int predicted = 0;
  int label = 0;
};

struct HellaswagResult {
  std::vector<HellaswagTaskResult> tasks;
  int n_correct = 0;
  double accuracy() const;      // fraction
  double accuracy_err() const;  // fraction
};

// Scores the first max_tasks tasks (< 0: all). on_task(i, n, running_accuracy).
HellaswagResult hellaswag(const std::vector<HellaswagTask>& tasks, const SequenceScorer& scorer, int max_tasks = -1,
                          const std::function<void(int, int, double)>& on_task = {});

}  // namespace qinfer
