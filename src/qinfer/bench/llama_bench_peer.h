// The speed peer: runs a llama-bench binary the user has installed (llama.cpp
// is never part of qinfer) on the same model file and test, and reads the
// JSON it prints with `-o json`. Field names are llama-bench's.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qinfer::bench {

struct PeerTest {
  int n_prompt = 0;  // pp tests
  int n_gen = 0;     // tg tests
  int n_depth = 0;   // tokens already in the KV cache (llama-bench -d)
  int threads = 1;
  int reps = 5;
  int n_batch = 512;
};

struct PeerResult {
  int n_prompt = 0, n_gen = 0, n_depth = 0, threads = 0;
  double avg_ts = 0, stddev_ts = 0;
  std::vector<double> samples_ts;
};

struct PeerRun {
  std::string build_commit;
  int64_t build_number = 0;
  std::string cpu_info, backends, model_type;
  std::vector<PeerResult> results;
  // "llama.cpp b8884 (abc1234)"; "llama.cpp (build unknown)" when it reports none
  std::string engine_version() const;
};

// Parses llama-bench's `-o json` output (an array of test objects). `source`
// names it in errors; throws InputError on anything that is not that shape.
PeerRun parse_llama_bench_json(const std::string& text, const std::string& source);

// The arguments run_llama_bench passes (after the binary).
std::vector<std::string> llama_bench_args(const std::string& model_path, const PeerTest& test);

// `binary` itself when it names a path, else the first match on $PATH.
std::string resolve_llama_bench(const std::string& binary);

// Throws InputError naming `binary` unless it is an executable file.
void check_llama_bench_binary(const std::string& binary);

// Runs `binary` with llama_bench_args and parses its output. Throws InputError
// when the binary is missing or not executable, and Error (with the last line
// it printed on stderr) when it fails.
PeerRun run_llama_bench(const std::string& binary, const std::string& model_path, const PeerTest& test);

}  // namespace qinfer::bench
