// End to end through the k-quant and IQ4_NL kernels: every golden tiny256
// file llama-quantize wrote with k-quant tensors (the K types, IQ4_NL, and the
// legacy types whose output tensor is Q6_K) gives llama-perplexity's number,
// 100 chunks of 128 tokens, within 0.1 % (golden/tiny256/ppl.json); the aarch64
// checks under qemu trim it to the first few (test::golden_chunks).
// About 1.5-2.5 s per file on one thread of the (shared, Zen 4) development machine.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "qinfer/eval/perplexity.h"
#include "qinfer/model/model.h"
#include "test_util.h"

using namespace qinfer;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class Tiny256KQuantPerplexity : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(Tiny256KQuantPerplexity, MatchesLlamaCpp) {
  const std::string key = GetParam();
  const std::string model_rel = "golden/tiny256/tiny256-" + key + ".gguf";
  QINFER_REQUIRE_DATA(model_rel);
  QINFER_REQUIRE_DATA("golden/tiny256/ppl.json");
  std::ifstream jf(test::data_path("golden/tiny256/ppl.json"));
  const auto golden = nlohmann::json::parse(jf);
  const auto& g = golden["results"][key];
  ASSERT_FALSE(g.is_null()) << "no golden entry for " << key;

  auto m = load_model(test::data_path(model_rel));
  const auto tokens = m->tokenizer->encode(read_all(test::data_path("text/tinystories-valid-a.txt")), true, false);
  ContextParams cp;
  cp.n_ctx = 128;
  cp.n_threads = 1;  // the thread pool spins: on a busy machine 2 threads ran 6× slower than 1
  Context ctx(*m, cp);
  PerplexityParams pp;
  pp.n_ctx = 128;
  const int all = g["n_chunks"].get<int>();
  pp.n_chunks = test::golden_chunks(all);  // all, or the first few under qemu
  const PerplexityResult r = perplexity(ctx, tokens, pp);
  const double want =
      pp.n_chunks == all ? g["ppl"].get<double>() : g["running_ppl"][size_t(pp.n_chunks - 1)].get<double>();
  EXPECT_EQ(r.n_chunks, pp.n_chunks);
  EXPECT_NEAR(r.ppl(), want, want * test::golden_ppl_tolerance(pp.n_chunks, all)) << key << " after " << r.n_chunks
                                                                                  << " chunks";
  if (pp.n_chunks == all) {
    EXPECT_NEAR(r.ppl_error(), g["ppl_err"].get<double>(), g["ppl_err"].get<double>() * 0.02) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Files, Tiny256KQuantPerplexity,
                         ::testing::Values("Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S",
                                           "Q5_K_M", "Q6_K", "IQ4_NL", "Q4_K_M-imatrix", "IQ4_NL-imatrix", "Q4_0",
                                           "Q4_1", "Q5_0", "Q5_1"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });
