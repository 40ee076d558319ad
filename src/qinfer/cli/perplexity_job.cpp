#include "qinfer/cli/perplexity_job.h"

#include <algorithm>
#include <cstdio>
#include <memory>

#include "qinfer/cli/model_args.h"
#include "qinfer/core/error.h"
#include "qinfer/core/read_file.h"

namespace qinfer::cli {

PerplexityJobResult run_perplexity_job(Context& ctx, const Model& model, const PerplexityJob& job) {
  PerplexityJobResult out;
  std::vector<int32_t> tokens;
  if (!job.base) {
    out.text_path = text_path_or_default(job.text, "-f");
    if (out.text_path.empty()) throw InputError("no text given: pass -f FILE");
    tokens = model.tokenizer->encode(read_whole_file(out.text_path), true, false);
    std::fprintf(stderr, "%s: %zu tokens\n", out.text_path.c_str(), tokens.size());
  }
  const int n_ctx = ctx.n_ctx();
  PerplexityParams pp;
  pp.n_ctx = n_ctx;
  pp.n_chunks = job.n_chunks;
  pp.base = job.base;
  std::unique_ptr<KldBaseWriter> writer;
  if (!job.save_logits.empty()) {
    int n_chunk = int(tokens.size() / size_t(n_ctx));
    if (job.n_chunks >= 0) n_chunk = std::min(n_chunk, job.n_chunks);
    if (n_chunk < 1) throw InputError("the text is shorter than one chunk of " + std::to_string(n_ctx) + " tokens");
    writer = std::make_unique<KldBaseWriter>(job.save_logits, n_ctx, model.config.n_vocab, n_chunk, tokens.data());
    pp.save = writer.get();
  }
  out.result = perplexity(ctx, tokens, pp, [](int i, int n, double ppl) {
    std::printf("[%d]%.4f,", i + 1, ppl);
    if ((i + 1) % 16 == 0 || i + 1 == n) std::printf("\n");
    std::fflush(stdout);
  });
  if (writer) {
    writer->finish();
    std::printf("baseline logits written to %s\n", job.save_logits.c_str());
  }
  const PerplexityResult& r = out.result;
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f (%d chunks of %d, %lld tokens scored)\n", r.ppl(), r.ppl_error(),
              r.n_chunks, n_ctx, (long long)r.n_scored);
  if (job.base) {
    out.kld = summarize_kld(r);
    std::printf("\n%s", format_kld_summary(out.kld).c_str());
  }
  return out;
}

}  // namespace qinfer::cli
