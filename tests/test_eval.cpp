// qinfer eval: HellaSwag scoring by hand with a fake scorer, the task-file
// format, llama.cpp's KL-divergence summary on golden/stories260K, and the
// command end to end on data/hellaswag-sample.jsonl.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "cli_runner.h"
#include "qinfer/core/error.h"
#include "qinfer/eval/hellaswag.h"
#include "qinfer/eval/kld_file.h"
#include "qinfer/eval/kld_summary.h"
#include "qinfer/eval/perplexity.h"
#include "qinfer/model/model.h"
#include "qinfer/runtime/context.h"
#include "qinfer/store/results_store.h"
#include "test_util.h"

namespace qinfer {
namespace {

// The checkout this test was built from (CMake passes absolute source paths).
// Not __FILE__: with ccache's base_dir it is relative to the build directory, not ctest's.
std::string repo_dir() { return QINFER_SOURCE_DIR; }

// Words a..g are tokens 10..16 after BOS 1; log p(token) = −0.1·(token − 10),
// whatever the context, so every score is easy to compute by hand.
struct FakeModel {
  std::vector<std::pair<std::vector<int32_t>, size_t>> calls;
  SequenceScorer scorer() {
    SequenceScorer s;
    s.tokenize = [](const std::string& text) {
      std::vector<int32_t> ids = {1};
      std::istringstream in(text);
      std::string w;
      while (in >> w) ids.push_back(10 + (w[0] - 'a'));
      return ids;
    };
    s.log_probs = [this](const std::vector<int32_t>& t, size_t first) {
      calls.emplace_back(t, first);
      std::vector<double> out;
      for (size_t i = first; i < t.size(); ++i) out.push_back(-0.1 * (t[i] - 10));
      return out;
    };
    return s;
  }
};

TEST(Hellaswag, HandComputedScoresWithFakeScorer) {
  std::vector<HellaswagTask> tasks(3);
  // Common prefix BOS a b: c = −0.2; d d = −0.3; e f = −0.45; c g = −0.4 → ending 0.
  tasks[0] = {"a b", {"c", "d d", "e f", "c g"}, 2};
  // Normalisation matters: g = −0.6 (sum −0.6) but c c c c averages −0.2 (sum −0.8) → ending 1.
  tasks[1] = {"a", {"g", "c c c c", "d", "e e"}, 1};
  // The endings share their first word: the common prefix is BOS a b and only c/d/e/f are scored.
  tasks[2] = {"a", {"b c", "b d", "b e", "b f"}, 0};
  FakeModel fake;
  const HellaswagResult r = hellaswag(tasks, fake.scorer());
  ASSERT_EQ(r.tasks.size(), 3u);
  EXPECT_NEAR(r.tasks[0].score[0], -0.2, 1e-12);
  EXPECT_NEAR(r.tasks[0].score[1], -0.3, 1e-12);
  EXPECT_NEAR(r.tasks[0].score[2], -0.45, 1e-12);
  EXPECT_NEAR(r.tasks[0].score[3], -0.4, 1e-12);
  EXPECT_EQ(r.tasks[0].predicted, 0);
  EXPECT_NEAR(r.tasks[1].score[0], -0.6, 1e-12);
  EXPECT_NEAR(r.tasks[1].score[1], -0.2, 1e-12);
  EXPECT_EQ(r.tasks[1].predicted, 1);
  EXPECT_NEAR(r.tasks[2].score[3], -0.5, 1e-12);
  EXPECT_EQ(r.tasks[2].predicted, 0);
  for (int e = 0; e < 4; ++e) EXPECT_EQ(fake.calls[size_t(8 + e)].second, 3u);  // task 3 scores from position 3
  EXPECT_EQ(fake.calls[0].second, 3u);                                            // task 1: BOS a b shared
  EXPECT_EQ(r.n_correct, 2);
  EXPECT_NEAR(r.accuracy(), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(r.accuracy_err(), std::sqrt(2.0 / 3.0 * (1.0 / 3.0) / 2.0), 1e-12);
  // --tasks 1 stops after the first.
  EXPECT_EQ(hellaswag(tasks, fake.scorer(), 1).tasks.size(), 1u);
}

TEST(Hellaswag, JsonlFormat) {
  const std::string text =
      R"({"activity_label": "Baking cookies", "ctx": "A woman [header] mixes  flour. [title] She", "endings": ["bakes.", " stirs. ", "c", "d"], "label": "1"})"
      "\n\n"
      R"({"ctx": "x", "endings": ["a", "b", "c", "d"], "label": 3})"
      "\n";
  const auto tasks = parse_hellaswag_jsonl(text, "t.jsonl");
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].context, "Baking cookies: A woman mixes flour.. She");
  EXPECT_EQ(tasks[0].endings[1], "stirs.");
  EXPECT_EQ(tasks[0].label, 1);
  EXPECT_EQ(tasks[1].context, "x");
  EXPECT_EQ(tasks[1].label, 3);
  auto error_of = [](const std::string& s) {
    try {
      parse_hellaswag_jsonl(s, "t.jsonl");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of("{\"ctx\": \"x\", \"endings\": [\"a\"], \"label\": 0}"),
            "t.jsonl:1: field \"endings\" must be an array of 4 strings");
  EXPECT_EQ(error_of("\n{\"ctx\": \"x\", \"endings\": [\"a\",\"b\",\"c\",\"d\"], \"label\": 4}"),
            "t.jsonl:2: field \"label\" must be 0, 1, 2 or 3");
  EXPECT_EQ(error_of("{\"endings\": [\"a\",\"b\",\"c\",\"d\"], \"label\": 0}"), "t.jsonl:1: field \"ctx\" must be a string");
  EXPECT_EQ(error_of("not json"), "t.jsonl:1: not a JSON object");
  EXPECT_EQ(error_of("\n"), "t.jsonl: no tasks");
}

TEST(Hellaswag, SampleFileParses) {
  const auto tasks = load_hellaswag_jsonl(repo_dir() + "/data/hellaswag-sample.jsonl");
  EXPECT_EQ(tasks.size(), 8u);
  EXPECT_EQ(tasks[2].label, 2);  // a string label, as the HF files have them
}

// The summary's arithmetic on a small hand-made result.
TEST(KldSummary, FormulasOnSyntheticData) {
  PerplexityResult r;
  const int n = 20;
  for (int i = 0; i < n; ++i) {
    const double nll = 1.0 + 0.1 * (i % 5), nll_base = 1.0 + 0.1 * (i % 4);
    r.nll += nll;
    r.nll2 += nll * nll;
    r.kld.base_nll += nll_base;
    r.kld.base_nll2 += nll_base * nll_base;
    r.kld.nll_nll_base += nll * nll_base;
    r.kld.kld.push_back(0.01 * i);
    r.kld.p_diff.push_back(float(std::exp(-nll) - std::exp(-nll_base)));
    if (i % 4 != 0) ++r.kld.same_top;
  }
  r.n_scored = n;
  const KldSummary s = summarize_kld(r);
  // means: nll over i%5 cycles = 1.2, base over i%4 = 1.15
  EXPECT_NEAR(s.ppl.value, std::exp(1.2), 1e-12);
  EXPECT_NEAR(s.ppl_base.value, std::exp(1.15), 1e-12);
  EXPECT_NEAR(s.ln_ppl_ratio.value, 0.05, 1e-12);
  // var(nll) = 0.02 (population), u = sqrt(0.02/19)
  EXPECT_NEAR(s.ppl.err, std::exp(1.2) * std::sqrt(0.02 / 19), 1e-12);
  EXPECT_NEAR(s.kld_mean.value, 0.095, 1e-12);
  EXPECT_NEAR(s.kld_median, 0.095, 1e-12);     // mean of 0.09 and 0.10
  EXPECT_NEAR(s.kld_p99, 0.01 * 18.81, 1e-12);  // 0.99·19 = 18.81
  EXPECT_NEAR(s.kld_max, 0.19, 1e-12);
  EXPECT_NEAR(s.same_top.value, 0.75, 1e-12);
  EXPECT_NEAR(s.same_top.err, std::sqrt(0.75 * 0.25 / 19), 1e-12);
  EXPECT_NEAR(s.ppl_diff.value, std::exp(1.2) - std::exp(1.15), 1e-12);
}

// Reads "Label : value ± err" lines of llama.cpp's summary.
std::map<std::string, std::pair<double, double>> parse_llama_summary(const std::string& text) {
  std::map<std::string, std::pair<double, double>> out;
  std::istringstream in(text);
  std::string line;
  const std::regex re(R"(^\s*(.*?)\s*:\s*(-?[0-9.]+)%?\s*(?:±\s*(-?[0-9.]+))?\s*%?\s*$)");
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_match(line, m, re)) out[m[1]] = {std::stod(m[2]), m[3].matched ? std::stod(m[3]) : 0.0};
  return out;
}

// qinfer's KLD statistics against llama.cpp's F32 logits files must be
// llama.cpp's own numbers (golden/<model>/kld-<type>.txt). Our quantized
// logits are not llama.cpp's bit for bit (summation order; llama.cpp also
// rounds activations to Q8_0/Q8_K inside its dot products), and the KLDs are
// small (Q8_0: 6.75e-4), so that noise is a visible fraction of them.
// Measured on stories260K-Q8_0: PPL 2e-5 relative; ln ratio, ratio, ΔPPL and
// median KLD 1-2%; mean KLD 0.1%; the tails (max, 99%) 2.5-3%, set by a
// handful of tokens; same-top 1 token of 12600. Tolerances: 5e-4 relative for
// PPL(Q), PPL(base) and their ±; 3% for the differences (or a tenth of
// llama.cpp's ± where the difference is ~0) and the central KLD statistics;
// 6% for the tails; 1e-6 absolute floor (the printed precision).
struct KldCase {
  const char* model;  // golden/<model>/
  const char* type;
};
class KldGolden : public ::testing::TestWithParam<KldCase> {};

TEST_P(KldGolden, MatchesLlamaCppSummary) {
  const std::string dir = std::string("golden/") + GetParam().model + "/";
  const std::string type = GetParam().type;
  QINFER_REQUIRE_DATA(dir + "kld-" + type + ".txt");
  const auto want = parse_llama_summary(test::slurp(test::data_path(dir + "kld-" + type + ".txt")));
  ASSERT_GT(want.size(), 10u);
  auto m = load_model(test::data_path(dir + GetParam().model + "-" + type + ".gguf"));
  KldBaseReader base(test::data_path(dir + "kld-base-f32.bin"));
  ContextParams cp;
  cp.n_ctx = base.n_ctx();
  cp.n_threads = 1;  // tiny models: threads only add synchronisation
  Context ctx(*m, cp);
  PerplexityParams pp;
  pp.base = &base;
  const KldSummary s = summarize_kld(perplexity(ctx, {}, pp));
  std::printf("%s", format_kld_summary(s).c_str());
  auto near = [&](const std::string& key, double got, double got_err, double rel) {
    ASSERT_TRUE(want.count(key)) << key;
    const auto [v, e] = want.at(key);
    EXPECT_NEAR(got, v, std::max(1e-6, rel * std::fabs(v))) << key;
    EXPECT_NEAR(got_err, e, std::max(1e-6, rel * std::fabs(e))) << key << " ±";
  };
  EXPECT_EQ(s.count, int64_t(base.n_chunk()) * base.rows_per_chunk());
  near("Mean PPL(Q)", s.ppl.value, s.ppl.err, 5e-4);
  near("Mean PPL(base)", s.ppl_base.value, s.ppl_base.err, 5e-4);
  // A difference near zero (tiny256: ln ratio −0.0013 ± 0.0017) cannot be matched relatively;
  // there a tenth of llama.cpp's own uncertainty is the bound.
  auto near_diff = [&](const std::string& key, double got, double got_err) {
    ASSERT_TRUE(want.count(key)) << key;
    const auto [v, e] = want.at(key);
    EXPECT_NEAR(got, v, std::max({1e-6, 0.03 * std::fabs(v), 0.1 * e})) << key;
    EXPECT_NEAR(got_err, e, std::max(1e-6, 0.03 * e)) << key << " ±";
  };
  near_diff("Mean PPL(Q)/PPL(base)", s.ppl_ratio.value, s.ppl_ratio.err);
  near_diff("Mean ln(PPL(Q)/PPL(base))", s.ln_ppl_ratio.value, s.ln_ppl_ratio.err);
  near_diff("Mean PPL(Q)-PPL(base)", s.ppl_diff.value, s.ppl_diff.err);
  near("Mean    KLD", s.kld_mean.value, s.kld_mean.err, 0.03);
  near("Maximum KLD", s.kld_max, 0, 0.06);
  near("99.0%   KLD", s.kld_p99, 0, 0.06);
  near("Median  KLD", s.kld_median, 0, 0.03);
  EXPECT_NEAR(100 * s.cor_ln_ppl, want.at("Cor(ln(PPL(Q)), ln(PPL(base)))").first, 0.01);
  // Top-1 agreement flips on near-ties (tiny256's logits are nearly flat): 0.1 points or half a σ.
  EXPECT_NEAR(100 * s.same_top.value, want.at("Same top p").first, std::max(0.1, 0.5 * want.at("Same top p").second));
  EXPECT_NEAR(100 * s.same_top.err, want.at("Same top p").second, 0.002);
}

INSTANTIATE_TEST_SUITE_P(Types, KldGolden,
                         ::testing::Values(KldCase{"stories260K", "Q8_0"}, KldCase{"stories260K", "Q4_0"},
                                           KldCase{"stories260K", "Q5_1"}, KldCase{"tiny256", "Q4_K_M"},
                                           KldCase{"tiny256", "Q6_K"}),
                         [](const auto& info) { return std::string(info.param.model) + "_" + info.param.type; });

TEST(EvalCommand, HellaswagSampleWithStories260KIsRecorded) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  const auto dir = test::scratch_dir();
  const std::string db = (dir / "r.db").string();
  const auto r = test::run_qinfer("eval -m " + test::data_path("models/stories260K/stories260K.gguf") +
                                  " --hellaswag " + repo_dir() +
                                  "/data/hellaswag-sample.jsonl -c 128 -t 1 --db " + db + " --label sample");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("HellaSwag accuracy:"), std::string::npos) << r.out;
  ResultStore store(db, ResultStore::Mode::ReadOnly);
  const auto runs = store.list();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].kind, "eval");
  EXPECT_EQ(runs[0].label, "sample");
  EXPECT_EQ(runs[0].model.sha256.size(), 64u);
  EXPECT_EQ(*runs[0].find(metric::kHellaswagTasks), 8);
  const double acc = *runs[0].find(metric::kHellaswagAcc);
  EXPECT_EQ(std::fmod(acc, 12.5), 0.0);  // k of 8 tasks
  std::printf("stories260K on the sample: %.1f %%\n", acc);
  // A corrupt database stops the command before any work, and stays as it was.
  const std::string bad = (dir / "bad.db").string();
  { std::ofstream(bad) << "not a database"; }
  const auto r2 = test::run_qinfer("eval -m " + test::data_path("models/stories260K/stories260K.gguf") +
                                   " --hellaswag " + repo_dir() + "/data/hellaswag-sample.jsonl -t 1 --db " + bad);
  EXPECT_EQ(r2.exit_code, 2);
  EXPECT_NE(r2.err.find("not a SQLite database"), std::string::npos) << r2.err;
  EXPECT_EQ(test::slurp(bad), "not a database");
}

}  // namespace
// Several models' continuations of the same prompts, side by side in the report.
TEST(EvalCommand, PromptsGiveSideBySideGenerations) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  QINFER_REQUIRE_DATA("golden/stories260K/stories260K-Q4_0.gguf");
  const auto dir = test::scratch_dir();
  const std::string db = (dir / "r.db").string(), prompts = (dir / "prompts.txt").string();
  std::ofstream(prompts) << "Once upon a time\n\nThe cat | sat <b>\n";
  for (const char* m : {"models/stories260K/stories260K.gguf", "golden/stories260K/stories260K-Q4_0.gguf"}) {
    const auto r = test::run_qinfer("eval -m " + test::data_path(m) + " --prompts " + prompts +
                                    " --gen-tokens 10 -t 1 --db " + db);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("[Once upon a time]"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("Final estimate"), std::string::npos) << r.out;  // only what was asked for
  }
  // The F32 continuation is `qinfer run`'s greedy one.
  const auto runs = ResultStore(db, ResultStore::Mode::ReadOnly).list();
  ASSERT_EQ(runs.size(), 2u);
  const auto params = nlohmann::json::parse(runs[0].params_json);
  ASSERT_EQ(params["samples"].size(), 2u);
  const std::string text = params["samples"][0]["text"];
  const auto gen = test::run_qinfer("run -m " + test::data_path("models/stories260K/stories260K.gguf") +
                                    " -p \"Once upon a time\" -n 10 --temp 0 -t 1");
  EXPECT_NE(gen.out.find(text), std::string::npos) << gen.out << " vs " << text;

  const auto rep = test::run_qinfer("report --db " + db + " -o " + (dir / "out").string());
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  const std::string md = test::slurp((dir / "out/report.md").string());
  const size_t at = md.find("## Side-by-side generations");
  ASSERT_NE(at, std::string::npos) << md;
  const std::string section = md.substr(at);
  EXPECT_NE(section.find("### Once upon a time"), std::string::npos) << section;
  EXPECT_NE(section.find("| stories260K |"), std::string::npos) << section;
  EXPECT_NE(section.find("| stories260K-Q4_0 |"), std::string::npos) << section;
  EXPECT_NE(section.find("The cat \\| sat &lt;b&gt;"), std::string::npos) << section;  // escaped, not markup
  const std::string html = test::slurp((dir / "out/report.html").string());
  EXPECT_NE(html.find("The cat | sat &lt;b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("sat <b>"), std::string::npos);

  const auto bad = test::run_qinfer("eval -m " + test::data_path("models/stories260K/stories260K.gguf") +
                                    " --prompts " + (dir / "empty.txt").string() + " --no-db");
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace qinfer
