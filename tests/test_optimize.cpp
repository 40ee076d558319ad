// qinfer optimize end to end on stories260K: the comparison is complete,
// internally consistent, and ordered the way quantization must order it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "qinfer/core/error.h"
#include "qinfer/optimize/budget.h"
#include "qinfer/optimize/optimize.h"
#include "qinfer/optimize/table.h"
#include "qinfer/quantize/calibration.h"
#include "qinfer/optimize/variant.h"
#include "qinfer/store/results_store.h"
#include "test_util.h"

using namespace qinfer;
using namespace qinfer::test;

namespace {

const char* kStories = "models/stories260K/stories260K.gguf";
const char* kText = "text/tinystories-valid-a.txt";

std::string small_run_args(const std::filesystem::path& out) {
  return "optimize " + data_path(kStories) + " --types Q8_0,Q4_0 --eval-text " + data_path(kText) +
         " -o " + out.string() + " -p 32 -n 16 -r 1 --chunks 6 -t 1 --sample-tokens 12 --db " +
         (out.parent_path() / "results.db").string();
}

}  // namespace

TEST(Optimize, ComparesBaselineAndEachType) {
  QINFER_REQUIRE_DATA(kStories);
  const auto dir = scratch_dir();
  const CliResult r = run_qinfer(small_run_args(dir / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| type"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| Q4_0"), std::string::npos) << r.out;

  const auto j = nlohmann::json::parse(slurp((dir / "out" / "results.json").string()));
  const auto rows = j.get<std::vector<VariantResult>>();
  ASSERT_EQ(rows.size(), 3u);
  const VariantResult &base = rows[0], &q8 = rows[1], &q4 = rows[2];
  EXPECT_TRUE(base.baseline);
  EXPECT_EQ(base.label, "F32 (base)");
  EXPECT_EQ(q8.label, "Q8_0");
  EXPECT_EQ(q4.label, "Q4_0");
  for (const auto& v : rows) {
    EXPECT_TRUE(std::filesystem::exists(v.path)) << v.path;
    EXPECT_EQ(v.file_bytes, int64_t(std::filesystem::file_size(v.path)));
    EXPECT_GT(v.pp_tps, 0);
    EXPECT_GT(v.tg_tps, 0);
    EXPECT_GT(v.peak_rss_bytes, v.model_bytes);
    EXPECT_GT(v.ppl, 1);
  }
  // Fewer bits: smaller files, further from the baseline.
  EXPECT_GT(base.file_bytes, q8.file_bytes);
  EXPECT_GT(q8.file_bytes, q4.file_bytes);
  EXPECT_GT(base.bits_per_weight, q8.bits_per_weight);
  EXPECT_GT(q8.bits_per_weight, q4.bits_per_weight);
  EXPECT_GT(q8.kld_mean, 0);
  EXPECT_GT(q4.kld_mean, q8.kld_mean);
  EXPECT_LT(q4.same_top_pct, q8.same_top_pct);
  EXPECT_LE(q8.same_top_pct, 100);
  // Each variant's perplexity is what `qinfer perplexity` prints for its file and the same chunks.
  for (const VariantResult* v : {&base, &q4}) {
    const CliResult ppl =
        run_qinfer("perplexity -m " + v->path + " -f " + data_path(kText) + " -c 128 --chunks 6 -t 1");
    ASSERT_EQ(ppl.exit_code, 0) << ppl.err;
    char want[32];
    std::snprintf(want, sizeof want, "PPL = %.4f", v->ppl);
    EXPECT_NE(ppl.out.find(want), std::string::npos) << v->label << ": " << ppl.out;
  }
  // ΔPPL is llama-perplexity's PPL(Q) − PPL(base), whose base side comes from
  // the stored uint16 log-probabilities: each is off by at most half a step of
  // 16 nats / 65535, so it matches the difference of the two measured
  // perplexities within base.ppl · 16 / 65535 / 2 (plus print rounding).
  EXPECT_NEAR(q4.delta_ppl, q4.ppl - base.ppl, base.ppl * 16.0 / 65535.0 / 2.0 + 1e-6);
  EXPECT_GT(q4.delta_ppl, 0);

  // Every variant is a stored run with the table's numbers.
  ResultStore db((dir / "results.db").string(), ResultStore::Mode::ReadOnly);
  const std::vector<RunRecord> runs = db.list();
  ASSERT_EQ(runs.size(), rows.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i].kind, "optimize");
    EXPECT_EQ(runs[i].label, rows[i].label);
    EXPECT_EQ(runs[i].model.size_bytes, rows[i].file_bytes);
    EXPECT_EQ(runs[i].model.sha256.size(), 64u);
    EXPECT_EQ(runs[i].find(metric::kTgTps), rows[i].tg_tps);
    EXPECT_EQ(runs[i].find(metric::kPpl), rows[i].ppl);
  }
  EXPECT_EQ(runs[2].find(metric::kKldMean), q4.kld_mean);
  EXPECT_EQ(runs[0].model.file_type, "F32");
  EXPECT_EQ(runs[2].model.file_type, "Q4_0");

  // The baseline's sample is what `qinfer run` generates greedily from the same prompt.
  ASSERT_EQ(base.samples.size(), 3u);
  const CliResult gen =
      run_qinfer("run -m " + data_path(kStories) + " -p \"Once upon a time\" -n 12 --temp 0 -t 1");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_FALSE(base.samples[0].empty());
  EXPECT_NE(gen.out.find(base.samples[0]), std::string::npos) << gen.out << " vs " << base.samples[0];

  // The report shows the configurations and the generations side by side.
  const std::string html = slurp((dir / "out" / "report" / "report.html").string());
  const std::string md = slurp((dir / "out" / "report" / "report.md").string());
  for (const std::string* doc : {&html, &md}) {
    EXPECT_NE(doc->find("Side-by-side generations"), std::string::npos);
    EXPECT_NE(doc->find("Once upon a time"), std::string::npos);
    EXPECT_NE(doc->find("Q4_0"), std::string::npos);
  }
  EXPECT_NE(r.out.find("report.html"), std::string::npos) << r.out;
}

TEST(Optimize, RefusesAForeignDatabaseBeforeAnyWork) {
  QINFER_REQUIRE_DATA(kStories);
  const auto dir = scratch_dir();
  const std::string db = (dir / "not-a.db").string();
  {
    std::ofstream f(db);
    f << "precious, not SQLite";
  }
  const CliResult r = run_qinfer("optimize " + data_path(kStories) + " --types Q8_0 -o " + (dir / "out").string() +
                                 " --db " + db);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not-a.db"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(db), "precious, not SQLite");
  EXPECT_FALSE(std::filesystem::exists(dir / "out" / "models"));
}

TEST(Optimize, BadInputIsOneLineAndExit2) {
  QINFER_REQUIRE_DATA(kStories);
  const auto dir = scratch_dir();
  CliResult r = run_qinfer("optimize " + data_path(kStories) + " --types Q4_0,Q9_9 -o " + (dir / "a").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Q9_9"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Q4_K_M"), std::string::npos) << r.err;  // lists the valid names

  r = run_qinfer("optimize " + data_path("golden/stories260K/stories260K-Q4_0.gguf") + " -o " + (dir / "b").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unquantized"), std::string::npos) << r.err;

  r = run_qinfer("optimize " + data_path(kStories) + " --eval-text " + (dir / "missing.txt").string() + " -o " +
                 (dir / "c").string() + " --types Q8_0 -p 8 -n 4 -r 1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.txt"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err.substr(r.err.find("error:"))), 1) << r.err;
}

// One evaluation chunk is enough (the baseline's logits file then holds one
// chunk, which the comparison must accept, as llama-perplexity does).
TEST(Optimize, OneChunkWorks) {
  QINFER_REQUIRE_DATA(kStories);
  const auto dir = scratch_dir();
  const CliResult r = run_qinfer("optimize " + data_path(kStories) + " --types Q8_0 --eval-text " + data_path(kText) +
                                 " -o " + (dir / "out").string() + " -p 8 -n 4 -r 1 --chunks 1 -t 1 --sample-tokens 0 --no-db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = nlohmann::json::parse(slurp((dir / "out" / "results.json").string())).get<std::vector<VariantResult>>();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_GT(rows[1].kld_mean, 0);
  EXPECT_GT(rows[1].same_top_pct, 90);
}

// A failed run leaves nothing of itself behind: no models, no baseline
// logits, no directories it made.
TEST(Optimize, FailureLeavesNothingBehind) {
  QINFER_REQUIRE_DATA(kStories);
  const auto dir = scratch_dir();
  const std::string tiny_text = (dir / "tiny.txt").string();
  {
    std::ofstream f(tiny_text);
    f << "Once upon a time there was a dog.";  // far shorter than two chunks: the baseline's evaluation fails
  }
  const auto out = dir / "out";
  CliResult r = run_qinfer("optimize " + data_path(kStories) + " --types Q8_0 --eval-text " + tiny_text + " -o " +
                           out.string() + " -p 8 -n 4 -r 1 -t 1 --sample-tokens 0 --no-db");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("tokens"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out)) << "left behind: " << out;
  // Into an existing directory: its own files stay, the run's go.
  std::filesystem::create_directories(out);
  { std::ofstream keep(out / "notes.txt"); keep << "mine"; }
  r = run_qinfer("optimize " + data_path(kStories) + " --types Q8_0,Q4_0 --eval-text " + tiny_text + " -o " +
                 out.string() + " -p 8 -n 4 -r 1 -t 1 --sample-tokens 0 --no-db");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::recursive_directory_iterator(out)) left.push_back(e.path().string());
  EXPECT_EQ(left, std::vector<std::string>{(out / "notes.txt").string()});
}

TEST(OptimizeTable, AlignsUnicodeCells) {
  VariantResult a;
  a.label = "F32 (base)";
  a.baseline = true;
  a.file_bytes = 1185376;
  VariantResult b;
  b.label = "Q4_0";
  b.file_bytes = 300000;
  b.delta_ppl = 0.25;
  const std::string t = format_comparison_table({a, b});
  // Every line has the same display width.
  std::vector<int> widths;
  int w = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\n') {
      widths.push_back(w);
      w = 0;
    } else if ((static_cast<unsigned char>(t[i]) & 0xC0) != 0x80) {
      ++w;
    }
  }
  ASSERT_EQ(widths.size(), 4u);
  for (int x : widths) EXPECT_EQ(x, widths[0]) << t;
  EXPECT_NE(t.find("+0.2500"), std::string::npos);
}

TEST(Optimize, VariantSpecsNameTypeAndMethod) {
  EXPECT_EQ(parse_variant_spec("Q4_0").label(), "Q4_0");
  const VariantSpec g = parse_variant_spec("q4_0+gptq");
  EXPECT_EQ(g.type, "Q4_0");
  EXPECT_EQ(g.method, QuantMethod::Gptq);
  EXPECT_EQ(g.label(), "Q4_0+gptq");
  EXPECT_EQ(parse_variant_spec("Q4_K_M+awq").method, QuantMethod::Awq);
  EXPECT_EQ(parse_variant_spec("NF4").method, QuantMethod::Rtn);
  EXPECT_THROW(parse_variant_spec("Q4_0+foo"), InputError);
  EXPECT_THROW(parse_variant_spec("F16+gptq"), InputError);   // nothing to round
  EXPECT_THROW(parse_variant_spec("NF4+gptq"), InputError);   // a code book, not a grid
  EXPECT_THROW(parse_variant_spec("Q9_9+awq"), InputError);
}

TEST(Optimize, BudgetPicksFastestAndSmallestAndSaysByHowMuchOthersFail) {
  auto row = [](const char* label, double ppl, double kld, double tg, int64_t bytes, bool base = false) {
    VariantResult r;
    r.label = label;
    r.ppl = ppl;
    r.kld_mean = kld;
    r.tg_tps = tg;
    r.file_bytes = bytes;
    r.baseline = base;
    return r;
  };
  const std::vector<VariantResult> rows = {row("F32", 10.0, 0, 10, 1000, true), row("Q8_0", 10.05, 0.001, 30, 300),
                                           row("Q6_K", 10.1, 0.004, 25, 250), row("Q4_0", 10.8, 0.05, 40, 150)};
  QualityBudget b;
  b.max_kld = 0.01;
  BudgetVerdict v = judge_budget(rows, b);
  EXPECT_EQ(v.passed, (std::vector<std::string>{"Q8_0", "Q6_K"}));
  EXPECT_EQ(v.fastest, "Q8_0");
  EXPECT_EQ(v.smallest, "Q6_K");
  ASSERT_EQ(v.failed.size(), 1u);
  EXPECT_NE(v.failed[0].find("Q4_0: KLD 0.050000 > 0.01 (+400 %)"), std::string::npos) << v.failed[0];
  b = {};
  b.max_ppl_increase_pct = 0.75;  // Q8_0 +0.5 % passes, Q6_K +1 % fails
  v = judge_budget(rows, b);
  EXPECT_EQ(v.passed, (std::vector<std::string>{"Q8_0"}));
  ASSERT_EQ(v.failed.size(), 2u);
  EXPECT_NE(v.failed[0].find("Q6_K: PPL +1.00 % > 0.75 %"), std::string::npos) << v.failed[0];
  b.max_ppl_increase_pct = 0.1;
  v = judge_budget(rows, b);
  EXPECT_TRUE(v.passed.empty());
  EXPECT_NE(format_budget(v, b).find("no variant is within the budget"), std::string::npos);
}

// ΔPPL is PPL(Q) − PPL(base) of the two measured perplexities, also where
// llama-perplexity's PPL(base), read back from the stored uint16
// log-probabilities, is not: those are floored 16 nats below each row's top
// logit, so a target the baseline finds less likely scores too well there.
// Random letter strings in the text make such targets common.
TEST(Optimize, DeltaPplIsTheDifferenceOfTheMeasuredPerplexities) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kText);
  const auto dir = scratch_dir();
  const std::string story = slurp(data_path(kText)).substr(0, 2400);
  std::mt19937 rng(5);
  std::string text;
  int word = 0;
  for (char c : story) {
    text += c;
    if (c == ' ' && ++word % 4 == 0) {
      for (int k = 0; k < 3; ++k) text += "qxzjkvw0123456789"[rng() % 17];
      text += ' ';
    }
  }
  std::ofstream(dir / "odd.txt") << text;
  const CliResult r = run_qinfer("optimize " + data_path(kStories) + " --types Q4_0 --eval-text " +
                                 (dir / "odd.txt").string() + " -o " + (dir / "out").string() +
                                 " -p 8 -n 4 -r 1 --chunks 4 -t 1 --sample-tokens 0 --no-db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = nlohmann::json::parse(slurp((dir / "out" / "results.json").string())).get<std::vector<VariantResult>>();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[1].delta_ppl, rows[1].ppl - rows[0].ppl);
  // The floor is hit on this text: the baseline compared with its own stored
  // log-probabilities has llama-perplexity's PPL(Q) − PPL(base) well above 0.
  const CliResult self = run_qinfer("perplexity -m " + data_path(kStories) + " --kl-divergence-base " +
                                    (dir / "out" / "baseline-logits.bin").string() + " --kl-divergence -t 1");
  ASSERT_EQ(self.exit_code, 0) << self.err;
  std::smatch m;
  const std::string out = self.out + self.err;
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(Mean PPL\(Q\)-PPL\(base\) *: *([-0-9.]+))"))) << out;
  EXPECT_GT(std::stod(m[1].str()), 0.01) << out;
}

// A calibrated variant: calibrated on the text's first part, every row
// measured on the rest, and GPTQ nearer the baseline than RTN of its type.
TEST(Optimize, CalibratedVariantsAreMeasuredOnTheHeldOutPart) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kText);
  const auto dir = scratch_dir();
  const CliResult r = run_qinfer("optimize " + data_path(kStories) + " --types Q4_0,Q4_0+gptq --eval-text " +
                                 data_path(kText) + " -o " + (dir / "out").string() +
                                 " -p 8 -n 4 -r 1 --chunks 12 -t 1 --sample-tokens 0 --calib-samples 32 --no-db"
                                 " --max-kld 1e-9 --max-ppl-increase 1000%");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| Q4_0+gptq"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("every row measured on the rest"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no variant is within the budget"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("failed: Q4_0+gptq: KLD"), std::string::npos) << r.out;
  EXPECT_EQ(slurp((dir / "out" / "heldout.txt").string()), split_eval_text(slurp(data_path(kText))).evaluation);
  const auto rows = nlohmann::json::parse(slurp((dir / "out" / "results.json").string())).get<std::vector<VariantResult>>();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].label, "Q4_0+gptq");
  EXPECT_EQ(rows[2].file_type, "Q4_0");
  EXPECT_LT(rows[2].kld_mean, rows[1].kld_mean);
}
