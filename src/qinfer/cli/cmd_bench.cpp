// qinfer bench: llama-bench style prefill/decode throughput of the in-process
// engine (pp N, tg N at each thread count), as a table and optionally JSON;
// or, with --endpoint / --concurrency / --request-rate / --num-requests, a
// serving benchmark with vLLM's metrics against the in-process engine or any
// OpenAI-compatible server.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <cctype>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "qinfer/bench/bandwidth.h"
#include "qinfer/bench/endpoint_target.h"
#include "qinfer/bench/engine_target.h"
#include "qinfer/bench/llama_bench.h"
#include "qinfer/bench/llama_bench_peer.h"
#include "qinfer/bench/roofline.h"
#include "qinfer/bench/serve_bench.h"
#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/cli/kv_args.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/cli/placement.h"
#include "qinfer/cli/run_records.h"
#include "qinfer/core/atomic_file.h"
#include "qinfer/core/error.h"
#include "qinfer/core/format.h"
#include "qinfer/core/peak_rss.h"
#include "qinfer/core/threads.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/model/repack.h"

namespace qinfer::cli {

namespace {

struct BenchArgs {
  ModelArgs model;
  std::vector<int> n_prompt{512};
  std::vector<int> n_gen{128};
  std::vector<int> threads;
  std::vector<int> n_depth;
  std::string llama_bench;  // --compare-llama-bench
  bool roofline = false;
  int reps = 5;
  int n_batch = 512;
  int n_ctx = 0;
  std::string json_path;
  std::string output_path;  // -o: JSON, or CSV when it ends in .csv
  // Serving mode.
  std::string endpoint;
  std::vector<int> concurrency;
  int num_requests = 64;
  std::string request_rate = "inf";
  int input_len = 128;
  int max_tokens = 128;
  std::string dataset;
  std::string csv_path;
  int warmup = 1;
  int slots = 0;
  KvArgs kv;
  double timeout_s = 300;
  uint64_t seed = 0;
  std::string api_key;
  bool allow_eos = false;
  StoreArgs store;
  std::string label;
  PlacementArgs placement;
};

// "llama 1.1B Q4_0": architecture, size class and the dominant type.
std::string describe(const Model& m) {
  const std::string main_type = dominant_type_name(m);
  char size[32];
  const double p = double(m.n_params());
  if (p >= 1e9) std::snprintf(size, sizeof size, "%.1fB", p / 1e9);
  else if (p >= 1e6) std::snprintf(size, sizeof size, "%.0fM", p / 1e6);
  else std::snprintf(size, sizeof size, "%.0fK", p / 1e3);
  return m.config.arch + " " + size + " " + main_type;
}

bool is_csv(const std::string& path) { return path.size() >= 4 && path.compare(path.size() - 4, 4, ".csv") == 0; }

// pp/tg rows as CSV: one line per test, the JSON's scalar fields as columns.
std::string rows_csv(const nlohmann::json& rows) {
  std::string out;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string header, line;
    for (const auto& [key, value] : rows[i].items()) {
      if (value.is_structured()) continue;  // samples_ts
      header += (header.empty() ? "" : ",") + key;
      line += (line.empty() ? "" : ",") + csv_field(value.is_string() ? value.get<std::string>() : value.dump());
    }
    if (i == 0) out += header + "\n";
    out += line + "\n";
  }
  return out;
}

std::string results_json(const std::vector<bench::ServeResult>& results) {
  nlohmann::json out = nlohmann::json::array();
  for (const bench::ServeResult& r : results) out.push_back(r.to_json());
  return out.dump(2) + "\n";
}

// The configuration name runs are stored under: --label, else the model file's stem.
std::string run_label(const BenchArgs& a, const std::string& model_name) {
  if (!a.label.empty()) return a.label;
  return std::filesystem::path(model_name).stem().string();
}

// One measured cell of the pp/tg table: qinfer, and llama.cpp when compared.
struct Cell {
  ThroughputResult ours;
  bool have_peer = false;
  bench::PeerResult peer;
  double roofline_tps = 0;  // tg only, when the bandwidth was measured
};

std::string fmt_tps(double mean, double sd) {
  char b[64];
  std::snprintf(b, sizeof b, "%.2f ± %.2f", mean, sd);
  return b;
}

std::string fmt_fraction(double tps, double roof) {
  if (!(roof > 0)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.0f %%", 100.0 * tps / roof);
  return b;
}

// llama-bench's numbers as a ThroughputResult (its avg_ts and stddev_ts are
// the mean and sample stddev of samples_ts), so both engines are stored alike.
ThroughputResult peer_result(const ThroughputTest& t, const bench::PeerResult& p) {
  ThroughputResult r;
  r.test = t;
  r.threads = p.threads;
  r.samples_tps = p.samples_ts.empty() ? std::vector<double>{p.avg_ts} : p.samples_ts;
  return r;
}

// The stored run of one cell; the roofline and depth, when there are any, with it.
RunRecord cell_run(const std::string& label, const Model& model, const ThroughputResult& r, const BenchArgs& a,
                   double roofline_tps) {
  RunRecord run = throughput_run(label, model, r, a.reps, a.n_batch);
  if (roofline_tps > 0) {
    run.add("roofline_tps", roofline_tps, "tok/s");
    run.add("roofline_fraction", r.mean() / roofline_tps);
  }
  if (r.test.n_depth > 0) {
    nlohmann::json params = nlohmann::json::parse(run.params_json);
    params["n_depth"] = r.test.n_depth;
    run.params_json = params.dump();
  }
  return run;
}

void bench(const BenchArgs& a) {
  const DeviceChoice device = choose_device(a.placement);
  const std::unique_ptr<ResultStore> store = open_results_store(a.store);
  ModelArgs margs = a.model;
  margs.model = model_path_from_args(a.model);
  {
    // -c, else the longest test's context: each test sizes its own context to its depth and tokens.
    int longest = 0, depth = 0;
    for (int p : a.n_prompt) longest = std::max(longest, p);
    for (int n : a.n_gen) longest = std::max(longest, n);
    for (int d : a.n_depth) depth = std::max(depth, d);
    const int n_ctx = a.n_ctx > 0 ? a.n_ctx : std::max(depth + longest, 16);
    int threads = 0;
    for (int t : a.threads) threads = std::max(threads, t);
    LoadShape shape{n_ctx, 1, a.n_batch, threads, 1, a.kv};
    shape.kv.kv_budget.clear();  // each test sizes its own context; the budget is for serving
    check_memory_fits(a.placement, device, margs.model, shape);
  }
  auto model = load_model_from_args(margs);
  std::vector<int> threads = a.threads;
  if (threads.empty()) threads.push_back(default_thread_count());
  const std::vector<int> depths = a.n_depth.empty() ? std::vector<int>{0} : a.n_depth;
  std::vector<ThroughputTest> tests;
  for (int t : threads)
    for (int d : depths) {
      for (int p : a.n_prompt)
        if (p > 0) tests.push_back({throughput_test_name(p, 0, d), p, 0, t, a.n_ctx, d});
      for (int n : a.n_gen)
        if (n > 0) tests.push_back({throughput_test_name(0, n, d), 0, n, t, a.n_ctx, d});
    }
  if (tests.empty()) throw InputError("nothing to run: give -p and/or -n greater than 0");
  ContextParams cp;
  cp.n_batch = a.n_batch;
  apply_kv_args(a.kv, *model, cp);
  cp.kv_budget_tokens = 0;  // each test sizes its own context; the budget is for serving
  if (a.kv.given()) std::fprintf(stderr, "%s\n", describe_kv(*model, cp.cache_type, cp.kv_block).c_str());
  for (const ThroughputTest& t : tests)
    if (t.n_depth + t.n_prompt + t.n_gen > model->config.n_ctx_train * 64)
      throw InputError("test " + t.name + " is longer than the context this model supports");
  const bool compare = !a.llama_bench.empty();
  if (compare) bench::check_llama_bench_binary(bench::resolve_llama_bench(a.llama_bench));

  // Read bandwidth per thread count, measured in this run (the roofline's denominator).
  std::map<int, double> bandwidth;
  const bool any_tg = std::any_of(tests.begin(), tests.end(), [](const ThroughputTest& t) { return t.n_gen > 0; });
  if ((compare || a.roofline) && any_tg) {
    for (int requested : threads) {
      bench::BandwidthOptions bo;
      bo.threads = resolve_thread_count(requested);
      if (bandwidth.count(bo.threads)) continue;
      bandwidth[bo.threads] = bench::measure_read_bandwidth(bo);
      std::printf("read bandwidth, %d thread(s): %.1f GB/s (STREAM-style read of %zu MiB, best of %d)\n", bo.threads,
                  bandwidth[bo.threads] / 1e9, bo.bytes >> 20, bo.repetitions);
    }
    std::printf("weights read per generated token: %.1f MiB (+ K/V cache)\n",
                bench::bytes_read_per_token(*model, 0) / (1024.0 * 1024.0));
    // The page size the weights stream from moves decode speed (and the roofline's denominator reads huge pages).
    std::printf("%s\n", describe_weight_memory(*model).c_str());
  }

  const std::string desc = describe(*model);
  const double mib = double(model->weight_bytes()) / (1024.0 * 1024.0);
  const std::string isa = kernels::isa_name(kernels::active_isa());
  if (compare) {
    std::printf("| model | threads | test | qinfer t/s | llama.cpp t/s | ratio | qinfer roofline | llama.cpp roofline |\n");
    std::printf("| ----- | ------: | ---: | ---------: | ------------: | ----: | --------------: | -----------------: |\n");
  } else if (!bandwidth.empty()) {
    std::printf("| model | size | params | backend | threads | test | t/s | roofline |\n");
    std::printf("| ----- | ---: | -----: | ------- | ------: | ---: | --: | -------: |\n");
  } else {
    std::printf("| model | size | params | backend | threads | test | t/s |\n");
    std::printf("| ----- | ---: | -----: | ------- | ------: | ---: | --: |\n");
  }
  std::fflush(stdout);
  nlohmann::json out = nlohmann::json::array();
  std::vector<RunRecord> records;
  std::string peer_version;
  for (const ThroughputTest& t : tests) {
    Cell cell;
    const bool tty = ::isatty(2);
    if (tty) std::fprintf(stderr, "running %s, %d repetitions...\r", t.name.c_str(), a.reps);
    cell.ours = run_throughput_test(*model, t, a.reps, cp);
    const ThroughputResult& r = cell.ours;
    if (compare) {
      if (tty) std::fprintf(stderr, "running llama-bench %s...              \r", t.name.c_str());
      bench::PeerTest pt;
      pt.n_prompt = t.n_prompt;
      pt.n_gen = t.n_gen;
      pt.n_depth = t.n_depth;
      pt.threads = r.threads;  // the count qinfer ran on
      pt.reps = a.reps;
      pt.n_batch = a.n_batch;
      const bench::PeerRun pr = bench::run_llama_bench(a.llama_bench, model->path, pt);
      if (pr.results.size() != 1)
        throw Error(a.llama_bench + " returned " + std::to_string(pr.results.size()) + " results for one test");
      cell.peer = pr.results[0];
      cell.have_peer = true;
      peer_version = pr.engine_version();
    }
    if (tty) std::fprintf(stderr, "%70s\r", "");
    if (t.n_gen > 0 && bandwidth.count(r.threads))
      cell.roofline_tps = bench::roofline_tps(*model, bandwidth[r.threads], t.n_gen, t.n_depth);
    const double ours = r.mean();
    if (compare) {
      std::printf("| %s | %d | %s | %s | %s | %.2f | %s | %s |\n", desc.c_str(), r.threads, t.name.c_str(),
                  fmt_tps(ours, r.stddev()).c_str(), fmt_tps(cell.peer.avg_ts, cell.peer.stddev_ts).c_str(),
                  ours / cell.peer.avg_ts, fmt_fraction(ours, cell.roofline_tps).c_str(),
                  fmt_fraction(cell.peer.avg_ts, cell.roofline_tps).c_str());
    } else {
      std::printf("| %s | %.2f MiB | %.2f M | CPU (%s) | %d | %s | %s |", desc.c_str(), mib, model->n_params() / 1e6,
                  isa.c_str(), r.threads, t.name.c_str(), fmt_tps(ours, r.stddev()).c_str());
      if (!bandwidth.empty()) std::printf(" %s |", fmt_fraction(ours, cell.roofline_tps).c_str());
      std::printf("\n");
    }
    std::fflush(stdout);
    nlohmann::json row = {{"model", model->path}, {"model_desc", desc}, {"model_bytes", model->weight_bytes()},
                          {"n_params", model->n_params()}, {"isa", isa}, {"threads", r.threads}, {"test", t.name},
                          {"n_prompt", t.n_prompt}, {"n_gen", t.n_gen}, {"n_depth", t.n_depth},
                          {"avg_ts", ours}, {"stddev_ts", r.stddev()}, {"samples_ts", r.samples_tps}};
    if (cell.roofline_tps > 0) {
      row["read_bandwidth"] = bandwidth[r.threads];
      row["roofline_tps"] = cell.roofline_tps;
    }
    if (compare)
      row["llama_bench"] = {{"engine", peer_version}, {"avg_ts", cell.peer.avg_ts}, {"stddev_ts", cell.peer.stddev_ts},
                            {"samples_ts", cell.peer.samples_ts}};
    out.push_back(row);
    // One run per test; a pp and a tg run of one label merge into one configuration in the report.
    std::string label = run_label(a, model->path);
    if (threads.size() > 1) label += " t" + std::to_string(r.threads);
    if (t.n_depth > 0) label += " d" + std::to_string(t.n_depth);
    records.push_back(cell_run(label, *model, r, a, cell.roofline_tps));
    add_kv_metrics(records.back(), *model, cp.cache_type);
    record_device(records.back(), device);
    if (compare) {
      RunRecord peer = cell_run(label + " (llama.cpp)", *model, peer_result(t, cell.peer), a, cell.roofline_tps);
      peer.engine = "llama.cpp";
      peer.engine_version = peer_version;
      record_device(peer, device);
      records.push_back(std::move(peer));
    }
  }
  if (compare) std::printf("llama.cpp: %s (%s)\n", peer_version.c_str(), a.llama_bench.c_str());
  for (const RunRecord& run : records) record_and_say(store.get(), run);
  if (!a.json_path.empty()) write_file_atomically(a.json_path, out.dump(2) + "\n");
  if (!a.csv_path.empty()) write_file_atomically(a.csv_path, rows_csv(out));
  if (!a.output_path.empty()) write_file_atomically(a.output_path, is_csv(a.output_path) ? rows_csv(out) : out.dump(2) + "\n");
}

double parse_rate(const std::string& s) {
  if (s == "inf") return std::numeric_limits<double>::infinity();
  char* end = nullptr;
  const double r = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(r > 0) || std::isinf(r))
    throw InputError("--request-rate " + s + ": expected a number of requests per second > 0, or inf");
  return r;
}

// Progress on stderr: rewritten in place on a terminal, else a line every few seconds.
bench::StatusLine progress_printer() {
  const bool tty = ::isatty(2);
  auto last = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return [tty, last](const std::string& line) {
    if (tty) {
      std::fprintf(stderr, "\r%s\033[K", line.c_str());
    } else {
      const auto now = std::chrono::steady_clock::now();
      if (now - *last < std::chrono::seconds(5)) return;
      *last = now;
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  };
}

void serve_bench(const BenchArgs& a, bool reps_given) {
  if (a.max_tokens < 1) throw InputError("--max-tokens must be at least 1");
  const std::unique_ptr<ResultStore> store = open_results_store(a.store);
  bench::ServeConfig cfg;
  cfg.concurrency = a.concurrency;
  cfg.num_requests = a.num_requests;
  cfg.request_rate = parse_rate(a.request_rate);
  cfg.warmup = a.warmup;
  cfg.repetitions = reps_given ? a.reps : 1;
  cfg.seed = a.seed;
  const int n_prompts = a.num_requests * cfg.repetitions + a.warmup;

  std::unique_ptr<Model> model;
  DeviceChoice device;
  std::unique_ptr<bench::BenchTarget> target;
  bench::EngineTarget* engine = nullptr;
  std::vector<bench::BenchPrompt> prompts;
  if (!a.dataset.empty()) prompts = bench::load_prompt_dataset(a.dataset, a.max_tokens);
  if (!a.endpoint.empty()) {
    if (a.n_ctx > 0) throw InputError("-c/--ctx-size sets the in-process engine's context; an endpoint's server has its own");
    bench::EndpointOptions eo;
    eo.url = a.endpoint;
    eo.model = a.model.model;
    eo.api_key = a.api_key;
    if (eo.api_key.empty())
      if (const char* k = std::getenv("OPENAI_API_KEY")) eo.api_key = k;
    eo.timeout_s = a.timeout_s;
    eo.ignore_eos = !a.allow_eos;
    target = std::make_unique<bench::EndpointTarget>(eo);
    if (prompts.empty()) prompts = bench::synthetic_text_prompts(n_prompts, a.input_len, a.max_tokens, a.seed);
  } else {
    if (a.threads.size() > 1) throw InputError("serving mode takes one --threads value (per slot)");
    device = choose_device(a.placement);
    ModelArgs margs = a.model;
    margs.model = model_path_from_args(a.model);
    const int n_ctx = a.n_ctx > 0 ? a.n_ctx : a.dataset.empty() ? std::max(a.input_len + a.max_tokens + 1, 16) : 0;
    // Sequences batched at once: --slots, else every request the sweep keeps in flight.
    int most = 0;
    for (int c : a.concurrency) most = std::max(most, c);
    const int max_seqs = a.slots > 0 ? a.slots : most > 0 ? most : a.num_requests;
    check_memory_fits(a.placement, device, margs.model,
                      {n_ctx, max_seqs, EngineParams{}.prefill_chunk, a.threads.empty() ? 0 : a.threads[0], 1, a.kv});
    model = load_model_from_args(margs);
    const Tokenizer& tok = *model->tokenizer;
    if (prompts.empty()) {
      std::vector<int32_t> avoid;  // control, unknown and unused tokens make odd prompts
      for (int32_t id = 0; id < tok.n_vocab(); ++id) {
        const int32_t type = tok.vocab().types.empty() ? kTokNormal : tok.vocab().types[size_t(id)];
        if (type == kTokControl || type == kTokUnknown || type == kTokUnused) avoid.push_back(id);
      }
      const int32_t bos = tok.vocab().add_bos ? tok.bos() : -1;
      prompts = bench::synthetic_token_prompts(n_prompts, a.input_len, a.max_tokens, model->config.n_vocab, bos,
                                               avoid, a.seed);
    }
    bench::EngineTargetOptions eo;
    EngineParams& ep = eo.engine;
    ep.n_threads = a.threads.empty() ? 0 : a.threads[0];  // one engine: all physical cores by default
    ep.max_seqs = max_seqs;
    if (a.n_ctx > 0)
      ep.n_ctx = a.n_ctx;
    else if (a.dataset.empty())
      ep.n_ctx = std::max(a.input_len + a.max_tokens + 1, 16);
    apply_kv_args(a.kv, *model, ep);  // the pool: --kv-budget, else the context × max_seqs
    eo.ignore_eos = !a.allow_eos;
    auto e = std::make_unique<bench::EngineTarget>(*model, eo);
    engine = e.get();
    target = std::move(e);
    std::fprintf(stderr, "%s; pool of %d tokens for up to %d sequences\n",
                 describe_kv(*model, ep.cache_type, ep.kv_block).c_str(), engine->engine().kv_capacity_tokens(),
                 ep.max_seqs);
    // Per level: the KV-cache peak and the prefix-cache hits of its requests.
    auto before = std::make_shared<EngineStats>();
    cfg.on_level_start = [engine, before] {
      engine->engine().reset_peaks();
      *before = engine->engine().stats();
    };
    cfg.on_level_end = [engine, before](bench::ServeResult& r) {
      const EngineStats st = engine->engine().stats();
      r.kv_cache_bytes = int64_t(st.peak_bytes_used());
      r.kv_peak_blocks = st.peak_blocks_used;
      r.kv_peak_tokens = st.peak_tokens_in_use;
      r.kv_bytes_per_token = int64_t(st.bytes_per_token);
      const int64_t prompt = st.prompt_tokens - before->prompt_tokens;
      r.prefix_hit_rate = prompt > 0 ? double(st.cached_tokens - before->cached_tokens) / double(prompt) : 0.0;
    };
  }

  const auto status = progress_printer();
  std::vector<bench::ServeResult> results = bench::run_serve_bench(*target, prompts, cfg, status);
  if (::isatty(2)) std::fprintf(stderr, "\r\033[K");
  for (bench::ServeResult& r : results) {
    r.backend = engine ? "qinfer" : "openai";
    r.target = target->describe();
    r.model = engine ? model->path : a.model.model;
    r.input_len = a.dataset.empty() ? a.input_len : 0;
    r.max_tokens = a.max_tokens;
    r.dataset = a.dataset;
    if (engine) {
      const KvCacheType ct = engine->engine().cache_type();
      r.threads = engine->threads();
      r.slots = engine->engine().max_seqs();
      r.model_bytes = int64_t(model->weight_bytes());
      r.cache_type = std::string(type_info(ct.k).name) + "/" + type_info(ct.v).name;
      r.peak_rss_bytes = peak_rss_bytes();
    }
    bench::print_summary(stdout, r);
  }
  if (results.size() > 1) bench::print_sweep_table(stdout, results);
  std::fflush(stdout);
  if (!a.json_path.empty()) write_file_atomically(a.json_path, results_json(results));
  if (!a.csv_path.empty()) write_file_atomically(a.csv_path, bench::to_csv(results));
  if (!a.output_path.empty())
    write_file_atomically(a.output_path, is_csv(a.output_path) ? bench::to_csv(results) : results_json(results));
  // One stored run per concurrency level: the report charts throughput against it.
  const std::string label = a.label.empty() ? (model ? run_label(a, model->path) : a.model.model) : a.label;
  for (const bench::ServeResult& r : results) {
    RunRecord run = serving_run(label, r, model.get(), a.model.model, a.endpoint);
    if (model) {
      record_device(run, device);
    } else {
      run.device = "endpoint";
      run.device_reason = "the server at --endpoint chose its own";
    }
    record_and_say(store.get(), run);
  }
}

}  // namespace

void define_bench(CLI::App& cmd) {
  auto a = std::make_shared<BenchArgs>();
  add_model_args(cmd, a->model);
  add_load_in_arg(cmd, a->model);
  cmd.add_option("-p,--n-prompt", a->n_prompt, "prompt lengths for pp tests (comma-separated)")
      ->delimiter(',')->capture_default_str()->check(Allowed::ints(0, 1 << 20));
  cmd.add_option("-n,--n-gen", a->n_gen, "generation lengths for tg tests (comma-separated)")
      ->delimiter(',')->capture_default_str()->check(Allowed::ints(0, 1 << 20));
  cmd.remove_option(cmd.get_option("--threads"));
  add_threads_option(cmd, a->threads);
  cmd.add_option("-d,--n-depth,--depth", a->n_depth,
                 "KV cache depths: tokens cached, not timed, before each test (comma-separated; llama-bench's -d)")
      ->delimiter(',')->check(Allowed::ints(0, 1 << 20));
  cmd.add_option("--compare-llama-bench", a->llama_bench,
                 "run this llama-bench binary on the same file and tests; print both, the ratio and the roofline");
  cmd.add_flag("--roofline", a->roofline,
               "measure the read bandwidth and show tg as a fraction of the roofline (implied by --compare-llama-bench)");
  cmd.add_option("-r,--repetitions", a->reps, "repetitions of each test")->capture_default_str()->check(Allowed::ints(1, 1000));
  cmd.add_option("-b,--batch-size", a->n_batch, "prompt tokens per forward pass")->capture_default_str()->check(Allowed::ints(1));
  cmd.add_option("-o,--output", a->output_path, "also write the results to FILE: CSV when it ends in .csv, else JSON");
  cmd.add_option("--json", a->json_path, "also write the results as JSON (as -o)");
  add_placement_args(cmd, a->placement);
  add_store_args(cmd, a->store);
  cmd.add_option("--label", a->label, "configuration name in the store and report (default: the model's name)");
  // Serving mode (vLLM bench serve's metrics).
  auto* o_endpoint = cmd.add_option("--endpoint", a->endpoint,
                                    "OpenAI-compatible server http://HOST:PORT (then --model is the served model's name)");
  cmd.add_option("-c,--ctx-size", a->n_ctx,
                 "context of the in-process engine (default: what the test needs; serving: prompt + max tokens)")
      ->check(Allowed::ints(8, 1 << 22));
  auto* o_conc = cmd.add_option("--concurrency", a->concurrency,
                                "serving: requests in flight at most; a list (1,2,4) sweeps, one result per level")
                     ->delimiter(',')->check(Allowed::ints(1));
  auto* o_num = cmd.add_option("--num-requests", a->num_requests, "serving: requests per level and repetition")
                    ->capture_default_str()->check(Allowed::ints(1));
  auto* o_rate = cmd.add_option("--request-rate", a->request_rate,
                                "serving: Poisson arrivals at R requests/s; inf sends all at once")
                    ->capture_default_str()->check(Allowed::reals(0).above());
  cmd.add_option("--input-len", a->input_len, "serving: synthetic prompt length in tokens")
      ->capture_default_str()->check(Allowed::ints(1));
  cmd.add_option("--max-tokens", a->max_tokens, "serving: tokens to generate per request")
      ->capture_default_str()->check(Allowed::ints(1));
  cmd.add_option("--dataset", a->dataset,
                 "serving: JSONL prompts, one per line: {\"prompt\": \"...\"} or {\"messages\": [...]}")
      ->check(CLI::ExistingFile);
  cmd.add_option("--csv", a->csv_path, "also write the results as CSV (as -o FILE.csv)");
  cmd.add_option("--warmup", a->warmup, "serving: warm-up requests before measuring, not counted")
      ->capture_default_str()->check(Allowed::ints(0));
  cmd.add_option("--slots", a->slots,
                 "serving, in-process: sequences batched at once (llama-server's --parallel); others queue, "
                 "counted in TTFT (default: the highest --concurrency)")
      ->check(Allowed::ints(1));
  add_kv_args(cmd, a->kv);
  cmd.add_option("--timeout", a->timeout_s, "serving, endpoint: seconds per request and longest wait for data")
      ->capture_default_str()->check(Allowed::reals(0).above());
  add_seed_option(cmd, a->seed, "serving: seed for prompts and arrivals (default 0)");
  cmd.add_option("--api-key", a->api_key, "serving, endpoint: bearer token (default: $OPENAI_API_KEY)");
  cmd.add_flag("--allow-eos", a->allow_eos, "serving: let generation stop at end-of-text (default: exactly --max-tokens)");
  auto* o_reps = cmd.get_option("--repetitions");
  auto* o_p = cmd.get_option("--n-prompt");
  auto* o_n = cmd.get_option("--n-gen");
  cmd.callback([a, o_endpoint, o_conc, o_num, o_rate, o_reps, o_p, o_n] {
    const bool serving = o_endpoint->count() || o_conc->count() || o_num->count() || o_rate->count();
    if (!serving) return bench(*a);
    if (o_p->count() || o_n->count())
      throw InputError("-p/-n select the pp/tg mode; serving mode uses --input-len and --max-tokens");
    if (!a->llama_bench.empty() || !a->n_depth.empty() || a->roofline)
      throw InputError("--compare-llama-bench, --roofline and -d belong to the pp/tg mode, not the serving benchmark");
    serve_bench(*a, o_reps->count() > 0);
  });
}

}  // namespace qinfer::cli
