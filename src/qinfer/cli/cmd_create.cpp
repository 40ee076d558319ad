// qinfer create: a random-weight model of a named shape, as GGUF that qinfer
// and llama.cpp both load (benchmarks at real sizes without downloads).
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/core/error.h"
#include "qinfer/model/create.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer::cli {

namespace {

struct CreateArgs {
  std::string preset;
  std::string type = "f16";
  std::string out;
  uint64_t seed = 42;
  int threads = 0;
  bool list = false;
  bool quiet = false;
  std::optional<int> layers, embd, ff, heads, kv_heads, vocab, ctx;
  std::optional<float> rope_base, eps;
  std::string name;
};

void list_presets() {
  std::printf("%-16s %-6s %7s %6s %6s %6s %6s %4s %4s %10s %6s %s\n", "preset", "arch", "vocab", "ctx", "embd", "ff",
              "layers", "head", "kv", "rope base", "eps", "tied");
  for (const ModelConfig& s : model_presets())
    std::printf("%-16s %-6s %7d %6d %6d %6d %6d %4d %4d %10g %6g %s\n", s.name.c_str(), s.arch.c_str(), s.n_vocab,
                s.n_ctx_train, s.n_embd, s.n_ff, s.n_layer, s.n_head, s.n_head_kv, double(s.rope.freq_base), double(s.norm_eps),
                s.tied_embeddings ? "yes" : "no");
}

std::string preset_names() {
  std::string s;
  for (const ModelConfig& p : model_presets()) s += (s.empty() ? "" : ", ") + p.name;
  return s;
}

void create(const CreateArgs& a) {
  if (a.list) {
    list_presets();
    return;
  }
  if (a.preset.empty()) throw InputError("--preset is required (one of: " + preset_names() + ")");
  if (a.out.empty()) throw InputError("-o/--output is required");
  const ModelConfig* preset = find_preset(a.preset);
  if (!preset) throw InputError("unknown preset '" + a.preset + "' (one of: " + preset_names() + ")");
  const TypeInfo* type = find_type(a.type);
  if (!type) throw InputError("unknown type '" + a.type + "'");

  CreateOptions o;
  o.shape = *preset;
  if (a.layers) o.shape.n_layer = *a.layers;
  if (a.embd) o.shape.n_embd = *a.embd;
  if (a.ff) o.shape.n_ff = *a.ff;
  if (a.heads) o.shape.n_head = *a.heads;
  if (a.kv_heads) o.shape.n_head_kv = *a.kv_heads;
  if (a.vocab) o.shape.n_vocab = *a.vocab;
  if (a.ctx) o.shape.n_ctx_train = *a.ctx;
  if (a.rope_base) o.shape.rope.freq_base = *a.rope_base;
  if (a.eps) o.shape.norm_eps = *a.eps;
  if (!a.name.empty()) o.shape.name = a.name;
  o.type = type->id;
  o.seed = a.seed;
  o.n_threads = a.threads;
  const bool tty = isatty(fileno(stderr));
  if (!a.quiet) {
    o.progress = [tty](const CreateProgress& p) {
      const double mib = 1024.0 * 1024.0;
      const bool last = p.tensor_index + 1 == p.n_tensors;
      if (!tty && !last && p.tensor_index % 16 != 0) return;  // logs get a line now and then
      std::fprintf(stderr, "%s[%4d/%4d] %-28s %-5s %8.1f / %.1f MiB%s", tty ? "\r" : "", p.tensor_index + 1,
                   p.n_tensors, p.tensor_name->c_str(), type_info(p.type).name, p.bytes_done / mib,
                   p.bytes_total / mib, tty && !last ? "\x1b[K" : "\n");
      std::fflush(stderr);
    };
  }
  const CreateStats st = create_model(a.out, o);
  std::printf("wrote %s: %s %s, %lld parameters (%.2f M), %d tensors, %.1f MiB of tensor data, %s%s, seed %llu, %.1f s\n",
              a.out.c_str(), o.shape.name.c_str(), o.shape.arch.c_str(), (long long)st.n_params, st.n_params / 1e6,
              st.n_tensors, st.tensor_bytes / (1024.0 * 1024.0), type->name,
              st.n_fallback ? (" (" + std::to_string(st.n_fallback) + " matrices f16: rows not a multiple of the block)").c_str()
                            : "",
              (unsigned long long)a.seed, st.seconds);
}

}  // namespace

void define_create(CLI::App& cmd) {
  auto a = std::make_shared<CreateArgs>();
  cmd.add_option("--preset", a->preset, "model shape: " + preset_names());
  cmd.add_option("--type", a->type, "type of the weight matrices: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0 (default f16)");
  cmd.add_option("-o,--output", a->out, "GGUF file to write");
  add_seed_option(cmd, a->seed, "random seed (default 42)");
  add_threads_option(cmd, a->threads);
  cmd.add_flag("--list-presets", a->list, "list the presets and exit");
  cmd.add_flag("-q,--quiet", a->quiet, "no progress line");
  cmd.add_option("--layers", a->layers, "override the number of layers")->check(Allowed::ints(1, 4096));
  cmd.add_option("--embd", a->embd, "override the embedding size")->check(Allowed::ints(1, 1 << 20));
  cmd.add_option("--ff", a->ff, "override the feed-forward size")->check(Allowed::ints(1, 1 << 22));
  cmd.add_option("--heads", a->heads, "override the attention heads")->check(Allowed::ints(1, 1 << 14));
  cmd.add_option("--kv-heads", a->kv_heads, "override the KV heads")->check(Allowed::ints(1, 1 << 14));
  cmd.add_option("--vocab", a->vocab, "override the vocabulary size")->check(Allowed::ints(1, 1 << 24));
  cmd.add_option("--ctx", a->ctx, "override the training context length")->check(Allowed::ints(1, 1 << 24));
  cmd.add_option("--rope-base", a->rope_base, "override the rope frequency base")->check(Allowed::reals(0).above());
  cmd.add_option("--eps", a->eps, "override the RMS norm epsilon")->check(Allowed::reals(0, 1).above());
  cmd.add_option("--name", a->name, "general.name (default: the preset name)");
  cmd.callback([a] { create(*a); });
}

}  // namespace qinfer::cli
