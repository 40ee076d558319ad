#include "qinfer/optimize/measure.h"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "qinfer/bench/llama_bench.h"
#include "qinfer/core/cpu_info.h"
#include "qinfer/core/error.h"
#include "qinfer/eval/kld_file.h"
#include "qinfer/eval/perplexity.h"
#include "qinfer/eval/samples.h"
#include "qinfer/model/model.h"
#include "qinfer/runtime/context.h"

namespace qinfer {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path + ": cannot open the evaluation text");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void measure_throughput(const Model& model, const MeasureParams& p, VariantResult& r) {
  const int threads = p.threads > 0 ? p.threads : std::max(1, detect_cpu().physical_cores);
  r.threads = threads;
  ThroughputTest pp{"pp" + std::to_string(p.n_prompt), p.n_prompt, 0, threads};
  ThroughputTest tg{"tg" + std::to_string(p.n_gen), 0, p.n_gen, threads};
  std::fprintf(stderr, "  %-16s %s ...\n", p.label.c_str(), pp.name.c_str());
  const ThroughputResult rp = run_throughput_test(model, pp, p.reps);
  std::fprintf(stderr, "  %-16s %s ...\n", p.label.c_str(), tg.name.c_str());
  const ThroughputResult rt = run_throughput_test(model, tg, p.reps);
  r.pp_test = pp.name;
  r.tg_test = tg.name;
  r.pp_tps = rp.mean();
  r.pp_tps_sd = rp.stddev();
  r.tg_tps = rt.mean();
  r.tg_tps_sd = rt.stddev();
  // F16 K and V for every layer over the larger of the two bench contexts.
  const int64_t n_ctx = std::max(p.n_prompt, p.n_gen);
  r.kv_bytes = int64_t(2) * model.config.n_layer * n_ctx * model.config.kv_dim() * 2;
}

void measure_quality(const Model& model, const MeasureParams& p, VariantResult& r) {
  std::fprintf(stderr, "  %-16s perplexity ...\n", p.label.c_str());
  PerplexityParams pp;
  pp.n_ctx = p.n_ctx;
  pp.n_chunks = p.n_chunks;
  std::vector<int32_t> tokens;
  std::unique_ptr<KldBaseWriter> writer;
  std::unique_ptr<KldBaseReader> reader;
  if (p.baseline) {
    tokens = model.tokenizer->encode(read_file(p.eval_text), true, false);
    int n_chunk = int(tokens.size() / size_t(p.n_ctx));
    if (p.n_chunks >= 0) n_chunk = std::min(n_chunk, p.n_chunks);
    if (n_chunk < 1)
      throw InputError(p.eval_text + ": shorter than one evaluation chunk of " + std::to_string(p.n_ctx) + " tokens");
    writer = std::make_unique<KldBaseWriter>(p.base_logits, p.n_ctx, model.config.n_vocab, n_chunk, tokens.data());
    pp.save = writer.get();
  } else {
    reader = std::make_unique<KldBaseReader>(p.base_logits);
    if (reader->n_vocab() != model.config.n_vocab)
      throw InputError(p.model_path + ": vocabulary of " + std::to_string(model.config.n_vocab) +
                       " tokens differs from the baseline's " + std::to_string(reader->n_vocab()));
    pp.base = reader.get();
  }
  ContextParams cp;
  cp.n_ctx = p.n_ctx;
  cp.n_batch = p.n_ctx;
  cp.n_threads = r.threads;
  Context ctx(model, cp);
  const PerplexityResult res = perplexity(ctx, tokens, pp);
  if (writer) writer->finish();
  r.ppl = res.ppl();
  r.ppl_err = res.ppl_error();
  r.delta_ppl = p.baseline ? 0.0 : r.ppl - p.base_ppl;
  if (!p.baseline) {
    const KldStats& k = res.kld;
    r.kld_mean = k.mean();
    r.kld_mean_err = k.stderr_mean();
    r.kld_p99 = k.percentile(99);
    const double f = k.same_top_fraction();
    const double n = double(k.kld.size());
    r.same_top_pct = 100 * f;
    r.same_top_pct_err = 100 * std::sqrt(f * (1 - f) / std::max(1.0, n - 1));
  } else {
    r.same_top_pct = 100;
  }
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
  {
    std::ifstream f(p.model_path, std::ios::binary | std::ios::ate);
    r.file_bytes = int64_t(f.tellg());
  }
  r.n_params = model->n_params();
  r.model_bytes = int64_t(model->weight_bytes());
  r.bits_per_weight = r.n_params > 0 ? 8.0 * double(r.model_bytes) / double(r.n_params) : 0;
  measure_throughput(*model, p, r);
  r.peak_rss_bytes = int64_t(peak_rss_bytes());  // before the evaluation maps the logits file
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
