// The llama-bench comparison: its JSON read field by field (shapes as
// llama-bench -o json prints them), failures of the user's binary as one
// clear line, depths, the roofline and the STREAM-style bandwidth.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "qinfer/bench/bandwidth.h"
#include "qinfer/bench/llama_bench_peer.h"
#include "qinfer/bench/roofline.h"
#include "qinfer/core/error.h"
#include "qinfer/model/model.h"
#include "qinfer/store/results_store.h"
#include "test_util.h"

using namespace qinfer;
using namespace qinfer::test;

namespace {

const char* kModel = "models/stories260K/stories260K.gguf";

// One result object with the fields llama-bench prints (values made up).
nlohmann::json result(int n_prompt, int n_gen, int n_depth, int threads, double ts) {
  return {{"build_commit", "0123abc"}, {"build_number", 8884}, {"cpu_info", "AMD EPYC"}, {"gpu_info", ""},
          {"backends", "CPU"}, {"model_filename", "/tmp/m.gguf"}, {"model_type", "llama 1B Q4_0"},
          {"model_size", 636229632}, {"model_n_params", 1100048384}, {"n_batch", 512}, {"n_ubatch", 512},
          {"n_threads", threads}, {"type_k", "f16"}, {"type_v", "f16"}, {"n_prompt", n_prompt}, {"n_gen", n_gen},
          {"n_depth", n_depth}, {"test_time", "2026-01-01T00:00:00Z"}, {"avg_ns", 1000}, {"stddev_ns", 10},
          {"avg_ts", ts}, {"stddev_ts", ts / 100}, {"samples_ns", {990, 1010}}, {"samples_ts", {ts * 0.99, ts * 1.01}}};
}

void expect_input_error(const std::string& text, const std::string& needle) {
  try {
    (void)bench::parse_llama_bench_json(text, "peer.json");
    FAIL() << "accepted: " << text;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("peer.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(LlamaBenchPeer, ParsesResultsAndBuild) {
  const nlohmann::json j = {result(512, 0, 0, 2, 110.5), result(0, 128, 2048, 1, 48.25)};
  const bench::PeerRun run = bench::parse_llama_bench_json(j.dump(2), "peer.json");
  EXPECT_EQ(run.build_number, 8884);
  EXPECT_EQ(run.build_commit, "0123abc");
  EXPECT_EQ(run.engine_version(), "llama.cpp b8884 (0123abc)");
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(run.results[0].n_prompt, 512);
  EXPECT_EQ(run.results[0].threads, 2);
  EXPECT_DOUBLE_EQ(run.results[0].avg_ts, 110.5);
  EXPECT_EQ(run.results[1].n_gen, 128);
  EXPECT_EQ(run.results[1].n_depth, 2048);
  EXPECT_EQ(run.results[1].samples_ts.size(), 2u);
  // Older llama-bench builds print no n_depth: depth 0.
  nlohmann::json old = result(512, 0, 0, 2, 1.0);
  old.erase("n_depth");
  EXPECT_EQ(bench::parse_llama_bench_json(nlohmann::json::array({old}).dump(), "x").results[0].n_depth, 0);
  // Built from a source archive: no number, commit "unknown".
  nlohmann::json archive = result(512, 0, 0, 2, 1.0);
  archive["build_number"] = 0;
  archive["build_commit"] = "unknown";
  EXPECT_EQ(bench::parse_llama_bench_json(nlohmann::json::array({archive}).dump(), "x").engine_version(),
            "llama.cpp (build unknown)");
}

TEST(LlamaBenchPeer, RejectsWhatIsNotItsOutput) {
  expect_input_error("llama-bench: error: unknown argument", "not JSON");
  expect_input_error("{\"avg_ts\": 1}", "array");
  expect_input_error("[]", "no results");
  expect_input_error("[1, 2]", "not an object");
  nlohmann::json missing = result(512, 0, 0, 2, 1.0);
  missing.erase("avg_ts");
  expect_input_error(nlohmann::json::array({missing}).dump(), "\"avg_ts\" is missing");
  nlohmann::json wrong = result(512, 0, 0, 2, 1.0);
  wrong["n_threads"] = "two";
  expect_input_error(nlohmann::json::array({wrong}).dump(), "\"n_threads\" has the wrong type");
  expect_input_error(nlohmann::json::array({result(512, 0, 0, 0, 1.0)}).dump(), "impossible");
  expect_input_error(nlohmann::json::array({result(512, 0, 0, 2, -3.0)}).dump(), "impossible");
}

TEST(LlamaBenchPeer, ArgumentsNameTheSameTest) {
  bench::PeerTest t;
  t.n_prompt = 0;
  t.n_gen = 128;
  t.n_depth = 2048;
  t.threads = 2;
  t.reps = 3;
  const std::vector<std::string> a = bench::llama_bench_args("/m.gguf", t);
  const std::vector<std::string> want = {"-m", "/m.gguf", "-p", "0", "-n", "128", "-d", "2048",
                                         "-t", "2",       "-r", "3", "-b", "512", "-o", "json"};
  EXPECT_EQ(a, want);
}

// Failures of the binary the user named: one line, exit code 2, naming it.
TEST(LlamaBenchPeer, CliFailuresAreOneClearLine) {
  QINFER_REQUIRE_DATA(kModel);
  const std::string m = data_path(kModel);
  struct Case {
    std::string binary, needle;
  };
  const std::string text = (scratch_dir() / "not-exec.txt").string();
  std::ofstream(text) << "text\n";
  for (const Case& c : {Case{"/nonexistent/llama-bench", "No such file"}, Case{text, "not an executable"},
                        Case{"/bin/false", "failed (exit code 1)"}, Case{"/bin/echo", "not JSON"}}) {
    auto r = run_qinfer("bench -m " + m + " -p 8 -n 0 -t 1 -r 1 --compare-llama-bench " + c.binary);
    EXPECT_EQ(r.exit_code, 2) << c.binary << ": " << r.err;
    EXPECT_NE(r.err.find(c.binary), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
  }
  for (const char* flag : {"--n-depth", "--depth"}) {  // llama-bench's name and the short spelling
    auto neg = run_qinfer("bench -m " + m + " -p 8 -n 0 " + flag + "=-5 -r 1");
    EXPECT_EQ(neg.exit_code, 2) << flag << ": " << neg.err;
    EXPECT_NE(neg.err.find("-d"), std::string::npos) << neg.err;
    EXPECT_EQ(count_lines(neg.err), 1) << neg.err;
  }
}

// A stand-in llama-bench (a script): it answers each test with made-up
// numbers in llama-bench's JSON, so the side-by-side table, the ratio and both
// stored runs can be checked end to end without llama.cpp.
TEST(LlamaBenchPeer, CliComparesAndStoresBothEngines) {
  QINFER_REQUIRE_DATA(kModel);
  const auto dir = scratch_dir();
  const std::string fake = (dir / "fake-llama-bench").string();
  {
    std::ofstream f(fake);
    f << "#!/bin/sh\n"
         "echo \"$@\" >> " << (dir / "args.txt").string() << "\n"
         "while [ $# -gt 0 ]; do case \"$1\" in -p) p=$2;; -n) n=$2;; -d) d=$2;; -t) t=$2;; esac; shift; done\n"
         "printf '[{\"build_commit\":\"fake123\",\"build_number\":4321,\"n_prompt\":%s,\"n_gen\":%s,\"n_depth\":%s,"
         "\"n_threads\":%s,\"avg_ts\":1.5,\"stddev_ts\":0.25,\"samples_ts\":[1.25,1.75]}]\\n' $p $n $d $t\n";
  }
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  const std::string db = (dir / "r.db").string(), json = (dir / "r.json").string();
  auto r = run_qinfer("bench -m " + data_path(kModel) + " -p 16 -n 8 -d 0,32 -t 1 -r 2 --json " + json + " --db " + db +
                      " --compare-llama-bench " + fake);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| llama.cpp t/s | ratio |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| 1.50 ± 0.25 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("llama.cpp: llama.cpp b4321 (fake123)"), std::string::npos) << r.out;
  // The peer ran the same tests: one call per cell, same model, depth and threads.
  const std::string args = slurp((dir / "args.txt").string());
  EXPECT_EQ(count_lines(args), 4) << args;
  EXPECT_NE(args.find("-m " + data_path(kModel) + " -p 0 -n 8 -d 32 -t 1 -r 2"), std::string::npos) << args;
  const auto j = nlohmann::json::parse(slurp(json));
  ASSERT_EQ(j.size(), 4u);
  for (const auto& row : j) {
    EXPECT_EQ(row["llama_bench"]["avg_ts"].get<double>(), 1.5);
    EXPECT_EQ(row["llama_bench"]["engine"], "llama.cpp b4321 (fake123)");
    EXPECT_EQ(row.contains("roofline_tps"), row["n_gen"].get<int>() > 0) << row.dump();  // tg has a roofline
  }
  // Each cell stored twice: qinfer's run and llama.cpp's, same test and label stem.
  const std::vector<RunRecord> runs = ResultStore(db, ResultStore::Mode::ReadOnly).list();
  ASSERT_EQ(runs.size(), 8u);
  int peers = 0;
  for (const RunRecord& run : runs) {
    if (run.engine != "llama.cpp") continue;
    ++peers;
    EXPECT_EQ(run.engine_version, "llama.cpp b4321 (fake123)");
    EXPECT_NE(run.label.find("(llama.cpp)"), std::string::npos) << run.label;
    const double tps = run.find(metric::kPpTps) ? *run.find(metric::kPpTps) : *run.find(metric::kTgTps);
    EXPECT_EQ(tps, 1.5);
  }
  EXPECT_EQ(peers, 4);
}

// Depth tests are named as llama-bench names them and fill the cache first;
// --roofline adds the measured bandwidth and the fraction for tg.
TEST(LlamaBenchPeer, DepthAndRooflineInTheTable) {
  QINFER_REQUIRE_DATA(kModel);
  const std::string json = (scratch_dir() / "d.json").string();
  auto r = run_qinfer("bench -m " + data_path(kModel) + " -p 16 -n 8 -d 0,32 -t 1 -r 1 --roofline --json " + json);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| pp16 @ d32 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| tg8 @ d32 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("read bandwidth, 1 thread(s):"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(slurp(json));
  ASSERT_EQ(j.size(), 4u);
  for (const auto& row : j) {
    if (row["n_gen"].get<int>() == 0) continue;
    ASSERT_TRUE(row.contains("roofline_tps")) << row.dump();
    EXPECT_GT(row["read_bandwidth"].get<double>(), 1e8);  // any machine reads more than 100 MB/s
  }
}

// The roofline's lines say what the weights stream from: the copies made at
// load and their page size, or the file's own pages with repacking off.
TEST(LlamaBenchPeer, RooflineSaysWhereTheWeightsLive) {
  QINFER_REQUIRE_DATA(kModel);
  const std::string args = "bench -m " + data_path(kModel) + " -p 0 -n 4 -t 1 -r 1 --roofline --no-db";
  auto r = run_qinfer(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // stories260K is F32: its matrices (35 in the layers, the untied classifier) have no packed layout and are copied.
  EXPECT_NE(r.out.find("weights in memory: 36 copied as they are"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" MiB in 2 MiB pages"), std::string::npos) << r.out;
  auto off = run_qinfer(args, "QINFER_NO_REPACK=1");
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_NE(off.out.find("weights in memory: the file's pages (nothing repacked)"), std::string::npos) << off.out;
  auto small = run_qinfer(args, "QINFER_NO_HUGEPAGES=1");
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_NE(small.out.find("(huge pages off)"), std::string::npos) << small.out;
}

// Bytes per token: every matrix once, one embedding row unless it is also the
// classifier, and K and V of every cached position.
TEST(Roofline, BytesPerTokenCountsWeightsAndCache) {
  QINFER_REQUIRE_DATA(kModel);
  auto m = load_model(data_path(kModel));
  double want = 0;
  for (const Tensor& t : m->tensors) want += double(t.nbytes);
  if (m->output != m->tok_embd) want -= double(m->tok_embd->nbytes - m->tok_embd->row_bytes());
  EXPECT_DOUBLE_EQ(bench::bytes_read_per_token(*m, 0), want);
  const ModelConfig& c = m->config;
  EXPECT_DOUBLE_EQ(bench::bytes_read_per_token(*m, 100) - want, 100.0 * c.n_layer * c.kv_dim() * 2 * 2);
  EXPECT_DOUBLE_EQ(bench::roofline_tps(*m, 1e9, 128, 0), 1e9 / bench::bytes_read_per_token(*m, 64));
}

TEST(Bandwidth, ReadSumAndMeasurement) {
  std::vector<uint64_t> v(1001);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i;
  EXPECT_EQ(bench::read_sum(v.data(), v.size() * 8), uint64_t(1000 * 1001 / 2));
  bench::BandwidthOptions o;
  o.bytes = size_t(16) << 20;
  o.repetitions = 2;
  const double bw = bench::measure_read_bandwidth(o);
  EXPECT_GT(bw, 1e8);
  EXPECT_LT(bw, 1e13);  // 10 TB/s: no machine reads DRAM this fast, a broken timer would
}
