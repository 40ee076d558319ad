// Greedy continuations must be token-for-token llama.cpp's (golden/*/greedy*.json).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "qinfer/model/model.h"
#include "qinfer/runtime/generate.h"
#include "greedy.h"
#include "test_util.h"

using namespace qinfer;

namespace {

void expect_ids(const std::vector<int32_t>& got, const nlohmann::json& want_json, const nlohmann::json& margins) {
  std::vector<int32_t> want = want_json.get<std::vector<int32_t>>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_EQ(got[i], want[i]) << "first mismatch at step " << i << " (llama.cpp top1-top2 gap there: "
                               << (i < margins.size() ? margins[i].get<double>() : -1.0) << ")";
}

nlohmann::json load_json(const std::string& rel) {
  std::ifstream f(test::data_path(rel));
  return nlohmann::json::parse(f);
}

void check_golden_file(const std::string& model_rel, const std::string& golden_rel, const LoadOptions& opt = {},
                       int threads = 1) {
  auto m = load_model(test::data_path(model_rel), opt);
  nlohmann::json golden = load_json(golden_rel);
  if (!golden.is_array()) golden = nlohmann::json::array({golden});
  for (const auto& g : golden) {
    SCOPED_TRACE(g["prompt"].get<std::string>());
    const std::vector<int32_t> prompt = m->tokenizer->encode(g["prompt"].get<std::string>(), true, true);
    EXPECT_EQ(prompt, g["prompt_ids"].get<std::vector<int32_t>>());
    const auto got = test::greedy_tokens(*m, prompt, g["n_predict"].get<int>(), {.threads = threads});
    expect_ids(got, g["generated_ids"], g["top1_minus_top2_logit_per_step"]);
    if (g.contains("generated_text") && g.value("generated_text_is_valid_utf8", true)) {
      std::string text;
      for (int32_t t : got) text += m->tokenizer->token_to_piece(t, false);
      EXPECT_EQ(text, g["generated_text"].get<std::string>());
    }
  }
}

}  // namespace

TEST(GreedyGolden, Stories260KGguf) {
  QINFER_REQUIRE_DATA("golden/stories260K/greedy.json");
  check_golden_file("models/stories260K/stories260K.gguf", "golden/stories260K/greedy.json");
}

TEST(GreedyGolden, Stories260KGgufTwoThreads) {
  QINFER_REQUIRE_DATA("golden/stories260K/greedy.json");
  check_golden_file("models/stories260K/stories260K.gguf", "golden/stories260K/greedy.json", {}, 2);
}

TEST(GreedyGolden, Stories260KLlama2c) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.bin");
  LoadOptions opt;
  opt.tokenizer_path = test::data_path("models/stories260K/tok512.bin");
  check_golden_file("models/stories260K/stories260K.bin", "golden/stories260K/greedy.json", opt);
}

TEST(GreedyGolden, Tiny256F32) {
  QINFER_REQUIRE_DATA("golden/tiny256/greedy-F32.json");
  check_golden_file("golden/tiny256/tiny256-F32.gguf", "golden/tiny256/greedy-F32.json");
}
