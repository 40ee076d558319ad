// One rule for each fact, as the user meets it: every user-named output file
// goes through core's AtomicFile (a full disk gives exit 2, the file, the
// reason, and no file under the final name); -t follows the one thread rule
// (capped at the machine, with a notice; the table shows the count used);
// QINFER_ISA names a path this CPU runs or is an error.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
#include <fstream>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_runner.h"
#include "qinfer/core/threads.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/store/results_store.h"

using namespace qinfer;
using namespace qinfer::test;
namespace fs = std::filesystem;

namespace {

const std::string kModel = "models/stories260K/stories260K.gguf";
std::string model() { return data_path(kModel); }

// Runs qinfer with its files limited to `kib` KiB (SIGXFSZ ignored, so a write
// past the limit fails with EFBIG as a full disk fails with ENOSPC). Its stdout
// and stderr go through a pipe to an unlimited `cat`, so that they survive.
CliResult run_qinfer_on_full_disk(const std::string& args, int kib = 0) {
  const fs::path base = fs::temp_directory_path() / ("qinfer-full-" + std::to_string(::getpid()));
  const std::string log = base.string() + ".log";
  const std::string inner = "trap \"\" XFSZ; ulimit -f " + std::to_string(kib) + "; exec " + QINFER_BINARY + " " + args;
  const std::string cmd = "bash -c 'set -o pipefail; (" + inner + ") </dev/null 2>&1 | cat > " + log + "'";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = slurp(log);  // stdout and stderr together
  fs::remove(log);
  return r;
}

// The last line, where the error is.
std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.find_last_of('\n') == std::string::npos ? 0 : t.find_last_of('\n') + 1);
}

void expect_full_disk_error(const CliResult& r, const fs::path& file) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const std::string line = last_line(r.err);
  EXPECT_EQ(line.rfind("qinfer: error: " + file.string() + ": cannot write ", 0), 0u) << r.err;
  EXPECT_NE(line.find(std::strerror(EFBIG)), std::string::npos) << r.err;  // the reason, not just "cannot write"
  EXPECT_FALSE(fs::exists(file)) << file << " exists after a failed write";
}

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

}  // namespace

TEST(CliRules, BenchJsonOnAFullDisk) {
  QINFER_REQUIRE_DATA(kModel);
  const fs::path dir = scratch_dir(), json = dir / "bench.json";
  const CliResult r = run_qinfer_on_full_disk("bench -m " + model() + " -p 8 -n 0 -r 1 -t 1 --no-db --json " + json.string());
  expect_full_disk_error(r, json);
  EXPECT_TRUE(listing(dir).empty());
}

TEST(CliRules, ServingBenchJsonAndCsvOnAFullDisk) {
  QINFER_REQUIRE_DATA(kModel);
  const fs::path dir = scratch_dir();
  const std::string serve = "bench -m " + model() + " --concurrency 1 --num-requests 2 --input-len 8 --max-tokens 4 -t 1 --no-db ";
  CliResult r = run_qinfer_on_full_disk(serve + "--json " + (dir / "s.json").string());
  expect_full_disk_error(r, dir / "s.json");
  r = run_qinfer_on_full_disk(serve + "--csv " + (dir / "s.csv").string());
  expect_full_disk_error(r, dir / "s.csv");
  EXPECT_TRUE(listing(dir).empty());
}

TEST(CliRules, ReportAndRunsExportOnAFullDisk) {
  QINFER_REQUIRE_DATA(kModel);
  const fs::path dir = scratch_dir(), db = dir / "runs.db";
  const CliResult made = run_qinfer("bench -m " + model() + " -p 8 -n 4 -r 1 -t 1 --db " + db.string());
  ASSERT_EQ(made.exit_code, 0) << made.err;
  // report -o DIR: the directory may be made; no file in it is left empty.
  const fs::path report = dir / "report";
  CliResult r = run_qinfer_on_full_disk("report --db " + db.string() + " -o " + report.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(last_line(r.err).find(std::strerror(EFBIG)), std::string::npos) << r.err;
  if (fs::exists(report))
    for (const auto& e : fs::directory_iterator(report)) {
      EXPECT_GT(fs::file_size(e.path()), 0u) << e.path();
    }
  for (const char* format : {"csv", "json"}) {
    const fs::path out = dir / (std::string("runs.") + format);
    r = run_qinfer_on_full_disk("runs --db " + db.string() + " export --format " + format + " -o " + out.string());
    expect_full_disk_error(r, out);
  }
}

TEST(CliRules, ThreadsAboveTheMachineAreCappedWithANotice) {
  QINFER_REQUIRE_DATA(kModel);
  const int hw = hardware_thread_count();
  CliResult r = run_qinfer("bench -m " + model() + " -p 8 -n 0 -r 1 --no-db -t 1,10000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("-t 10000: this machine has " + std::to_string(hw) + " hardware threads; using " +
                       std::to_string(hw)),
            std::string::npos)
      << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  // The table's threads column is what ran.
  EXPECT_NE(r.out.find("| 1 | pp8 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| " + std::to_string(hw) + " | pp8 |"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("10000"), std::string::npos) << r.out;

  r = run_qinfer("run -m " + model() + " -p Once -n 2 --temp 0 --no-stats -t 10000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("-t 10000: this machine has"), std::string::npos) << r.err;
}

TEST(CliRules, BenchDefaultThreadsAreThePhysicalCores) {
  QINFER_REQUIRE_DATA(kModel);
  const CliResult r = run_qinfer("bench -m " + model() + " -p 8 -n 0 -r 1 --no-db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| " + std::to_string(default_thread_count()) + " | pp8 |"), std::string::npos) << r.out;
}

TEST(CliRules, UnknownOrUnsupportedIsaIsAnError) {
  CliResult r = run_qinfer("devices", "QINFER_ISA=neon");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("QINFER_ISA=neon: unknown kernel path (known: scalar, avx2, avx512)"), std::string::npos)
      << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  r = run_qinfer("devices", "QINFER_ISA=scalar");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (kernels::best_supported_isa() != kernels::Isa::Avx512) {
    r = run_qinfer("devices", "QINFER_ISA=avx512");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("QINFER_ISA=avx512: this CPU cannot run that kernel path"), std::string::npos) << r.err;
  }
}

// The results store on a full disk: the reason, never "corrupt database"; a
// store the command was creating is not left behind; an existing one keeps its runs.
TEST(CliRules, EvalDbOnAFullDiskSaysWhy) {
  QINFER_REQUIRE_DATA(kModel);
  const fs::path dir = scratch_dir(), fresh = dir / "fresh.db", old = dir / "old.db";
  const std::string eval = "eval -m " + model() + " --chunks 1 -c 64 -t 1 --db ";
  CliResult r = run_qinfer_on_full_disk(eval + fresh.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(last_line(r.err).find(std::strerror(EFBIG)), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("corrupt"), std::string::npos) << r.err;
  EXPECT_TRUE(listing(dir).empty()) << "a half-made store was left behind";

  r = run_qinfer(eval + old.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_qinfer_on_full_disk(eval + old.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(last_line(r.err).find(std::strerror(EFBIG)), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("corrupt"), std::string::npos) << r.err;
  EXPECT_EQ(ResultStore(old.string(), ResultStore::Mode::ReadOnly).count(), 1);
}

// Read-only commands create nothing beside the store, whatever its journal mode.
TEST(CliRules, ReadOnlyRunsCommandsCreateNoFiles) {
  QINFER_REQUIRE_DATA(kModel);
  const fs::path dir = scratch_dir(), db = dir / "r.db";
  ASSERT_EQ(run_qinfer("bench -m " + model() + " -p 8 -n 4 -r 1 -t 1 --db " + db.string()).exit_code, 0);
  EXPECT_EQ(listing(dir), std::vector<std::string>{"r.db"});
  for (bool wal_mode : {false, true}) {
    if (wal_mode) {  // as qinfer 0.1 left its stores
      sqlite3* raw = nullptr;
      ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
      sqlite3_exec(raw, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
      sqlite3_close(raw);
      ASSERT_EQ(listing(dir), std::vector<std::string>{"r.db"});
    }
    for (const char* cmd : {" list", " show 1", " compare 1 2", " export --format json"}) {
      const CliResult r = run_qinfer("runs --db " + db.string() + cmd);
      EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
      EXPECT_EQ(listing(dir), std::vector<std::string>{"r.db"}) << cmd << (wal_mode ? " (WAL mode)" : "");
    }
  }
}

TEST(CliRules, EmptyDbFileIsNamedForWhatItIs) {
  const fs::path dir = scratch_dir(), db = dir / "empty.db";
  { std::ofstream touch(db); }
  const CliResult r = run_qinfer("runs --db " + db.string() + " list");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("an empty file, not a results store yet"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("schema version 0"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

// A baseline saved from one chunk is one that --kl-divergence accepts.
TEST(CliRules, OneChunkBaselineCompares) {
  QINFER_REQUIRE_DATA(kModel);
  const fs::path dir = scratch_dir(), base = dir / "base.bin";
  const std::string text = data_path("text/tinystories-valid-a.txt");
  CliResult r = run_qinfer("eval -m " + model() + " -f " + text + " -c 64 --chunks 1 -t 1 --no-db --save-logits " +
                           base.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_qinfer("eval -m " + model() + " -t 1 --no-db --kl-divergence " + base.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(1 chunks of 64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Same top p: 100.000"), std::string::npos) << r.out;
}

// --kl-divergence-base / --kl-divergence mean the same in perplexity and eval,
// in llama-perplexity's spelling and in the short one.
TEST(CliRules, KlDivergenceFlagsMeanTheSameInPerplexityAndEval) {
  QINFER_REQUIRE_DATA(kModel);
  const fs::path dir = scratch_dir();
  const std::string text = data_path("text/tinystories-valid-a.txt");
  for (const std::string cmd : {"perplexity", "eval"}) {
    const std::string pre = cmd + " -m " + model() + " -t 1 " + (cmd == "eval" ? "--no-db " : "");
    const fs::path base = dir / (cmd + ".bin");
    CliResult r = run_qinfer(pre + "-f " + text + " -c 64 --chunks 2 --kl-divergence-base " + base.string());
    ASSERT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    ASSERT_TRUE(fs::exists(base)) << cmd << " did not write the base";
    for (const std::string& compare : {"--kl-divergence-base " + base.string() + " --kl-divergence",
                                      "--kl-divergence " + base.string()}) {
      r = run_qinfer(pre + compare);
      EXPECT_EQ(r.exit_code, 0) << cmd << " " << compare << ": " << r.err;
      EXPECT_NE(r.out.find("Mean    KLD:"), std::string::npos) << cmd << " " << compare << ": " << r.out;
    }
    r = run_qinfer(pre + "--kl-divergence");
    EXPECT_EQ(r.exit_code, 2) << cmd;
    EXPECT_NE(r.err.find("--kl-divergence needs a baseline logits file"), std::string::npos) << r.err;
  }
}

// bench -c is the context, as everywhere else; only --concurrency selects the serving benchmark.
TEST(CliRules, BenchDashCIsTheContext) {
  QINFER_REQUIRE_DATA(kModel);
  CliResult r = run_qinfer("bench -m " + model() + " -p 8 -n 0 -r 1 -t 1 --no-db -c 128");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| pp8 |"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Serving Benchmark Result"), std::string::npos) << r.out;
  r = run_qinfer("bench -m " + model() + " -p 16 -n 0 -r 1 -t 1 --no-db -c 8");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("test pp16 needs a context of 16 tokens; -c is 8"), std::string::npos) << r.err;
  r = run_qinfer("bench -m " + model() + " --concurrency 1 --num-requests 1 --input-len 8 --max-tokens 2 -t 1 --no-db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Serving Benchmark Result"), std::string::npos) << r.out;
}

// -o/--output names the output everywhere.
TEST(CliRules, OutputFlagIsDashO) {
  QINFER_REQUIRE_DATA(kModel);
  const fs::path dir = scratch_dir();
  const std::string bench = "bench -m " + model() + " -p 8 -n 4 -r 1 -t 1 --db " + (dir / "r.db").string();
  CliResult r = run_qinfer(bench + " -o " + (dir / "b.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(slurp((dir / "b.json").string())).size(), 2u);
  r = run_qinfer(bench + " --output " + (dir / "b.csv").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string csv = slurp((dir / "b.csv").string());
  EXPECT_EQ(count_lines(csv), 3) << csv;  // header, pp8, tg4
  EXPECT_NE(csv.find("avg_ts"), std::string::npos) << csv;
  r = run_qinfer("report --db " + (dir / "r.db").string() + " --output " + (dir / "rep").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "rep" / "report.html"));
  r = run_qinfer("runs --db " + (dir / "r.db").string() + " export --format csv --output " + (dir / "runs.csv").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "runs.csv"));
}

TEST(CliRules, LogitsImatrixAndModelsOnAFullDisk) {
  QINFER_REQUIRE_DATA(kModel);
  const fs::path dir = scratch_dir();
  const std::string text = data_path("text/tinystories-valid-a.txt");
  CliResult r = run_qinfer_on_full_disk("eval -m " + model() + " -f " + text + " -c 64 --chunks 2 -t 1 --no-db " +
                                        "--save-logits " + (dir / "base.bin").string());
  expect_full_disk_error(r, dir / "base.bin");
  r = run_qinfer_on_full_disk("imatrix -m " + model() + " -f " + text + " -c 64 --chunks 2 -t 1 -o " +
                              (dir / "imatrix.dat").string());
  expect_full_disk_error(r, dir / "imatrix.dat");
  r = run_qinfer_on_full_disk("create --preset stories260k --type q8_0 -q -t 1 -o " + (dir / "m.gguf").string());
  expect_full_disk_error(r, dir / "m.gguf");
  EXPECT_TRUE(listing(dir).empty());
}
