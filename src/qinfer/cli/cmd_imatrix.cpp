// qinfer imatrix: llama-imatrix's importance matrix, in its legacy .dat format.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/cli/kv_args.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/core/error.h"
#include "qinfer/core/read_file.h"
#include "qinfer/quantize/imatrix.h"

namespace qinfer::cli {

namespace {

struct ImatrixArgs {
  ModelArgs model;
  KvArgs kv;
  std::string file;
  std::string out = "imatrix.dat";
  ImatrixParams p;
};

void imatrix_cmd(const ImatrixArgs& a) {
  if (a.file.empty()) throw InputError("no text given: pass -f FILE");
  auto model = load_model_from_args(a.model);
  const std::vector<int32_t> tokens = model->tokenizer->encode(read_whole_file(a.file), true, false);
  std::fprintf(stderr, "%s: %zu tokens\n", a.file.c_str(), tokens.size());
  ImatrixParams p = a.p;
  p.n_threads = a.model.threads;
  p.cache_type = a.kv.type();
  p.kv_block = a.kv.kv_block;
  ImatrixCollector collector;
  const auto t0 = std::chrono::steady_clock::now();
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const int n = collect_imatrix(*model, tokens, p, collector, [&](int i, int n_chunk) {
    // A terminal gets one updating line; a log gets a line every 10 chunks.
    if (!tty && (i + 1) % 10 != 0 && i + 1 != n_chunk) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "%schunk %d/%d  %.1f s%s", tty ? "\r" : "", i + 1, n_chunk, s,
                 tty && i + 1 < n_chunk ? "" : "\n");
    std::fflush(stderr);
  });
  collector.write(a.out, a.file);
  std::printf("%s: %zu entries, %d chunks of %d tokens (last_call %d)\n", a.out.c_str(), collector.entries().size(), n,
              p.n_ctx, collector.last_call());
}

}  // namespace

void define_imatrix(CLI::App& cmd) {
  auto a = std::make_shared<ImatrixArgs>();
  add_model_args(cmd, a->model);
  add_kv_args(cmd, a->kv, false, false);
  cmd.add_option("-f,--file", a->file, "calibration text")->required();
  cmd.add_option("-o,--output", a->out, "output file (llama.cpp legacy imatrix.dat format)")->capture_default_str();
  cmd.add_option("-c,--ctx-size", a->p.n_ctx, "tokens per chunk")->capture_default_str()->check(Allowed::ints(16, 1 << 20));
  cmd.add_option("--chunks", a->p.n_chunks, "use at most this many chunks (default: all)")
      ->check(Allowed::ints(1).or_value(-1, "all"));
  cmd.add_option("-b,--batch-size", a->p.n_batch, "tokens per forward pass")->capture_default_str()->check(Allowed::ints(1));
  cmd.callback([a] { imatrix_cmd(*a); });
}

}  // namespace qinfer::cli
