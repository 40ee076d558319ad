// qinfer perplexity: llama-perplexity's numbers, and its KL-divergence mode.
#include <cstdio>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/core/error.h"
#include "qinfer/eval/kld_file.h"
#include "qinfer/eval/perplexity.h"

namespace qinfer::cli {

namespace {

struct PerplexityArgs {
  ModelArgs model;
  std::string file;
  int n_ctx = 512;
  int n_chunks = -1;
  int n_batch = 2048;
  std::string kld_base;
  bool kl_divergence = false;
};

void print_kld(const PerplexityResult& r) {
  const KldStats& s = r.kld;
  const double n = double(s.kld.size());
  const double base_ppl = std::exp(s.base_nll / n);
  std::printf("\n====== Perplexity statistics ======\n");
  std::printf("Mean PPL(Q)                   : %10.6f ± %10.6f\n", r.ppl(), r.ppl_error());
  std::printf("Mean PPL(base)                : %10.6f\n", base_ppl);
  std::printf("Mean PPL(Q)/PPL(base)         : %10.6f\n", r.ppl() / base_ppl);
  std::printf("\n====== KL divergence statistics ======\n");
  std::printf("Mean    KLD: %10.6f ± %10.6f\n", s.mean(), s.stderr_mean());
  std::printf("Maximum KLD: %10.6f\n", s.percentile(100));
  std::printf("99.9%%   KLD: %10.6f\n", s.percentile(99.9));
  std::printf("99.0%%   KLD: %10.6f\n", s.percentile(99));
  std::printf("Median  KLD: %10.6f\n", s.percentile(50));
  std::printf("Minimum KLD: %10.6f\n", s.percentile(0));
  const double p = s.same_top_fraction();
  std::printf("\nSame top p: %6.3f ± %5.3f %%\n", 100 * p, 100 * std::sqrt(p * (1 - p) / std::max(1.0, n - 1)));
}

void perplexity_cmd(const PerplexityArgs& a) {
  if (a.kl_divergence && a.kld_base.empty()) throw InputError("--kl-divergence needs --kl-divergence-base FILE");
  auto model = load_model_from_args(a.model);
  std::unique_ptr<KldBaseReader> base;
  std::vector<int32_t> tokens;
  PerplexityParams pp;
  pp.n_ctx = a.n_ctx;
  pp.n_chunks = a.n_chunks;
  if (a.kl_divergence) {
    base = std::make_unique<KldBaseReader>(a.kld_base);
    pp.base = base.get();
  } else {
    const std::string path = a.file.empty() ? default_eval_text() : a.file;
    if (path.empty()) throw InputError("no text given: pass -f FILE");
    tokens = model->tokenizer->encode(read_text_file(path), true, false);
    std::fprintf(stderr, "%s: %zu tokens\n", path.c_str(), tokens.size());
  }
  const int n_ctx = base ? base->n_ctx() : a.n_ctx;
  ContextParams cp;
  cp.n_ctx = n_ctx;
  cp.n_batch = std::min(a.n_batch, n_ctx);
  cp.n_threads = a.model.threads;
  Context ctx(*model, cp);

  std::unique_ptr<KldBaseWriter> writer;
  if (!a.kld_base.empty() && !a.kl_divergence) {
    int n_chunk = int(tokens.size() / size_t(n_ctx));
    if (a.n_chunks >= 0) n_chunk = std::min(n_chunk, a.n_chunks);
    if (n_chunk < 1) throw InputError("the text is shorter than one chunk of " + std::to_string(n_ctx) + " tokens");
    writer = std::make_unique<KldBaseWriter>(a.kld_base, n_ctx, model->config.n_vocab, n_chunk, tokens.data());
    pp.save = writer.get();
  }
  PerplexityResult r = perplexity(ctx, tokens, pp, [](int i, int n, double ppl) {
    std::printf("[%d]%.4f,", i + 1, ppl);
    if ((i + 1) % 16 == 0 || i + 1 == n) std::printf("\n");
    std::fflush(stdout);
  });
  if (writer) writer->finish();
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f (%d chunks of %d, %lld tokens scored)\n", r.ppl(), r.ppl_error(),
              r.n_chunks, n_ctx, (long long)r.n_scored);
  if (base) print_kld(r);
}

}  // namespace

void define_perplexity(CLI::App& cmd) {
  auto a = std::make_shared<PerplexityArgs>();
  add_model_args(cmd, a->model);
  cmd.add_option("-f,--file", a->file, "text file (default: the default model's evaluation text)");
  cmd.add_option("-c,--ctx-size", a->n_ctx, "tokens per chunk")->capture_default_str()->check(CLI::Range(8, 1 << 20));
  cmd.add_option("--chunks", a->n_chunks, "evaluate at most this many chunks (default: all)");
  cmd.add_option("-b,--batch-size", a->n_batch, "tokens per forward pass")->check(CLI::PositiveNumber);
  cmd.add_option("--kl-divergence-base", a->kld_base,
                 "llama.cpp logits file: written by a plain run, read with --kl-divergence");
  cmd.add_flag("--kl-divergence", a->kl_divergence, "compare with the --kl-divergence-base file");
  cmd.callback([a] { perplexity_cmd(*a); });
}

}  // namespace qinfer::cli
