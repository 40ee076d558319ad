// qinfer bench: llama-bench style prefill/decode throughput of the in-process
// engine (pp N, tg N at each thread count), as a table and optionally JSON.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "qinfer/bench/llama_bench.h"
#include "qinfer/cli/commands.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/core/cpu_info.h"
#include "qinfer/core/error.h"
#include "qinfer/kernels/kernels.h"

namespace qinfer::cli {

namespace {

struct BenchArgs {
  ModelArgs model;
  std::vector<int> n_prompt{512};
  std::vector<int> n_gen{128};
  std::vector<int> threads;
  int reps = 5;
  int n_batch = 512;
  std::string json_path;
};

// "llama 1.1B Q4_0": architecture, size class and the most common matrix type.
std::string describe(const Model& m) {
  std::map<std::string, int64_t> by_type;
  for (const Tensor& t : m.tensors)
    if (t.n_dims >= 2) by_type[type_info(t.type).name] += t.n_elements();
  std::string main_type = "?";
  int64_t best = -1;
  for (const auto& [name, n] : by_type)
    if (n > best) best = n, main_type = name;
  for (char& c : main_type) c = char(std::toupper(static_cast<unsigned char>(c)));
  char size[32];
  const double p = double(m.n_params());
  if (p >= 1e9) std::snprintf(size, sizeof size, "%.1fB", p / 1e9);
  else if (p >= 1e6) std::snprintf(size, sizeof size, "%.0fM", p / 1e6);
  else std::snprintf(size, sizeof size, "%.0fK", p / 1e3);
  return m.config.arch + " " + size + " " + main_type;
}

void bench(const BenchArgs& a) {
  auto model = load_model_from_args(a.model);
  std::vector<int> threads = a.threads;
  if (threads.empty()) threads.push_back(detect_cpu().physical_cores > 0 ? detect_cpu().physical_cores : 1);
  std::vector<ThroughputTest> tests;
  for (int t : threads) {
    for (int p : a.n_prompt)
      if (p > 0) tests.push_back({"pp" + std::to_string(p), p, 0, t});
    for (int n : a.n_gen)
      if (n > 0) tests.push_back({"tg" + std::to_string(n), 0, n, t});
  }
  if (tests.empty()) throw InputError("nothing to run: give -p and/or -n greater than 0");
  for (const ThroughputTest& t : tests)
    if (t.n_prompt + t.n_gen > model->config.n_ctx_train * 64)
      throw InputError("test " + t.name + " is longer than the context this model supports");

  const std::string desc = describe(*model);
  const double mib = double(model->weight_bytes()) / (1024.0 * 1024.0);
  std::printf("| model | size | params | backend | threads | test | t/s |\n");
  std::printf("| ----- | ---: | -----: | ------- | ------: | ---: | --: |\n");
  std::fflush(stdout);
  nlohmann::json out = nlohmann::json::array();
  for (const ThroughputTest& t : tests) {
    const bool tty = ::isatty(2);
    if (tty) std::fprintf(stderr, "running %s at %d thread(s), %d repetitions...\r", t.name.c_str(), t.threads, a.reps);
    const ThroughputResult r = run_throughput_test(*model, t, a.reps, a.n_batch);
    if (tty) std::fprintf(stderr, "%60s\r", "");
    std::printf("| %s | %.2f MiB | %.2f M | CPU (%s) | %d | %s | %.2f ± %.2f |\n", desc.c_str(), mib,
                model->n_params() / 1e6, kernels::isa_name(kernels::active_isa()), t.threads, t.name.c_str(), r.mean(),
                r.stddev());
    std::fflush(stdout);
    out.push_back({{"model", model->path}, {"model_desc", desc}, {"model_bytes", model->weight_bytes()},
                   {"n_params", model->n_params()}, {"isa", kernels::isa_name(kernels::active_isa())},
                   {"threads", t.threads}, {"test", t.name}, {"n_prompt", t.n_prompt}, {"n_gen", t.n_gen},
                   {"avg_ts", r.mean()}, {"stddev_ts", r.stddev()}, {"samples_ts", r.samples_tps}});
  }
  if (!a.json_path.empty()) {
    std::ofstream f(a.json_path);
    if (!f) throw InputError(a.json_path + ": cannot write");
    f << out.dump(2) << "\n";
    if (!f) throw InputError(a.json_path + ": write failed");
  }
}

}  // namespace

void define_bench(CLI::App& cmd) {
  auto a = std::make_shared<BenchArgs>();
  add_model_args(cmd, a->model);
  cmd.add_option("-p,--n-prompt", a->n_prompt, "prompt lengths for pp tests (comma-separated)")->delimiter(',')->capture_default_str();
  cmd.add_option("-n,--n-gen", a->n_gen, "generation lengths for tg tests (comma-separated)")->delimiter(',')->capture_default_str();
  cmd.get_option("--threads")->description("thread counts (comma-separated; default: physical cores)");
  cmd.remove_option(cmd.get_option("--threads"));
  cmd.add_option("-t,--threads", a->threads, "thread counts (comma-separated; default: physical cores)")->delimiter(',');
  cmd.add_option("-r,--repetitions", a->reps, "repetitions of each test")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd.add_option("-b,--batch-size", a->n_batch, "prompt tokens per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--json", a->json_path, "also write the results as JSON");
  cmd.callback([a] { bench(*a); });
}

}  // namespace qinfer::cli
