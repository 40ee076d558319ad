// The commands as a user runs them: output, exit codes, one-line errors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/formats/gguf_writer.h"
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
  EXPECT_NE(r.out.find("kernel paths: scalar"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("RAM:"), std::string::npos);
  // No GPU backend in this build: the GPU line says why, naming what the machine has.
  EXPECT_NE(r.out.find("GPU: none usable: this build of qinfer has no CUDA backend; "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("backends in this build: cpu"), std::string::npos) << r.out;
  auto pinned = run_qinfer("devices", "QINFER_ISA=scalar");
  EXPECT_NE(pinned.out.find("kernel path: scalar"), std::string::npos) << pinned.out;
}

// Every command that runs the engine takes --device with the same parser and resolver.
TEST(CliBadInput, DeviceFlagIsParsedAndResolvedTheSameEverywhere) {
  QINFER_REQUIRE_DATA(kModel);
  for (const std::string cmd : {"run -n 2", "perplexity", "eval", "bench -p 8 -n 4 -r 1", "optimize"}) {
    auto bad = run_qinfer(cmd + " --device gpu0");
    EXPECT_EQ(bad.exit_code, 2) << cmd;
    EXPECT_NE(bad.err.find("--device gpu0: expected auto, cpu, cuda or cuda:N"), std::string::npos) << cmd << ": " << bad.err;
    EXPECT_EQ(count_lines(bad.err), 1) << cmd << ": " << bad.err;
    auto cuda = run_qinfer(cmd + " --device cuda:0");
    EXPECT_EQ(cuda.exit_code, 2) << cmd;
    EXPECT_NE(cuda.err.find("no CUDA backend"), std::string::npos) << cmd << ": " << cuda.err;
    EXPECT_EQ(count_lines(cuda.err), 1) << cmd << ": " << cuda.err;
  }
  // auto asked for by name: one notice, then the CPU run.
  auto r = run_qinfer("run -m " + model() + " -n 2 --temp 0 --no-stats --device auto");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("qinfer: --device auto: this build of qinfer has no CUDA backend"), std::string::npos) << r.err;
}

// The device and why it was chosen are stored with the run.
TEST(Cli, BenchRecordsTheDeviceAndReason) {
  QINFER_REQUIRE_DATA(kModel);
  const std::string db = (scratch_dir() / "dev.db").string();
  auto r = run_qinfer("bench -m " + model() + " -p 8 -n 0 -r 1 -t 1 --device cpu --db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto show = run_qinfer("runs --db " + db + " show 1");
  EXPECT_NE(show.out.find("device:  cpu — asked for (--device cpu)"), std::string::npos) << show.out;
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

// ---- chat templates ----

namespace {

// stories260K with a chat template written into its GGUF.
std::string model_with_template(const std::filesystem::path& dir, const std::string& name, const std::string& tmpl) {
  auto src = GgufFile::open(model());
  GgufWriter w;
  w.copy_metadata(*src);
  w.set_string("tokenizer.chat_template", tmpl);
  for (const auto& t : src->tensors()) w.add_tensor_from(*src, t);
  const std::string path = (dir / name).string();
  w.write(path);
  return path;
}

std::string write_file(const std::filesystem::path& dir, const std::string& name, const std::string& text) {
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

const char* kConversation =
    R"([{"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello! Can you tell me a short story about a cat?"}])";

}  // namespace

TEST(CliChatTemplate, RenderIsByteExactWithPythonJinja2) {
  QINFER_REQUIRE_DATA("golden/templates/meta-llama-Llama-3.2-3B-Instruct.b.txt");
  const std::filesystem::path dir = scratch_dir();  // one per test: each call recreates it
  const std::string msgs = write_file(dir, "msgs.json", kConversation);
  auto r = run_qinfer("chat-template render " + data_path("templates/meta-llama-Llama-3.2-3B-Instruct.jinja") +
                      " --messages " + msgs + " --add-generation-prompt --bos-token '<|begin_of_text|>' --eos-token '<|eot_id|>'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The golden was rendered on 22 Nov 2026; the CLI uses today's date.
  std::string golden = slurp(data_path("golden/templates/meta-llama-Llama-3.2-3B-Instruct.b.txt"));
  const size_t at = golden.find("Today Date: ");
  ASSERT_NE(at, std::string::npos);
  const size_t got_at = r.out.find("Today Date: ");
  ASSERT_EQ(got_at, at) << r.out;
  const size_t eol = r.out.find('\n', got_at);
  golden.replace(at, golden.find('\n', at) - at, r.out.substr(got_at, eol - got_at));
  EXPECT_EQ(r.out, golden);  // no newline added
}

TEST(CliChatTemplate, RenderTakesAnOpenAIRequestBodyAndVariables) {
  const std::filesystem::path dir = scratch_dir();  // one per test: each call recreates it
  const std::string tmpl = write_file(dir, "t.jinja", "{{ messages | length }} {{ tools[0].function.name }} {{ enable_thinking }} {{ model }}");
  const std::string body = write_file(
      dir, "req.json", R"({"model": "m1", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "get"}}]})");
  auto r = run_qinfer("chat-template render " + tmpl + " --messages " + body + " --var enable_thinking=false");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 get False m1");
}

TEST(CliChatTemplate, ErrorsAreOneLineAndExitCode2) {
  const std::filesystem::path dir = scratch_dir();  // one per test: each call recreates it
  const std::string msgs = write_file(dir, "msgs.json", kConversation);
  struct Case {
    std::string args, expect;
  } cases[] = {
      {write_file(dir, "bad.jinja", "{% for m in messages %}{{ m.content }") + " --messages " + msgs, "chat template: TemplateSyntaxError"},
      {write_file(dir, "raise.jinja", "{{ raise_exception('System role not supported') }}") + " --messages " + msgs,
       "System role not supported"},
      {write_file(dir, "ok.jinja", "x") + " --messages " + write_file(dir, "bad.json", "[{\"role\": "), "not valid JSON"},
      {write_file(dir, "ok2.jinja", "x") + " --messages " + write_file(dir, "num.json", "42"), "expected a JSON list of messages"},
      {"/nonexistent.jinja --messages " + msgs, "/nonexistent.jinja"},
      {"--messages " + msgs, "give either a TEMPLATE file or -m MODEL.gguf"},
  };
  for (const auto& c : cases) {
    auto r = run_qinfer("chat-template render " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(CliChatTemplate, ModelTemplateDrivesRenderRunAndInfo) {
  QINFER_REQUIRE_DATA(kModel);
  const std::filesystem::path dir = scratch_dir();  // one per test: each call recreates it
  const std::string gguf = model_with_template(
      dir, "with-template.gguf", "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}");
  const std::string msgs = write_file(dir, "msgs.json", R"([{"role": "user", "content": "Once upon a time"}])");
  auto r = run_qinfer("chat-template render -m " + gguf + " --messages " + msgs + " --add-generation-prompt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<s>[user] Once upon a time\n[assistant]");  // the model's BOS text

  auto run = run_qinfer("run -m " + gguf + " --chat -p 'Once upon a time' -n 4 --temp 0 --verbose-prompt");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("chat format: the model's chat template"), std::string::npos) << run.err;
  // One BOS (id 1): the template's "<s>" is not tokenized a second time.
  EXPECT_NE(run.err.find("tokens: 1 "), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("tokens: 1 1 "), std::string::npos) << run.err;

  auto info = run_qinfer("info " + gguf + " --no-tensors");
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("renders a system + user conversation"), std::string::npos) << info.out;

  const std::string broken = model_with_template(dir, "broken-template.gguf", "{% if %}");
  auto bad = run_qinfer("run -m " + broken + " --chat -p hi -n 2");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("chat template: TemplateSyntaxError"), std::string::npos) << bad.err;
}

TEST(CliChatTemplate, SystemImpliesChatAndPlainTextFallbackIsSaid) {
  QINFER_REQUIRE_DATA(kModel);
  const std::filesystem::path dir = scratch_dir();  // one per test: each call recreates it
  auto r = run_qinfer("run -m " + model() + " --system 'Be brief.' -p hello -n 4 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("--system implies --chat"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("plain text continuation"), std::string::npos) << r.err;
  const std::string tmpl = write_file(dir, "t.jinja", "{% for m in messages %}{{ m.content }} {% endfor %}");
  auto t = run_qinfer("run -m " + model() + " --chat-template " + tmpl + " -p hello -n 4 --temp 0");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.err.find("chat template from " + tmpl), std::string::npos) << t.err;
}
