#include "qinfer/eval/perplexity_job.h"

#include <algorithm>
#include <memory>

#include "qinfer/core/error.h"
#include "qinfer/core/read_file.h"

namespace qinfer {

PerplexityJobResult run_perplexity_job(const Model& model, const PerplexityJob& job) {
  if (!job.save_logits.empty() && !job.compare_with.empty())
    throw InputError("saving baseline logits and comparing with them exclude each other: save the baseline's first");
  std::unique_ptr<KldBaseReader> base;
  if (!job.compare_with.empty()) {
    base = std::make_unique<KldBaseReader>(job.compare_with);
    if (base->n_vocab() != model.config.n_vocab)
      throw InputError(model.path + ": vocabulary of " + std::to_string(model.config.n_vocab) +
                       " tokens differs from the baseline's " + std::to_string(base->n_vocab()) + " (" +
                       job.compare_with + ")");
  }
  ContextParams cp;
  cp.n_ctx = base ? base->n_ctx() : job.n_ctx;
  cp.n_batch = std::min(job.n_batch, cp.n_ctx);
  cp.n_threads = job.threads;
  cp.cache_type = job.cache_type;
  cp.kv_block = job.kv_block;
  Context ctx(model, cp);

  std::vector<int32_t> tokens;
  if (!base) {
    if (job.text.empty()) throw InputError("no text given: pass -f FILE");
    tokens = model.tokenizer->encode(read_whole_file(job.text), true, false);
    if (job.log) std::fprintf(stderr, "%s: %zu tokens\n", job.text.c_str(), tokens.size());
  }
  const int n_ctx = ctx.n_ctx();
  PerplexityParams pp;
  pp.n_ctx = n_ctx;
  pp.n_chunks = job.n_chunks;
  pp.base = base.get();
  std::unique_ptr<KldBaseWriter> writer;
  if (!job.save_logits.empty()) {
    // As many chunks as the pass will score, checked before the file is started.
    const int n_chunk = perplexity_chunks(int64_t(tokens.size()), n_ctx, job.n_chunks);
    writer = std::make_unique<KldBaseWriter>(job.save_logits, n_ctx, model.config.n_vocab, n_chunk, tokens.data());
    pp.save = writer.get();
  }
  PerplexityJobResult out;
  out.n_ctx = n_ctx;
  out.threads = ctx.n_threads();
  std::FILE* log = job.log;
  out.result = perplexity(ctx, tokens, pp, [log](int i, int n, double ppl) {
    if (!log) return;
    std::fprintf(log, "[%d]%.4f,", i + 1, ppl);
    if ((i + 1) % 16 == 0 || i + 1 == n) std::fprintf(log, "\n");
    std::fflush(log);
  });
  if (writer) {
    writer->finish();
    if (log) std::fprintf(log, "baseline logits written to %s\n", job.save_logits.c_str());
  }
  const PerplexityResult& r = out.result;
  if (log)
    std::fprintf(log, "\nFinal estimate: PPL = %.4f +/- %.5f (%d chunks of %d, %lld tokens scored)\n", r.ppl(),
                 r.ppl_error(), r.n_chunks, n_ctx, (long long)r.n_scored);
  if (base) {
    out.kld = summarize_kld(r);
    if (log) std::fprintf(log, "\n%s", format_kld_summary(out.kld).c_str());
  }
  return out;
}

}  // namespace qinfer
