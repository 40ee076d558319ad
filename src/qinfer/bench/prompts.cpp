#include "qinfer/bench/prompts.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "qinfer/core/error.h"

namespace qinfer::bench {

namespace {

// Frequent short words: single tokens with a leading space in Llama, Mistral,
// GPT-2/Qwen and Gemma vocabularies.
const char* const kWords[] = {
    "the",  "of",   "and",  "to",   "in",   "is",   "was",  "for",  "that", "with", "on",   "as",   "it",
    "by",   "at",   "from", "his",  "her",  "he",   "she",  "they", "we",   "you",  "this", "be",   "are",
    "had",  "not",  "but",  "or",   "have", "one",  "all",  "were", "there", "when", "their", "which", "an",
    "more", "time", "day",  "way",  "man",  "good", "new",  "old",  "big",  "small", "long", "little", "great",
    "first", "last", "home", "water", "tree", "sun",  "dog",  "cat",  "bird", "house", "friend", "play", "happy",
    "said", "went", "came", "saw",  "made", "could", "would", "about", "into", "over", "after", "very", "just"};

}  // namespace

std::vector<BenchPrompt> synthetic_text_prompts(int count, int input_len, int max_tokens, uint64_t seed) {
  if (count < 0 || input_len < 1) throw InputError("--input-len must be at least 1");
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, std::size(kWords) - 1);
  std::vector<BenchPrompt> out(static_cast<size_t>(count));
  for (BenchPrompt& p : out) {
    for (int i = 0; i < input_len; ++i) {
      if (i) p.text += ' ';
      p.text += kWords[pick(rng)];
    }
    p.input_tokens = input_len;
    p.max_tokens = max_tokens;
  }
  return out;
}

std::vector<BenchPrompt> synthetic_token_prompts(int count, int input_len, int max_tokens, int n_vocab, int32_t bos,
                                                 const std::vector<int32_t>& avoid, uint64_t seed) {
  if (input_len < 1) throw InputError("--input-len must be at least 1");
  if (n_vocab <= int(avoid.size())) throw InputError("model vocabulary has no ordinary tokens to build prompts from");
  std::vector<int32_t> sorted_avoid = avoid;
  std::sort(sorted_avoid.begin(), sorted_avoid.end());
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> any(0, n_vocab - 1);
  std::vector<BenchPrompt> out(size_t(std::max(count, 0)));
  for (BenchPrompt& p : out) {
    p.tokens.resize(size_t(input_len));
    for (int32_t& t : p.tokens) {
      do t = any(rng);
      while (std::binary_search(sorted_avoid.begin(), sorted_avoid.end(), t));
    }
    if (bos >= 0) p.tokens[0] = bos;
    p.input_tokens = input_len;
    p.max_tokens = max_tokens;
  }
  return out;
}

std::vector<BenchPrompt> load_prompt_dataset(const std::string& path, int default_max_tokens) {
  std::ifstream f(path);
  if (!f) throw InputError(path + ": cannot open dataset");
  std::vector<BenchPrompt> out;
  std::string line;
  for (int ln = 1; std::getline(f, line); ++ln) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(ln) + ": ";
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw InputError(where + "not a JSON object");
    BenchPrompt p;
    p.max_tokens = default_max_tokens;
    if (auto it = j.find("max_tokens"); it != j.end()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 1000000)
        throw InputError(where + "\"max_tokens\" must be a positive integer");
      p.max_tokens = it->get<int>();
    }
    if (auto it = j.find("prompt"); it != j.end()) {
      if (!it->is_string() || it->get<std::string>().empty())
        throw InputError(where + "\"prompt\" must be a non-empty string");
      p.text = it->get<std::string>();
    } else if (auto m = j.find("messages"); m != j.end()) {
      if (!m->is_array() || m->empty()) throw InputError(where + "\"messages\" must be a non-empty array");
      for (const auto& msg : *m) {
        if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string() || !msg.contains("content") ||
            !msg["content"].is_string())
          throw InputError(where + "each of \"messages\" needs string \"role\" and \"content\"");
        p.messages.push_back({msg["role"].get<std::string>(), msg["content"].get<std::string>()});
      }
    } else {
      throw InputError(where + "needs a \"prompt\" string or a \"messages\" array");
    }
    // Rough length until a tokenizer (in-process) or the server's usage says better.
    size_t words = 0;
    auto count_words = [&](const std::string& s) {
      bool in = false;
      for (char c : s) {
        const bool sp = c == ' ' || c == '\n' || c == '\t' || c == '\r';
        if (!sp && !in) ++words;
        in = !sp;
      }
    };
    count_words(p.text);
    for (const ChatMessage& msg : p.messages) count_words(msg.content);
    p.input_tokens = int(words);
    out.push_back(std::move(p));
  }
  if (f.bad()) throw InputError(path + ": read error");
  if (out.empty()) throw InputError(path + ": dataset has no prompts");
  return out;
}

}  // namespace qinfer::bench
