// qinfer eval: perplexity, KL-divergence against saved baseline logits,
// HellaSwag-format multiple choice and greedy continuations of given prompts;
// each run is recorded in the results store.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/cli/perplexity_job.h"
#include "qinfer/cli/run_records.h"
#include "qinfer/core/error.h"
#include "qinfer/eval/hellaswag.h"
#include "qinfer/eval/kld_file.h"
#include "qinfer/eval/kld_summary.h"
#include "qinfer/eval/samples.h"
#include "qinfer/store/results_store.h"

namespace qinfer::cli {

namespace {

struct EvalArgs {
  ModelArgs model;
  std::string file;
  int n_ctx = 512;
  int n_chunks = -1;
  int n_batch = 2048;
  std::string save_logits;
  std::string kl_divergence;
  std::string hellaswag;
  int tasks = -1;
  std::string prompts;
  int gen_tokens = 48;
  StoreArgs store;
  std::string label;
};

void add_kld_metrics(RunRecord& run, const KldSummary& s) {
  run.add(metric::kPpl, s.ppl.value);
  run.add(metric::kPplErr, s.ppl.err);
  run.add("ppl_base", s.ppl_base.value);
  run.add(metric::kDeltaPpl, s.ppl_diff.value);
  run.add(metric::kDeltaPplErr, s.ppl_diff.err);
  run.add(metric::kLnPplRatio, s.ln_ppl_ratio.value);
  run.add(metric::kLnPplRatioErr, s.ln_ppl_ratio.err);
  run.add(metric::kKldMean, s.kld_mean.value);
  run.add(metric::kKldMeanErr, s.kld_mean.err);
  run.add(metric::kKldMedian, s.kld_median);
  run.add(metric::kKldP99, s.kld_p99);
  run.add(metric::kKldMax, s.kld_max);
  run.add(metric::kSameTopPct, 100 * s.same_top.value, "%");
  run.add(metric::kSameTopPctErr, 100 * s.same_top.err, "%");
}

void eval_cmd(const EvalArgs& a) {
  if (!a.save_logits.empty() && !a.kl_divergence.empty())
    throw InputError("--save-logits and --kl-divergence exclude each other: save the baseline's logits first");
  if (a.tasks >= 0 && a.hellaswag.empty()) throw InputError("--tasks needs --hellaswag FILE");
  // Open the store first: a bad database should fail before minutes of work.
  const std::unique_ptr<ResultStore> store = open_results_store(a.store);
  std::vector<HellaswagTask> hs_tasks;
  if (!a.hellaswag.empty()) hs_tasks = load_hellaswag_jsonl(a.hellaswag);
  std::vector<std::string> prompts;
  if (!a.prompts.empty()) prompts = read_prompt_lines(a.prompts);
  // Perplexity when asked for, or when nothing else is.
  const bool do_ppl = !a.file.empty() || !a.save_logits.empty() || !a.kl_divergence.empty() ||
                      (a.hellaswag.empty() && prompts.empty());

  auto model = load_model_from_args(a.model);
  std::unique_ptr<KldBaseReader> base;
  if (!a.kl_divergence.empty()) base = std::make_unique<KldBaseReader>(a.kl_divergence);
  const int n_ctx = base ? base->n_ctx() : a.n_ctx;
  ContextParams cp;
  cp.n_ctx = n_ctx;
  cp.n_batch = std::min(a.n_batch, n_ctx);
  cp.n_threads = a.model.threads;
  Context ctx(*model, cp);

  RunRecord run =
      new_run_record("eval", a.label.empty() ? std::filesystem::path(model->path).stem().string() : a.label, *model);
  nlohmann::json params = {{"n_ctx", n_ctx}, {"threads", a.model.threads}};

  if (do_ppl) {
    PerplexityJob job;
    job.text = a.file;
    job.save_logits = a.save_logits;
    job.base = base.get();
    job.n_chunks = a.n_chunks;
    const PerplexityJobResult j = run_perplexity_job(ctx, *model, job);
    params["chunks"] = j.result.n_chunks;
    if (base) {
      params["kl_divergence_base"] = a.kl_divergence;
      add_kld_metrics(run, j.kld);
    } else {
      params["text"] = j.text_path;
      run.add(metric::kPpl, j.result.ppl());
      run.add(metric::kPplErr, j.result.ppl_error());
    }
  }
  if (!hs_tasks.empty()) {
    std::printf("\nHellaSwag: %s\ntask\tacc_norm\n", a.hellaswag.c_str());
    const HellaswagResult h = hellaswag(hs_tasks, context_scorer(ctx, *model->tokenizer), a.tasks,
                                        [](int i, int, double acc) { std::printf("%d\t%.8f\n", i + 1, 100 * acc); });
    std::printf("HellaSwag accuracy: %.4f ± %.4f %% over %zu tasks\n", 100 * h.accuracy(), 100 * h.accuracy_err(),
                h.tasks.size());
    params["hellaswag"] = a.hellaswag;
    run.add(metric::kHellaswagAcc, 100 * h.accuracy(), "%");
    run.add(metric::kHellaswagAccErr, 100 * h.accuracy_err(), "%");
    run.add(metric::kHellaswagTasks, double(h.tasks.size()));
  }
  if (!prompts.empty()) {
    const std::vector<std::string> texts = greedy_samples(*model, prompts, a.gen_tokens, a.model.threads);
    std::printf("\nGreedy continuations (%d tokens):\n", a.gen_tokens);
    for (size_t i = 0; i < texts.size(); ++i) std::printf("\n[%s]%s\n", prompts[i].c_str(), texts[i].c_str());
    params["samples"] = samples_json(prompts, texts);
  }
  run.params_json = params.dump();
  std::printf("\n");
  record_and_say(store.get(), run);
}

}  // namespace

void define_eval(CLI::App& cmd) {
  auto a = std::make_shared<EvalArgs>();
  add_model_args(cmd, a->model);
  cmd.add_option("-f,--file", a->file, "text for perplexity (default: the default model's evaluation text)");
  cmd.add_option("-c,--ctx-size", a->n_ctx, "tokens per chunk")->capture_default_str()->check(Allowed::ints(8, 1 << 20));
  cmd.add_option("--chunks", a->n_chunks, "evaluate at most this many chunks (default: all)")
      ->check(Allowed::ints(1).or_value(-1, "all"));
  cmd.add_option("-b,--batch-size", a->n_batch, "tokens per forward pass")->check(Allowed::ints(1));
  cmd.add_option("--save-logits", a->save_logits, "write the logits as llama.cpp's --kl-divergence-base file");
  cmd.add_option("--kl-divergence", a->kl_divergence,
                 "compare with a baseline logits file (from --save-logits or llama-perplexity)");
  cmd.add_option("--hellaswag", a->hellaswag, "multiple-choice task file (JSONL: ctx, endings[4], label)");
  cmd.add_option("--tasks", a->tasks, "score at most this many HellaSwag tasks")->check(Allowed::ints(1));
  cmd.add_option("--prompts", a->prompts,
                 "prompts (one per line) to continue greedily; the report shows runs' continuations side by side")
      ->check(CLI::ExistingFile);
  cmd.add_option("--gen-tokens", a->gen_tokens, "tokens per continuation")->capture_default_str()->check(Allowed::ints(1, 4096));
  add_store_args(cmd, a->store);
  cmd.add_option("--label", a->label, "configuration name in the store and report (default: the model file's name)");
  cmd.callback([a] { eval_cmd(*a); });
}

}  // namespace qinfer::cli
