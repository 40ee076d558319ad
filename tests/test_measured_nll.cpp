// The baseline's measured target log-probs beside a logits file
// (eval/measured_nll.h): ΔPPL against a base is the difference of two
// measured perplexities, not of one measured and one recomputed from the
// file's floored, 16-bit log-probs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "qinfer/core/read_file.h"
#include "qinfer/core/warn.h"
#include "qinfer/eval/kld_file.h"
#include "qinfer/eval/kld_summary.h"
#include "qinfer/eval/measured_nll.h"
#include "qinfer/eval/perplexity.h"
#include "qinfer/model/model.h"
#include "test_util.h"

using namespace qinfer;

namespace {

constexpr int kVocab = 5, kCtx = 8, kChunks = 2;
constexpr int kRows = kCtx - 1 - kCtx / 2;

void write_base(const std::string& path, int32_t token) {
  std::vector<int32_t> toks(kCtx * kChunks, token);
  const float logits[kVocab] = {1.0f, -30.0f, 0.5f, 3.0f, 0.0f};
  KldBaseWriter w(path, kCtx, kVocab, kChunks, toks.data());
  for (int i = 0; i < kChunks * kRows; ++i) w.add_row(logits, -0.25 * i);
  w.finish();
}

}  // namespace

TEST(MeasuredNll, SidecarGivesTheWrittenLogProbsBack) {
  const std::string path = (test::scratch_dir() / "base.bin").string();
  write_base(path, 1);
  ASSERT_TRUE(std::filesystem::exists(measured_nll_path(path)));
  KldBaseReader r(path);
  ASSERT_TRUE(r.has_measured_log_probs());
  for (int c = 0; c < kChunks; ++c)
    for (int j = 0; j < kRows; ++j) EXPECT_EQ(r.measured_log_prob(c, j), -0.25 * (c * kRows + j));
}

TEST(MeasuredNll, ASidecarOfOtherLogitsIsIgnoredWithAWarning) {
  const auto dir = test::scratch_dir();
  const std::string path = (dir / "base.bin").string(), other = (dir / "other.bin").string();
  write_base(path, 1);
  write_base(other, 2);  // same sizes, other tokens
  std::filesystem::copy_file(other, path, std::filesystem::copy_options::overwrite_existing);
  std::vector<std::string> warnings;
  const WarningSink old = set_warning_sink([&](const std::string& m) { warnings.push_back(m); });
  KldBaseReader r(path);
  set_warning_sink(old);
  EXPECT_FALSE(r.has_measured_log_probs());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(measured_nll_path(path)), std::string::npos) << warnings[0];

  // A truncated sidecar likewise.
  write_base(path, 1);
  std::filesystem::resize_file(measured_nll_path(path), 30);
  warnings.clear();
  set_warning_sink([&](const std::string& m) { warnings.push_back(m); });
  KldBaseReader t(path);
  set_warning_sink(old);
  EXPECT_FALSE(t.has_measured_log_probs());
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(MeasuredNll, LogitsFileWithoutSidecarKeepsLlamaPerplexitysFormula) {
  const std::string path = (test::scratch_dir() / "base.bin").string();
  write_base(path, 1);
  std::filesystem::remove(measured_nll_path(path));
  KldBaseReader r(path);
  EXPECT_FALSE(r.has_measured_log_probs());
}

// A model against its own saved logits: the measured ΔPPL is exactly zero and
// PPL(base) is the saving pass's perplexity; the one recomputed from the
// file is not bit-exact (16-bit log-probs).
TEST(MeasuredNll, StoriesAgainstItsOwnBaseHasZeroMeasuredDelta) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  const std::string path = (test::scratch_dir() / "base.bin").string();
  auto m = load_model(test::data_path("models/stories260K/stories260K.gguf"));
  const auto tokens =
      m->tokenizer->encode(read_whole_file(test::data_path("text/tinystories-valid-a.txt")), true, false);
  ContextParams cp;
  cp.n_ctx = 128;
  cp.n_threads = 1;
  Context ctx(*m, cp);
  PerplexityParams pp;
  pp.n_ctx = 128;
  pp.n_chunks = 3;
  PerplexityResult saved;
  {
    KldBaseWriter w(path, 128, m->config.n_vocab, 3, tokens.data());
    pp.save = &w;
    saved = perplexity(ctx, tokens, pp);
    w.finish();
  }
  KldBaseReader base(path);
  ASSERT_TRUE(base.has_measured_log_probs());
  PerplexityParams cmp;
  cmp.base = &base;
  const PerplexityResult r = perplexity(ctx, {}, cmp);
  const KldSummary s = summarize_kld(r);
  ASSERT_TRUE(s.has_measured_base);
  EXPECT_DOUBLE_EQ(s.measured_ppl_base.value, saved.ppl());
  EXPECT_DOUBLE_EQ(s.measured_ppl_diff.value, 0.0);
  EXPECT_NE(s.ppl_base.value, saved.ppl());
  EXPECT_NEAR(s.ppl_base.value, saved.ppl(), 1e-3 * saved.ppl());
  EXPECT_NE(format_kld_summary(s).find("Measured PPL(base)"), std::string::npos);
}
