// Perplexity and KL-divergence against llama-perplexity's recorded numbers
// (golden/stories260K/ppl.json, kld-base-f32.bin; golden/tiny256/...).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "qinfer/eval/kld_file.h"
#include "qinfer/eval/perplexity.h"
#include "qinfer/model/model.h"
#include "test_util.h"

using namespace qinfer;

namespace {

nlohmann::json load_json(const std::string& rel) {
  std::ifstream f(test::data_path(rel));
  return nlohmann::json::parse(f);
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Runs `chunks` chunks (-1: all, or test::golden_chunks) of -c 128 over
// tinystories-valid-a and compares with llama.cpp's cumulative PPL after that
// many chunks, within 0.1 % relative (1 % when trimmed: test::golden_ppl_tolerance);
// with all of them, also the ± estimate.
void check_ppl(const std::string& model_rel, const std::string& golden_rel, const std::string& key, int chunks) {
  QINFER_REQUIRE_DATA(golden_rel);
  auto golden = load_json(golden_rel);
  const auto& g = golden["results"][key];
  auto m = load_model(test::data_path(model_rel));
  auto tokens = m->tokenizer->encode(read_all(test::data_path("text/tinystories-valid-a.txt")), true, false);
  EXPECT_EQ(tokens.size(), 232767u);  // as llama.cpp tokenized it (golden/stories260K/README.md)
  ContextParams cp;
  cp.n_ctx = 128;
  cp.n_threads = 2;
  Context ctx(*m, cp);
  PerplexityParams pp;
  pp.n_ctx = 128;
  const int all = g["n_chunks"].get<int>();
  if (chunks < 0) chunks = test::golden_chunks(all);
  pp.n_chunks = chunks;
  PerplexityResult r = perplexity(ctx, tokens, pp);
  const double want = chunks == all ? g["ppl"].get<double>() : g["running_ppl"][size_t(chunks - 1)].get<double>();
  EXPECT_NEAR(r.ppl(), want, want * test::golden_ppl_tolerance(chunks, all)) << key << " after " << r.n_chunks << " chunks";
  if (chunks == all) {
    EXPECT_EQ(r.n_chunks, g["n_chunks"].get<int>());
    EXPECT_NEAR(r.ppl_error(), g["ppl_err"].get<double>(), g["ppl_err"].get<double>() * 0.02);
  }
}

}  // namespace

std::string stories_model(const std::string& type) {
  return type == "F32" ? "models/stories260K/stories260K.gguf" : "golden/stories260K/stories260K-" + type + ".gguf";
}

class Stories260KPerplexity : public ::testing::TestWithParam<std::string> {};

// Every chunk of the text (1818 of 128 tokens): the final value and its ±.
TEST_P(Stories260KPerplexity, AllChunksMatchLlamaCpp) {
  check_ppl(stories_model(GetParam()), "golden/stories260K/ppl.json", GetParam(), -1);
}

INSTANTIATE_TEST_SUITE_P(Types, Stories260KPerplexity,
                         ::testing::Values("F32", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"),
                         [](const auto& info) { return info.param; });

// tiny256 (rows of 256, random weights): 100 chunks, types whose tensors are all legacy.
class Tiny256Perplexity : public ::testing::TestWithParam<std::string> {};

TEST_P(Tiny256Perplexity, MatchesLlamaCpp) {
  check_ppl("golden/tiny256/tiny256-" + GetParam() + ".gguf", "golden/tiny256/ppl.json", GetParam(), -1);
}

INSTANTIATE_TEST_SUITE_P(Types, Tiny256Perplexity, ::testing::Values("F32", "Q8_0"),
                         [](const auto& info) { return info.param; });

TEST(KlDivergence, F32AgreesWithLlamaCppLogits) {
  QINFER_REQUIRE_DATA("golden/stories260K/kld-base-f32.bin");
  auto m = load_model(test::data_path("models/stories260K/stories260K.gguf"));
  KldBaseReader base(test::data_path("golden/stories260K/kld-base-f32.bin"));
  EXPECT_EQ(base.n_ctx(), 128);
  EXPECT_EQ(base.n_chunk(), 200);
  ContextParams cp;
  cp.n_ctx = 128;
  cp.n_threads = 2;
  Context ctx(*m, cp);
  PerplexityParams pp;
  pp.base = &base;
  pp.n_chunks = test::golden_chunks(50);
  PerplexityResult r = perplexity(ctx, {}, pp);
  EXPECT_LT(r.kld.mean(), 1e-5);
  EXPECT_GT(r.kld.same_top_fraction(), 0.995);
}

TEST(KlDivergence, Q8_0MatchesLlamaCppSummary) {
  QINFER_REQUIRE_DATA("golden/stories260K/kld.json");
  if (test::golden_chunks(200) < 200) GTEST_SKIP() << "compares the mean over all 200 chunks (QINFER_PPL_CHUNKS is set)";
  auto kld = load_json("golden/stories260K/kld.json");
  auto m = load_model(test::data_path("golden/stories260K/stories260K-Q8_0.gguf"));
  KldBaseReader base(test::data_path("golden/stories260K/kld-base-f32.bin"));
  ContextParams cp;
  cp.n_ctx = 128;
  cp.n_threads = 2;
  Context ctx(*m, cp);
  PerplexityParams pp;
  pp.base = &base;
  PerplexityResult r = perplexity(ctx, {}, pp);
  const double want = kld["results"]["Q8_0"]["mean_kld"].get<double>();
  EXPECT_NEAR(r.kld.mean(), want, want * 0.05);
}

TEST(KlDivergence, WriterRoundTrip) {
  // Our writer's file read back gives log-probs within one quantization step.
  const auto dir = test::scratch_dir();
  const int n_vocab = 7, n_ctx = 8;
  std::vector<int32_t> toks(n_ctx * 2, 1);
  const float logits[n_vocab] = {1.0f, -3.0f, 0.5f, 10.0f, -20.0f, 2.25f, 0.0f};
  {
    KldBaseWriter w((dir / "base.bin").string(), n_ctx, n_vocab, 2, toks.data());
    for (int i = 0; i < 2 * (n_ctx - 1 - n_ctx / 2); ++i) w.add_row(logits, -1.0);
    w.finish();
  }
  KldBaseReader r((dir / "base.bin").string());
  std::vector<float> lp(n_vocab);
  r.log_probs(1, 2, lp.data());
  double mx = 10.0, sum = 0;
  for (float l : logits) sum += std::exp(double(l) - mx);
  for (int i = 0; i < n_vocab; ++i) {
    const double want = double(logits[i]) - mx - std::log(sum);
    if (logits[i] <= mx - 16) EXPECT_NEAR(lp[size_t(i)], -16.0 - std::log(sum), 1e-3);  // clamped to the floor
    else EXPECT_NEAR(lp[size_t(i)], want, 16.0 / 65535 + 1e-5) << i;
  }
}
