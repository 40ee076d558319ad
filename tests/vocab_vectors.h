// llama.cpp's tokenizer test vectors in ../shared/data/vocab: for each
// ggml-vocab-NAME.gguf, NAME.gguf.inp (inputs separated by
// "\n__ggml_vocab_test__\n") and NAME.gguf.out (the ids of each, one line).
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace qinfer::test {

// The vocabularies that come with vectors, as test parameters.
inline const std::vector<std::string> kVocabsWithVectors = {"llama-spm", "gpt-2",   "falcon",  "deepseek-llm",
                                                            "starcoder", "mpt",     "bert-bge"};

// "deepseek-llm" -> "deepseek_llm": a test name part.
inline std::string vocab_param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (char& c : n)
    if (c == '-') c = '_';
  return n;
}

struct VocabVectorFiles {
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;  // the expected ids of inputs[i], space-separated
};

// Reads the vectors of data_path(base) ("vocab/ggml-vocab-NAME.gguf").
inline VocabVectorFiles read_vocab_vectors(const std::string& base) {
  const auto slurp = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  VocabVectorFiles v;
  const std::string raw = slurp(data_path(base + ".inp"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    v.inputs.push_back(raw.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) break;
    pos = next + sep.size();
  }
  std::istringstream is(slurp(data_path(base + ".out")));
  for (std::string line; std::getline(is, line);) v.outputs.push_back(line);
  return v;
}

}  // namespace qinfer::test
