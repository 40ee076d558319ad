#include "qinfer/optimize/measure.h"

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "qinfer/bench/llama_bench.h"
#include "qinfer/core/error.h"
#include "qinfer/core/peak_rss.h"
#include "qinfer/eval/perplexity_job.h"
#include "qinfer/eval/samples.h"
#include "qinfer/model/model.h"

namespace qinfer {

namespace {

void measure_throughput(const Model& model, const MeasureParams& p, VariantResult& r) {
  ThroughputTest pp{"pp" + std::to_string(p.n_prompt), p.n_prompt, 0, p.threads};
  ThroughputTest tg{"tg" + std::to_string(p.n_gen), 0, p.n_gen, p.threads};
  std::fprintf(stderr, "  %-16s %s ...\n", p.label.c_str(), pp.name.c_str());
  const ThroughputResult rp = run_throughput_test(model, pp, p.reps);
  std::fprintf(stderr, "  %-16s %s ...\n", p.label.c_str(), tg.name.c_str());
  const ThroughputResult rt = run_throughput_test(model, tg, p.reps);
  r.threads = rp.threads;
  r.pp_test = pp.name;
  r.tg_test = tg.name;
  r.pp_tps = rp.mean();
  r.pp_tps_sd = rp.stddev();
  r.tg_tps = rt.mean();
  r.tg_tps_sd = rt.stddev();
  r.kv_bytes = std::max(rp.kv_cache_bytes, rt.kv_cache_bytes);  // the larger of the two bench contexts
}

// Perplexity on the evaluation text; the baseline saves its logits, every
// other variant is compared with them (eval/perplexity_job.h, as `qinfer eval`).
void measure_quality(const Model& model, const MeasureParams& p, VariantResult& r) {
  std::fprintf(stderr, "  %-16s perplexity ...\n", p.label.c_str());
  PerplexityJob job;
  job.n_ctx = p.n_ctx;
  job.n_batch = p.n_ctx;
  job.n_chunks = p.n_chunks;
  job.threads = p.threads;
  if (p.baseline) {
    job.text = p.eval_text;
    job.save_logits = p.base_logits;
  } else {
    job.compare_with = p.base_logits;
  }
  const PerplexityJobResult j = run_perplexity_job(model, job);
  r.ppl = j.result.ppl();
  r.ppl_err = j.result.ppl_error();
  if (p.baseline) {
    r.same_top_pct = 100;
    return;
  }
  const KldSummary& s = j.kld;
  // Against the baseline's measured perplexity, not llama-perplexity's
  // PPL(base) from the stored log-probabilities: those are floored 16 nats
  // below each row's top logit, so every target token the baseline finds less
  // likely than that scores too well there, and PPL(base) comes out low (by
  // 0.06 on stories260K's held-out text: `qinfer perplexity` disagreed).
  r.delta_ppl = r.ppl - p.base_ppl;
  r.kld_mean = s.kld_mean.value;
  r.kld_mean_err = s.kld_mean.err;
  r.kld_p99 = s.kld_p99;
  r.same_top_pct = 100 * s.same_top.value;
  r.same_top_pct_err = 100 * s.same_top.err;
}

// Writes all of buf to fd, retrying short writes.
void write_all(int fd, const std::string& buf) {
  size_t off = 0;
  while (off < buf.size()) {
    const ssize_t n = ::write(fd, buf.data() + off, buf.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += size_t(n);
  }
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

}  // namespace

VariantResult measure_variant_here(const MeasureParams& p) {
  auto model = load_model(p.model_path);
  VariantResult r;
  r.label = p.label;
  r.path = p.model_path;
  r.baseline = p.baseline;
  r.arch = model->config.arch;
  r.file_type = p.file_type;
  r.file_bytes = int64_t(std::filesystem::file_size(p.model_path));
  r.n_params = model->n_params();
  r.model_bytes = int64_t(model->weight_bytes());
  r.bits_per_weight = r.n_params > 0 ? 8.0 * double(r.model_bytes) / double(r.n_params) : 0;
  measure_throughput(*model, p, r);
  r.peak_rss_bytes = peak_rss_bytes();  // before the evaluation maps the logits file
  measure_quality(*model, p, r);
  if (!p.sample_prompts.empty())
    std::fprintf(stderr, "  %-16s %zu sample generations ...\n", p.label.c_str(), p.sample_prompts.size());
  r.samples = greedy_samples(*model, p.sample_prompts, p.sample_tokens, p.threads);
  return r;
}

VariantResult measure_variant(const MeasureParams& p) {
  int fds[2];
  if (::pipe(fds) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  malloc_trim(0);  // the child's peak RSS starts from what the parent holds
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    nlohmann::json out;
    int code = 0;
    try {
      out["result"] = measure_variant_here(p);
    } catch (const InputError& e) {
      out["input_error"] = e.what();
      code = 1;
    } catch (const std::exception& e) {
      out["error"] = e.what();
      code = 1;
    }
    write_all(fds[1], out.dump());
    std::fflush(nullptr);
    ::_exit(code);
  }
  ::close(fds[1]);
  const std::string text = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    throw Error(p.label + ": measuring " + p.model_path + " crashed (signal " + std::to_string(WTERMSIG(status)) + ")");
  const nlohmann::json out = nlohmann::json::parse(text, nullptr, false);
  if (out.is_discarded()) throw Error(p.label + ": the measuring process returned no result");
  if (out.contains("input_error")) throw InputError(out["input_error"].get<std::string>());
  if (out.contains("error")) throw Error(out["error"].get<std::string>());
  return out.at("result").get<VariantResult>();
}

}  // namespace qinfer
