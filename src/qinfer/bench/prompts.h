// Prompts for serving benchmarks: a built-in synthetic set with controlled
// lengths, or a user dataset.
//
// Dataset format (JSONL, one request per line, blank lines ignored):
//   {"prompt": "Once upon a time"}                        -> /v1/completions
//   {"messages": [{"role": "user", "content": "Hi"}]}     -> /v1/chat/completions
// Either may add "max_tokens": N to override --max-tokens for that line.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qinfer/runtime/chat_template.h"

namespace qinfer::bench {

struct BenchPrompt {
  std::string text;                   // a completion prompt (when messages is empty)
  std::vector<ChatMessage> messages;  // a chat conversation
  std::vector<int32_t> tokens;        // in-process synthetic prompts: token ids, used as they are
  int input_tokens = 0;               // known (tokens) or estimated (words) prompt length
  int max_tokens = 0;
};

// input_len words drawn from a list of common English words, each of which is
// one token (with its leading space) in the usual BPE/SPM vocabularies, so the
// prompt is about input_len tokens long for any server. Seeded.
std::vector<BenchPrompt> synthetic_text_prompts(int count, int input_len, int max_tokens, uint64_t seed);

// input_len random token ids in [0, n_vocab) avoiding `avoid` (special tokens),
// with bos first when bos >= 0, as llama-bench builds its prompts. Seeded.
std::vector<BenchPrompt> synthetic_token_prompts(int count, int input_len, int max_tokens, int n_vocab, int32_t bos,
                                                 const std::vector<int32_t>& avoid, uint64_t seed);

// Reads a JSONL dataset; throws qinfer::InputError naming the file, line and field.
std::vector<BenchPrompt> load_prompt_dataset(const std::string& path, int default_max_tokens);

}  // namespace qinfer::bench
