// The commands as a user runs them: output, exit codes, one-line errors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "qinfer/store/results_store.h"

using namespace qinfer;
using namespace qinfer::test;

namespace {
const std::string kModel = "models/stories260K/stories260K.gguf";
std::string model() { return data_path(kModel); }
}  // namespace

TEST(Cli, RunGreedyMatchesLlamaSimple) {
  QINFER_REQUIRE_DATA(kModel);
  auto r = run_qinfer("run -m " + model() + " -p 'Once upon a time' -n 64 --temp 0 --no-stats");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // llama-simple prints the prompt as token pieces: "<s>" (BOS), then " Once" with the
  // SentencePiece space prefix. qinfer echoes the prompt as typed; the rest is the same text.
  std::string golden = slurp(data_path("golden/stories260K/llama-simple.once-upon-a-time.stdout.txt"));
  ASSERT_EQ(golden.rfind("<s> ", 0), 0u);
  golden = golden.substr(4);
  while (!golden.empty() && (golden.back() == '\n')) golden.pop_back();
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  EXPECT_EQ(out, golden);
}

TEST(Cli, RunDefaultModelAndSampling) {
  QINFER_REQUIRE_DATA(kModel);
  auto a = run_qinfer("run -n 24 --temp 0.8 --top-k 40 --top-p 0.9 --min-p 0.05 --repeat-penalty 1.1 --seed 42",
                      "QINFER_SHARED_DATA=" + shared_data());
  auto b = run_qinfer("run -n 24 --temp 0.8 --top-k 40 --top-p 0.9 --min-p 0.05 --repeat-penalty 1.1 --seed 42",
                      "QINFER_SHARED_DATA=" + shared_data());
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out) << "same seed, same text";
  EXPECT_EQ(a.out.rfind("Once upon a time", 0), 0u);
  EXPECT_NE(a.err.find("tok/s"), std::string::npos);
}

TEST(Cli, RunChatUsesATemplate) {
  QINFER_REQUIRE_DATA(kModel);
  auto r = run_qinfer("run -m " + model() + " --chat -p hello -n 8 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no chat template"), std::string::npos) << r.err;
}

TEST(Cli, PromptLongerThanContextIsAClearError) {
  QINFER_REQUIRE_DATA(kModel);
  std::string long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt += "Once upon a time ";
  auto r = run_qinfer("run -m " + model() + " -c 32 -n 4 -p '" + long_prompt + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("does not fit the context of 32 tokens"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST(Cli, InfoListsTensorsAndTotals) {
  QINFER_REQUIRE_DATA(kModel);
  auto r = run_qinfer("info " + model());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want : {"architecture:     llama", "heads:            8 (KV heads 4, head size 8)",
                           "blk.4.ffn_down.weight", "[172, 64]", "kind:             llama", "parameters:"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
}

TEST(Cli, InfoOnLlama2cCheckpoint) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.bin");
  auto r = run_qinfer("info " + data_path("models/stories260K/stories260K.bin") + " --tokenizer " +
                      data_path("models/stories260K/tok512.bin"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("llama2.c checkpoint"), std::string::npos);
  EXPECT_NE(r.out.find("layers:           5"), std::string::npos);
}

TEST(Cli, TokenizeIds) {
  QINFER_REQUIRE_DATA(kModel);
  auto r = run_qinfer("tokenize -m " + model() + " -p 'Once upon a time' --ids");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 403 407 261 378\n");
  auto n = run_qinfer("tokenize -m " + model() + " -p 'Once upon a time' --ids --no-special");
  EXPECT_EQ(n.out, "403 407 261 378\n");
  auto pieces = run_qinfer("tokenize -m " + model() + " -p 'Once'");
  EXPECT_NE(pieces.out.find("'<s>'"), std::string::npos) << pieces.out;
}

TEST(Cli, PerplexityPrintsRunningAndFinal) {
  QINFER_REQUIRE_DATA(kModel);
  auto r = run_qinfer("perplexity -m " + model() + " -f " + data_path("text/tinystories-valid-a.txt") +
                      " -c 128 --chunks 3 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // llama-perplexity's cumulative values for the first three chunks (golden/stories260K/ppl.json).
  EXPECT_NE(r.out.find("[1]3.535"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[3]4.04"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Final estimate: PPL = "), std::string::npos);
}

TEST(Cli, PerplexityKlDivergenceMode) {
  QINFER_REQUIRE_DATA("golden/stories260K/kld-base-f32.bin");
  auto r = run_qinfer("perplexity -m " + data_path("golden/stories260K/stories260K-Q8_0.gguf") +
                      " --kl-divergence-base " + data_path("golden/stories260K/kld-base-f32.bin") +
                      " --kl-divergence --chunks 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Mean    KLD:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Same top p:"), std::string::npos) << r.out;
}

TEST(Cli, PerplexitySavesABaseThatCompares) {
  QINFER_REQUIRE_DATA(kModel);
  const std::string base = (scratch_dir() / "base.kld").string();
  auto w = run_qinfer("perplexity -m " + model() + " -f " + data_path("text/tinystories-valid-a.txt") +
                      " -c 64 --chunks 4 --kl-divergence-base " + base);
  ASSERT_EQ(w.exit_code, 0) << w.err;
  auto c = run_qinfer("perplexity -m " + model() + " --kl-divergence-base " + base + " --kl-divergence");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  // Same model against its own logits: KL is only the uint16 storage noise.
  auto pos = c.out.find("Mean    KLD:");
  ASSERT_NE(pos, std::string::npos);
  EXPECT_LT(std::stod(c.out.substr(pos + 12)), 1e-5) << c.out;
  EXPECT_NE(c.out.find("Same top p: 100.000"), std::string::npos) << c.out;
}

TEST(Cli, DevicesShowsCpuAndKernelPath) {
  auto r = run_qinfer("devices");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("CPU:"), std::string::npos);
  EXPECT_NE(r.out.find("kernel path:"), std::string::npos);
  auto pinned = run_qinfer("devices", "QINFER_ISA=scalar");
  EXPECT_NE(pinned.out.find("kernel path: scalar"), std::string::npos) << pinned.out;
}

TEST(Cli, BenchPrintsLlamaBenchTable) {
  QINFER_REQUIRE_DATA(kModel);
  const std::string json = (scratch_dir() / "b.json").string();
  const std::string db = (scratch_dir() / "b.db").string();
  auto r = run_qinfer("bench -m " + model() + " -p 16 -n 8 -t 1 -r 2 --json " + json + " --db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| pp16 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| tg8 |"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(slurp(json));
  ASSERT_EQ(j.size(), 2u);
  // One stored run per test, under the model's name, with the printed numbers.
  const std::vector<RunRecord> runs = ResultStore(db, ResultStore::Mode::ReadOnly).list();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].kind, "bench");
  EXPECT_EQ(runs[0].label, "stories260K");
  EXPECT_EQ(runs[0].find(metric::kPpTps), j[0]["avg_ts"].get<double>());
  EXPECT_EQ(runs[1].find(metric::kTgTps), j[1]["avg_ts"].get<double>());
  EXPECT_FALSE(runs[0].find(metric::kTgTps));
  EXPECT_GT(*runs[1].find(metric::kPeakRssBytes), *runs[1].find(metric::kModelBytes));
}

// Bad input: one line naming the file and the problem, exit code 2.
TEST(CliBadInput, MissingFile) {
  auto r = run_qinfer("info /nonexistent/model.gguf");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/nonexistent/model.gguf: cannot open"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1);
}

TEST(CliBadInput, TruncatedGguf) {
  QINFER_REQUIRE_DATA(kModel);
  const std::string src = slurp(model());
  for (size_t cut : {size_t(3), size_t(100), size_t(5000), src.size() / 2, src.size() - 1}) {
    const std::string path = (scratch_dir() / "cut.gguf").string();
    std::ofstream(path, std::ios::binary).write(src.data(), std::streamsize(cut));
    for (const char* cmd : {"info ", "run -n 2 -m ", "tokenize -p hi -m "}) {
      auto r = run_qinfer(std::string(cmd) + path);
      EXPECT_EQ(r.exit_code, 2) << cmd << " cut at " << cut << ": " << r.err;
      EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
      EXPECT_EQ(count_lines(r.err), 1) << r.err;
    }
  }
}

TEST(CliBadInput, NotAModel) {
  const std::string path = (scratch_dir() / "notes.txt").string();
  std::ofstream(path) << "just some text, not a model\n";
  auto r = run_qinfer("run -m " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST(CliBadInput, UnknownBenchDeviceNamesTheAvailableOnes) {
  QINFER_REQUIRE_DATA(kModel);
  auto r = run_qinfer("bench -m " + model() + " -p 8 -n 4 -r 1 --device cuda");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--device cuda"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("available: cpu"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST(CliBadInput, UnsupportedArchitectureNamesIt) {
  QINFER_REQUIRE_DATA("vocab/ggml-vocab-gpt-2.gguf");
  auto r = run_qinfer("run -m " + data_path("vocab/ggml-vocab-gpt-2.gguf"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unsupported architecture"), std::string::npos) << r.err;
}

TEST(CliBadInput, BadOptionValue) {
  auto r = run_qinfer("bench -r 0");
  EXPECT_EQ(r.exit_code, 2);
  auto u = run_qinfer("frobnicate");
  EXPECT_EQ(u.exit_code, 2);
}
