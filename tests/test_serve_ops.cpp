// The operator's endpoints on a running `qinfer serve`: /metrics accepted by
// promtool after real traffic, Ollama's /api/chat (NDJSON stream and whole),
// /api/models and /api/health, --models-dir with --alias and the 404 listing,
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
