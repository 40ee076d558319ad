// `qinfer bench --endpoint` against `qinfer serve` (a child process on
// 127.0.0.1): every request completes on reused connections, and the output
// token counts come from the server's usage, exactly as asked.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "serve_test_util.h"

using namespace qinfer::test;

TEST(BenchEndpointServe, BenchAgainstQinferServe) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  ServeProcess server("-m " + data_path("models/stories260K/stories260K.gguf") + " -t 1 --parallel 4");
  ASSERT_GT(server.port(), 0) << server.log();
  const auto dir = scratch_dir();
  const std::string json = (dir / "r.json").string();
  const CliResult r = run_qinfer("bench --endpoint http://127.0.0.1:" + std::to_string(server.port()) +
                                 " --model stories260K --concurrency 1,4 --num-requests 8 --max-tokens 8 --input-len 16 --json " +
                                 json + " --db " + (dir / "r.db").string());
  ASSERT_EQ(r.exit_code, 0) << r.err << "\nserver:\n" << server.log();
  const nlohmann::json j = nlohmann::json::parse(slurp(json));
  ASSERT_EQ(j.size(), 2u);
  for (const auto& level : j) {
    EXPECT_EQ(level["completed"], 8) << level.dump();
    EXPECT_EQ(level["failed"], 0) << level.dump();
    EXPECT_EQ(level["total_output_tokens"], 64) << level.dump();
  }
}
