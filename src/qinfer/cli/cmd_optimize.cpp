// qinfer optimize: the main job. Quantizes the model into a matrix of types,
// measures each (speed, memory, quality vs the baseline), prints the
// comparison table, records every variant in the results store and writes
// the report.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/cli/placement.h"
#include "qinfer/cli/run_records.h"
#include "qinfer/core/error.h"
#include "qinfer/eval/samples.h"
#include "qinfer/optimize/budget.h"
#include "qinfer/optimize/optimize.h"
#include "qinfer/optimize/table.h"

namespace qinfer::cli {

namespace {

namespace fs = std::filesystem;

struct OptimizeArgs {
  std::string model;
  std::string types;
  OptimizeParams params;
  std::string sample_prompts_file;
  StoreArgs store;
  PlacementArgs placement;
  double max_kld = -1;
  std::string max_ppl_increase;  // "5%" or "5"
};

// --max-ppl-increase: a percentage, with or without the '%'.
double parse_percent(const std::string& s) {
  std::string t = s;
  if (!t.empty() && t.back() == '%') t.pop_back();
  size_t used = 0;
  double v = -1;
  try {
    v = std::stod(t, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (t.empty() || used != t.size() || !(v >= 0))
    throw InputError("--max-ppl-increase: '" + s + "' is not a non-negative percentage (e.g. 5%)");
  return v;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

void optimize_cmd(OptimizeArgs& a) {
  const DeviceChoice device = choose_device(a.placement);
  OptimizeParams& p = a.params;
  ModelArgs model;
  model.model = a.model;
  p.model_path = model_path_from_args(model);
  {
    // The baseline is the largest model the job loads; its longest context is a bench test's or a chunk.
    const int n_ctx = std::max({p.n_ctx, p.n_prompt, p.n_gen, 16});
    check_memory_fits(a.placement, device, p.model_path, {n_ctx, 1, 512, p.threads, p.n_ctx, {}});
  }
  p.device = device.name;
  p.device_reason = device.reason;
  p.types = a.types.empty() ? default_optimize_types() : split_list(a.types);
  p.eval_text = text_path_or_default(p.eval_text, "--eval-text");
  if (p.eval_text.empty()) throw InputError("no evaluation text found: pass --eval-text FILE");
  if (p.out_dir.empty()) p.out_dir = (fs::path("qinfer-optimize") / fs::path(p.model_path).stem()).string();
  if (p.sample_tokens > 0)
    p.sample_prompts = a.sample_prompts_file.empty() ? default_sample_prompts() : read_prompt_lines(a.sample_prompts_file);
  QualityBudget budget;
  if (a.max_kld >= 0) budget.max_kld = a.max_kld;
  if (!a.max_ppl_increase.empty()) budget.max_ppl_increase_pct = parse_percent(a.max_ppl_increase);
  for (const std::string& t : p.types) parse_variant_spec(t);  // fail before any work
  // Open the store first: a bad database should fail before minutes of work.
  const std::unique_ptr<ResultStore> store = open_results_store(a.store);

  std::fprintf(stderr, "optimize %s: baseline + %zu types, evaluated on %s\n", p.model_path.c_str(), p.types.size(),
               p.eval_text.c_str());
  const OptimizeOutputs out = run_optimize_job(p, store.get(), [](int i, int n, const std::string& label) {
    std::fprintf(stderr, "[%d/%d] %s\n", i + 1, n, label.c_str());
  });
  const std::vector<RunRecord>& runs = out.runs;
  const report::ReportFiles& files = out.report;
  const fs::path results = out.results_json;
  std::printf("\n%s\n", format_comparison_table(out.variants).c_str());
  if (std::any_of(p.types.begin(), p.types.end(), [](const std::string& t) { return t.find('+') != std::string::npos; }))
    std::printf("calibrated variants: calibrated on the first %.0f%% of %s, every row measured on the rest\n\n",
                100 * kCalibrationFraction, p.eval_text.c_str());
  if (budget.any()) std::printf("%s\n", format_budget(judge_budget(out.variants, budget), budget).c_str());

  std::printf("models:  %s\nresults: %s\n", (fs::path(p.out_dir) / "models").string().c_str(), results.string().c_str());
  if (store)
    std::printf("stored:  runs %lld-%lld in %s\n", (long long)runs.front().id, (long long)runs.back().id,
                store->path().c_str());
  std::printf("report:  %s\n         %s\n", files.html.c_str(), files.markdown.c_str());
}

}  // namespace

void define_optimize(CLI::App& cmd) {
  auto a = std::make_shared<OptimizeArgs>();
  cmd.add_option("model", a->model, "unquantized GGUF (F32/F16/BF16); default: stories260K");
  cmd.add_option("--types", a->types, "comma-separated quantization types, TYPE+gptq / TYPE+awq for calibrated ones (default: Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,Q4_0+gptq,Q4_0+awq,Q3_K_M)");
  cmd.add_option("--max-kld", a->max_kld, "quality budget: mean KL-divergence vs the baseline; reports the fastest and smallest variant within it")
      ->check(Allowed::reals(0));
  cmd.add_option("--max-ppl-increase", a->max_ppl_increase, "quality budget: perplexity increase over the baseline, percent (e.g. 5%)");
  cmd.add_option("--calib-samples", a->params.calib.n_samples, "calibrated variants: calibration windows")
      ->capture_default_str()->check(Allowed::ints(1, 1 << 20));
  cmd.add_option("--eval-text", a->params.eval_text, "text for perplexity and KL-divergence (default: the default model's)");
  cmd.add_option("-o,--output,--out", a->params.out_dir, "output directory (default: qinfer-optimize/<model name>)");
  add_threads_option(cmd, a->params.threads);
  cmd.add_option("-p,--n-prompt", a->params.n_prompt, "prompt tokens of the pp test")->capture_default_str()->check(Allowed::ints(1, 1 << 16));
  cmd.add_option("-n,--n-gen", a->params.n_gen, "generated tokens of the tg test")->capture_default_str()->check(Allowed::ints(1, 1 << 16));
  cmd.add_option("-r,--repetitions", a->params.reps, "repetitions of each speed test")->capture_default_str()->check(Allowed::ints(1, 100));
  cmd.add_option("-c,--ctx-size", a->params.n_ctx, "evaluation chunk length")->capture_default_str()->check(Allowed::ints(8, 1 << 20));
  cmd.add_option("--chunks", a->params.n_chunks, "evaluation chunks")
      ->capture_default_str()->check(Allowed::ints(1).or_value(-1, "all"));
  cmd.add_option("--sample-prompts", a->sample_prompts_file,
                 "prompts (one per line) whose greedy continuations the report shows side by side")
      ->check(CLI::ExistingFile);
  cmd.add_option("--sample-tokens", a->params.sample_tokens, "tokens per sample generation (0: none)")
      ->capture_default_str()->check(Allowed::ints(0, 4096));
  cmd.add_option("--price-per-hour", a->params.price_per_hour, "USD per hour of this machine, for the cost per 1M tokens")
      ->check(Allowed::reals(0));
  add_store_args(cmd, a->store);
  add_placement_args(cmd, a->placement);
  cmd.callback([a] { optimize_cmd(*a); });
}

}  // namespace qinfer::cli
