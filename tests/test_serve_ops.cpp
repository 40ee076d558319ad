// The operator's endpoints on a running `qinfer serve`: /metrics accepted by
// promtool after real traffic, Ollama's /api/chat (NDJSON stream and whole),
// /api/models and /api/health, --models-dir with --alias and the 404 listing,
// --memory-budget and --device as the memory plan's (refusals at start and on request),
// and the chat page in headless Chromium (tests/node/chat_page.mjs).
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "serve_test_util.h"

using namespace qinfer::test;
using nlohmann::json;

namespace {

std::string stories() { return data_path("models/stories260K/stories260K.gguf"); }

TEST(ServeOps, OllamaApiMetricsAndModels) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  auto dir = scratch_dir();
  std::filesystem::copy_file(stories(), dir / "second.gguf");  // a copy: a link to -m's file is the same model
  ServeProcess server("-m " + stories() + " -t 1 --alias tiny --models-dir " + dir.string());
  ASSERT_GT(server.port(), 0) << server.log();
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(60, 0);

  auto streamed = c.Post("/api/chat", R"({"model":"tiny","messages":[{"role":"user","content":"Hi"}],"options":{"num_predict":12,"temperature":0}})", "application/json");
  ASSERT_TRUE(streamed);
  EXPECT_EQ(streamed->status, 200) << streamed->body;
  EXPECT_EQ(streamed->get_header_value("Content-Type"), "application/x-ndjson");
  std::istringstream lines(streamed->body);
  std::string line, text;
  json last;
  int n = 0;
  while (std::getline(lines, line)) {
    last = json::parse(line);  // every line is one JSON object
    ++n;
    if (!last["done"].get<bool>()) text += last["message"]["content"].get<std::string>();
  }
  ASSERT_GE(n, 2);
  EXPECT_EQ(last["done"], true);
  EXPECT_EQ(last["done_reason"], "length");
  EXPECT_EQ(last["eval_count"], 12);
  auto whole = c.Post("/api/chat", R"({"model":"tiny","stream":false,"messages":[{"role":"user","content":"Hi"}],"options":{"num_predict":12,"temperature":0}})", "application/json");
  ASSERT_TRUE(whole);
  json w = json::parse(whole->body);
  EXPECT_EQ(w["message"]["content"], text) << "greedy: streamed and whole answers agree";
  EXPECT_EQ(w["prompt_eval_count"], last["prompt_eval_count"]);

  auto missing = c.Post("/api/chat", R"({"model":"nope","messages":[{"role":"user","content":"Hi"}]})", "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["error"], "model 'nope' not found; known models: second, tiny");

  // The directory's model loads on first use, under its file name.
  auto second = c.Post("/v1/chat/completions", R"({"model":"second","messages":[{"role":"user","content":"Hi"}],"max_tokens":4})", "application/json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200) << second->body;
  json models = json::parse(c.Get("/api/models")->body)["models"];
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0]["name"], "second");
  EXPECT_EQ(models[1]["name"], "tiny");
  EXPECT_EQ(models[1]["details"]["family"], "llama");
  EXPECT_EQ(models[0]["loaded"], true);
  json health = json::parse(c.Get("/api/health")->body);
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["models"].size(), 2u);
  EXPECT_GT(health["kv_blocks"]["total"].get<int>(), 0);

  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  const std::string& m = metrics->body;
  EXPECT_NE(m.find("qinfer_requests_total{endpoint=\"/api/chat\",status=\"404\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("qinfer_generated_tokens_total{model=\"tiny\"} 24"), std::string::npos) << m;
  EXPECT_NE(m.find("qinfer_time_to_first_token_seconds_count{model=\"tiny\"} 2"), std::string::npos) << m;
  EXPECT_NE(m.find("qinfer_models_loaded 2"), std::string::npos) << m;
  // Every answered request is timed, streamed ones to their last byte.
  EXPECT_NE(m.find("qinfer_request_duration_seconds_count{endpoint=\"/api/chat\"} 3"), std::string::npos) << m;
  EXPECT_NE(m.find("qinfer_request_duration_seconds_count{endpoint=\"/v1/chat/completions\"} 1"), std::string::npos) << m;
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "promtool not found (Debian package prometheus)";
  const std::string file = (dir / "metrics.txt").string();
  std::ofstream(file) << m;
  const std::string out = (dir / "promtool.out").string();
  EXPECT_EQ(std::system(("promtool check metrics < " + file + " > " + out + " 2>&1").c_str()), 0) << slurp(out);
  EXPECT_EQ(slurp(out), "");
}

uint64_t planned_peak(const std::string& model, const std::string& shape) {
  auto r = run_qinfer("plan " + model + " " + shape + " --json --memory-budget 1T");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? json::parse(r.out)["predicted_peak_bytes"].get<uint64_t>() : 0;
}

// --memory-budget on serve is the plan's budget, as on run and bench: each
// model planned for its context and --parallel sequences; -m's refused at
// start, a --models-dir model refused on request with an OpenAI-style 400.
TEST(ServeOps, MemoryBudgetIsThePlans) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  QINFER_REQUIRE_DATA("golden/tiny256/tiny256-F32.gguf");
  const std::string tiny = data_path("golden/tiny256/tiny256-F32.gguf");
  const std::string shape = "-c 256 --parallel 3";
  const uint64_t small_peak = planned_peak(stories(), shape), big_peak = planned_peak(tiny, shape);
  ASSERT_LT(small_peak, big_peak);
  const std::string budget = std::to_string((small_peak + big_peak) / 2);

  ServeProcess refused("-m " + tiny + " -t 1 " + shape + " --memory-budget " + budget);
  EXPECT_EQ(refused.port(), 0) << "started a model the plan says does not fit";
  EXPECT_EQ(refused.wait_exit(), 2) << refused.log();
  EXPECT_EQ(count_lines(refused.log()), 1) << refused.log();
  EXPECT_NE(refused.log().find("needs "), std::string::npos) << refused.log();
  EXPECT_NE(refused.log().find("(--memory-budget)"), std::string::npos) << refused.log();
  EXPECT_NE(refused.log().find("--force"), std::string::npos) << refused.log();

  ServeProcess no_gpu("-m " + stories() + " -t 1 --device cuda");
  EXPECT_EQ(no_gpu.wait_exit(), 2) << no_gpu.log();
  EXPECT_NE(no_gpu.log().find("cuda"), std::string::npos) << no_gpu.log();

  auto dir = scratch_dir();
  std::filesystem::create_symlink(tiny, dir / "tiny.gguf");
  ServeProcess server("-m " + stories() + " -t 1 --device cpu " + shape + " --memory-budget " + budget +
                      " --models-dir " + dir.string());
  ASSERT_GT(server.port(), 0) << server.log();
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(60, 0);
  auto big = c.Post("/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":2})",
                    "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 400) << big->body;
  const json err = json::parse(big->body)["error"];
  EXPECT_EQ(err["code"], "model_too_large");
  EXPECT_EQ(err["param"], "model");
  const std::string message = err["message"];
  EXPECT_EQ(message.rfind("model 'tiny' needs ", 0), 0u) << message;
  EXPECT_NE(message.find("KV "), std::string::npos) << message;
  EXPECT_NE(message.find("(--memory-budget)"), std::string::npos) << message;
  // The -m model keeps serving; the refused one was never loaded.
  auto small = c.Post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"Hi"}],"max_tokens":2})",
                      "application/json");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200) << small->body;
  const json models = json::parse(c.Get("/api/models")->body)["models"];
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[1]["name"], "tiny");
  EXPECT_EQ(models[1]["loaded"], false);
}

TEST(ServeOps, ChatPageInHeadlessChromium) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  const std::filesystem::path node_dir = std::filesystem::path(QINFER_TEST_DATA).parent_path() / "node";
  if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed (scripts/install-deps.sh)";
  if (!std::filesystem::exists("/usr/bin/chromium")) GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh)";
  if (!std::filesystem::exists(node_dir / "node_modules/playwright-core/package.json"))
    GTEST_SKIP() << "playwright-core is not installed in " << (node_dir / "node_modules").string() << " (scripts/install-deps.sh)";
  ServeProcess server("-m " + stories() + " -t 1");
  ASSERT_GT(server.port(), 0) << server.log();
  // The screenshot stays in the build tree's test output folder for people to look at.
  const std::filesystem::path out_dir = std::filesystem::current_path() / "serve_ops_output";
  std::filesystem::create_directories(out_dir);
  const std::string log = (scratch_dir() / "page.log").string();
  const std::string cmd = "node " + (node_dir / "chat_page.mjs").string() + " http://127.0.0.1:" + std::to_string(server.port()) +
                          "/ " + out_dir.string() + " >" + log + " 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << slurp(log) << "\nserver:\n" << server.log();
  EXPECT_TRUE(std::filesystem::exists(out_dir / "chat_page.png"));
}

}  // namespace
