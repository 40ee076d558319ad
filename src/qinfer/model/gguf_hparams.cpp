#include "qinfer/model/gguf_hparams.h"

#include <cmath>
#include <cstdio>

#include "qinfer/core/error.h"
#include "qinfer/model/arch.h"

namespace qinfer {

namespace {

RopeScaling parse_scaling(const std::string& path, const std::string& s) {
  if (s.empty() || s == "none") return RopeScaling::None;
  if (s == "linear") return RopeScaling::Linear;
  if (s == "yarn") return RopeScaling::Yarn;
  if (s == "llama3") return RopeScaling::Llama3;
  throw InputError(path + ": unsupported rope scaling type '" + s + "'");
}

void check_positive(const std::string& path, const char* what, int64_t v, int64_t max) {
  if (v <= 0 || v > max)
    throw InputError(path + ": " + what + " = " + std::to_string(v) + " is out of range (1.." + std::to_string(max) + ")");
}

}  // namespace

ModelConfig read_gguf_hparams(const GgufFile& f, int n_vocab) {
  const std::string& path = f.path();
  ModelConfig c;
  c.arch = f.require_string("general.architecture");
  const ArchInfo* arch = find_arch(c.arch);
  if (!arch)
    throw InputError(path + ": unsupported architecture '" + c.arch + "' (supported: " + supported_archs() + ")");
  const std::string p = c.arch + ".";
  c.name = f.get_string("general.name", "");
  c.n_vocab = int(f.get_int(p + "vocab_size", n_vocab));
  c.n_ctx_train = int(f.get_int(p + "context_length", 2048));
  c.n_embd = int(f.require_int(p + "embedding_length"));
  c.n_layer = int(f.require_int(p + "block_count"));
  c.n_ff = int(f.require_int(p + "feed_forward_length"));
  c.n_head = int(f.require_int(p + "attention.head_count"));
  c.n_head_kv = int(f.get_int(p + "attention.head_count_kv", c.n_head));
  check_positive(path, "embedding_length", c.n_embd, 1 << 20);
  check_positive(path, "block_count", c.n_layer, 4096);
  check_positive(path, "feed_forward_length", c.n_ff, 1 << 22);
  check_positive(path, "attention.head_count", c.n_head, 1 << 14);
  check_positive(path, "attention.head_count_kv", c.n_head_kv, c.n_head);
  check_positive(path, "context_length", c.n_ctx_train, 1 << 24);
  check_positive(path, "vocab size", c.n_vocab, 1 << 24);
  if (c.n_head % c.n_head_kv != 0)
    throw InputError(path + ": attention.head_count " + std::to_string(c.n_head) +
                     " is not a multiple of head_count_kv " + std::to_string(c.n_head_kv));
  c.head_dim = int(f.get_int(p + "attention.key_length", c.n_embd / c.n_head));
  check_positive(path, "attention.key_length", c.head_dim, 1 << 14);
  if (f.get_int(p + "attention.value_length", c.head_dim) != c.head_dim)
    throw InputError(path + ": attention.value_length different from key_length is not supported");
  c.norm_eps = float(f.get_float(p + "attention.layer_norm_rms_epsilon", 1e-5));
  // NaN, Inf or <= 0 would make every norm non-finite (or divide by zero on a zero row).
  if (!std::isfinite(c.norm_eps) || !(c.norm_eps > 0)) {
    char v[32];
    std::snprintf(v, sizeof v, "%g", double(c.norm_eps));
    throw InputError(path + ": " + p + "attention.layer_norm_rms_epsilon = " + v + " must be a positive finite number");
  }
  c.qkv_bias = arch->qkv_bias;

  RopeParams& r = c.rope;
  r.layout = arch->rope_layout;
  r.n_rot = int(f.get_int(p + "rope.dimension_count", c.head_dim));
  if (r.n_rot <= 0 || r.n_rot > c.head_dim || r.n_rot % 2 != 0)
    throw InputError(path + ": rope.dimension_count " + std::to_string(r.n_rot) + " is invalid for head size " +
                     std::to_string(c.head_dim));
  r.freq_base = float(f.get_float(p + "rope.freq_base", 10000.0));
  r.scaling = parse_scaling(path, f.get_string(p + "rope.scaling.type", ""));
  float factor = float(f.get_float(p + "rope.scaling.factor", f.get_float(p + "rope.scale_linear", 0.0)));
  if (factor > 0 && r.scaling == RopeScaling::None) r.scaling = RopeScaling::Linear;
  if (!(r.freq_base > 0) || !std::isfinite(r.freq_base)) throw InputError(path + ": rope.freq_base is invalid");
  r.scaling_factor = factor > 0 ? factor : 1.0f;
  r.freq_scale = (r.scaling == RopeScaling::Linear || r.scaling == RopeScaling::Yarn) ? 1.0f / r.scaling_factor : 1.0f;
  r.n_ctx_orig = int(f.get_int(p + "rope.scaling.original_context_length", c.n_ctx_train));
  if (r.scaling == RopeScaling::Yarn) {
    r.yarn_ext_factor = 1.0f;
    r.yarn_attn_factor = float(f.get_float(p + "rope.scaling.attn_factor", 1.0));
    r.yarn_beta_fast = float(f.get_float(p + "rope.scaling.yarn_beta_fast", 32.0));
    r.yarn_beta_slow = float(f.get_float(p + "rope.scaling.yarn_beta_slow", 1.0));
  }
  return c;
}

namespace {

const char* scaling_name(RopeScaling s) {
  switch (s) {
    case RopeScaling::Linear: return "linear";
    case RopeScaling::Yarn: return "yarn";
    default: return nullptr;  // none, or Llama-3 (the rope_freqs tensor carries it)
  }
}

}  // namespace

void write_gguf_hparams(GgufWriter& w, const ModelConfig& c, const HparamKeys& keys) {
  const std::string a = c.arch + ".";
  w.set_uint32(a + "block_count", uint32_t(c.n_layer));
  if (keys.context_length) w.set_uint32(a + "context_length", uint32_t(c.n_ctx_train));
  w.set_uint32(a + "embedding_length", uint32_t(c.n_embd));
  w.set_uint32(a + "feed_forward_length", uint32_t(c.n_ff));
  w.set_uint32(a + "attention.head_count", uint32_t(c.n_head));
  if (keys.head_count_kv) w.set_uint32(a + "attention.head_count_kv", uint32_t(c.n_head_kv));
  if (keys.rope_freq_base) w.set_float32(a + "rope.freq_base", c.rope.freq_base);
  if (keys.norm_eps) w.set_float32(a + "attention.layer_norm_rms_epsilon", c.norm_eps);
  if (keys.head_dim) {
    w.set_uint32(a + "attention.key_length", uint32_t(c.head_dim));
    w.set_uint32(a + "attention.value_length", uint32_t(c.head_dim));
  }
  if (keys.vocab_size) w.set_uint32(a + "vocab_size", uint32_t(c.n_vocab));
  if (keys.rope_dimension_count) w.set_uint32(a + "rope.dimension_count", uint32_t(c.rope.n_rot));
  if (const char* type = scaling_name(c.rope.scaling)) {
    w.set_string(a + "rope.scaling.type", type);
    w.set_float32(a + "rope.scaling.factor", c.rope.scaling_factor);
    if (c.rope.scaling == RopeScaling::Yarn)
      w.set_uint32(a + "rope.scaling.original_context_length", uint32_t(c.rope.n_ctx_orig));
  }
}

}  // namespace qinfer
