// Conformance: the official `openai` npm client (tests/node, pinned by its
// package-lock.json, installed by scripts/install-deps.sh) drives a
// `qinfer serve` child process on 127.0.0.1: model listing, chat and
// completions, streamed and whole, usage, and its typed errors.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "serve_test_util.h"

using namespace qinfer::test;

TEST(ServeOpenAiClient, ConformsToTheOfficialClient) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  const std::filesystem::path node_dir = std::filesystem::path(QINFER_TEST_DATA).parent_path() / "node";
  if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed (scripts/install-deps.sh installs it)";
  if (!std::filesystem::exists(node_dir / "node_modules/openai/package.json"))
    GTEST_SKIP() << "the openai client is not installed in " << (node_dir / "node_modules").string()
                 << " (scripts/install-deps.sh installs it)";
  ServeProcess server("-m " + data_path("models/stories260K/stories260K.gguf") + " -t 1 --api-key test-key");
  ASSERT_GT(server.port(), 0) << server.log();
  const std::string out = (scratch_dir() / "client.log").string();
  const std::string cmd = "node " + (node_dir / "openai_conformance.mjs").string() + " http://127.0.0.1:" +
                          std::to_string(server.port()) + "/v1 stories260K test-key >" + out + " 2>&1";
  const int rc = std::system(cmd.c_str());
  const std::string log = slurp(out);
  EXPECT_EQ(rc, 0) << log << "\nserver:\n" << server.log();
  EXPECT_NE(log.find("checks passed"), std::string::npos) << log;
}
