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
#include "qinfer/cli/kv_args.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/cli/perplexity_args.h"
#include "qinfer/cli/placement.h"
#include "qinfer/cli/run_records.h"
#include "qinfer/core/error.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/eval/hellaswag.h"
#include "qinfer/eval/kld_summary.h"
#include "qinfer/eval/samples.h"
#include "qinfer/store/results_store.h"

namespace qinfer::cli {

namespace {

struct EvalArgs {
  ModelArgs model;
  PerplexityArgs ppl;
  KvArgs kv;
  std::string hellaswag;
  int tasks = -1;
  std::string prompts;
  int gen_tokens = 48;
  StoreArgs store;
  std::string label;
  PlacementArgs placement;
};

void eval_cmd(const EvalArgs& a) {
  if (a.tasks >= 0 && a.hellaswag.empty()) throw InputError("--tasks needs --hellaswag FILE");
  const DeviceChoice device = choose_device(a.placement);
  // Open the store first: a bad database should fail before minutes of work.
  const std::unique_ptr<ResultStore> store = open_results_store(a.store);
  std::vector<HellaswagTask> hs_tasks;
  if (!a.hellaswag.empty()) hs_tasks = load_hellaswag_jsonl(a.hellaswag);
  std::vector<std::string> prompts;
  if (!a.prompts.empty()) prompts = read_prompt_lines(a.prompts);
  // Perplexity when asked for, or when nothing else is.
  const bool do_ppl = a.ppl.asked() || (a.hellaswag.empty() && prompts.empty());
  PerplexityJob job;
  if (do_ppl) job = perplexity_job(a.ppl, a.model.threads, stdout);

  apply_kv_args(a.kv, job);
  ModelArgs margs = a.model;
  margs.model = model_path_from_args(a.model);
  {
    const int n_ctx = do_ppl ? job.n_ctx : a.ppl.n_ctx;
    // Perplexity keeps the logits of a whole chunk.
    LoadShape shape{n_ctx, 1, std::min(a.ppl.n_batch, n_ctx), a.model.threads, do_ppl ? n_ctx : 1, a.kv};
    shape.kv.kv_budget.clear();  // eval takes no --kv-budget
    check_memory_fits(a.placement, device, margs.model, shape);
  }
  auto model = load_model_from_args(margs);
  RunRecord run = new_run_record("eval", a.label.empty() ? std::filesystem::path(model->path).stem().string() : a.label,
                                 *model);
  record_device(run, device);
  nlohmann::json params = {{"cache_type_k", type_info(job.cache_type.k).name},
                           {"cache_type_v", type_info(job.cache_type.v).name}};
  add_kv_metrics(run, *model, job.cache_type);

  if (do_ppl) {
    const PerplexityJobResult j = run_perplexity_job(*model, job);
    params["n_ctx"] = j.n_ctx;
    params["threads"] = j.threads;
    params["chunks"] = j.result.n_chunks;
    if (!job.compare_with.empty()) {
      params["kl_divergence_base"] = job.compare_with;
      add_kld_metrics(run, j.kld);
    } else {
      params["text"] = job.text;
      run.add(metric::kPpl, j.result.ppl());
      run.add(metric::kPplErr, j.result.ppl_error());
    }
  }
  std::unique_ptr<Context> ctx;
  if (!hs_tasks.empty()) {
    ContextParams cp;
    cp.n_ctx = a.ppl.n_ctx;
    cp.n_batch = std::min(a.ppl.n_batch, cp.n_ctx);
    apply_kv_args(a.kv, *model, cp);
    cp.n_batch = std::min(cp.n_batch, cp.n_ctx);
    cp.n_threads = a.model.threads;
    ctx = std::make_unique<Context>(*model, cp);
    params["n_ctx"] = ctx->n_ctx();
    params["threads"] = ctx->n_threads();
  }
  if (!hs_tasks.empty()) {
    std::printf("\nHellaSwag: %s\ntask\tacc_norm\n", a.hellaswag.c_str());
    const HellaswagResult h = hellaswag(hs_tasks, context_scorer(*ctx, *model->tokenizer), a.tasks,
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
  add_load_in_arg(cmd, a->model);
  add_perplexity_args(cmd, a->ppl);
  add_kv_args(cmd, a->kv, false);
  cmd.add_option("--hellaswag", a->hellaswag, "multiple-choice task file (JSONL: ctx, endings[4], label)");
  cmd.add_option("--tasks", a->tasks, "score at most this many HellaSwag tasks")->check(Allowed::ints(1));
  cmd.add_option("--prompts", a->prompts,
                 "prompts (one per line) to continue greedily; the report shows runs' continuations side by side")
      ->check(CLI::ExistingFile);
  cmd.add_option("--gen-tokens", a->gen_tokens, "tokens per continuation")->capture_default_str()->check(Allowed::ints(1, 4096));
  add_store_args(cmd, a->store);
  cmd.add_option("--label", a->label, "configuration name in the store and report (default: the model file's name)");
  add_placement_args(cmd, a->placement);
  cmd.callback([a] { eval_cmd(*a); });
}

}  // namespace qinfer::cli
