#include "qinfer/quantize/tensor_policy.h"

#include <cstdio>

#include "qinfer/core/error.h"
#include "qinfer/model/weight_names.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer {

namespace {

using FT = FileType;
using T = TypeId;

// ---- which tensors are converted at all (llama_model_quantize_impl) ----
// Name fragments that keep a tensor as it is: norms, MoE routers, Mamba's
// conv1d, RWKV's small mixing tensors, T5's relative position bias.
constexpr const char* kNeverQuantizedParts[] = {
    "_norm.weight",        "ffn_gate_inp.weight",      "ssm_conv1d.weight",       "time_mix_first.weight",
    "time_mix_w1.weight",  "time_mix_w2.weight",       "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight", "attn_rel_b.weight",
};
// Whole names kept as they are (BERT's position and token-type embeddings).
constexpr const char* kNeverQuantizedNames[] = {"position_embd.weight", "token_types.weight"};

// ---- llama_tensor_get_type's mixture rules ----
// A tensor's role is the first name fragment it contains, in this order.
enum class Role { AttnV, AttnK, AttnQ, FfnDown, AttnOutput, AttnQkv, FfnGate, FfnUp, Other };
constexpr std::pair<const char*, Role> kRoles[] = {
    {"attn_v.weight", Role::AttnV},     {"attn_k.weight", Role::AttnK},           {"attn_q.weight", Role::AttnQ},
    {"ffn_down", Role::FfnDown},        {"attn_output.weight", Role::AttnOutput}, {"attn_qkv.weight", Role::AttnQkv},
    {"ffn_gate", Role::FfnGate},        {"ffn_up", Role::FfnUp},
};

// Conditions on (i, n): the index of this tensor among those of its role and
// their count (attn_v: all attn_v tensors; ffn_down: the layer count).
enum class When {
  Always,
  MoreBits,             // use_more_bits(i, n): first and last eighth, every third between
  FirstEighth,          // i < n/8
  FirstSixteenth,       // i < n/16
  IndexBelow2,          // i < 2
  IndexBelow4,          // i < 4
  GqaAtLeast4,          // n_head / n_head_kv >= 4
  FirstEighthNoImatrix,
  FirstEighthImatrix,
};

struct Rule {
  Role role;
  FT ftype;
  When when;
  T then;
  std::optional<T> otherwise;  // unset: keep the base type
};

// One row per (role, file type) that llama.cpp b4748 changes, for the file
// types qinfer writes and non-Falcon, non-MoE models.
constexpr Rule kRules[] = {
    {Role::AttnV, FT::MOSTLY_Q2_K, When::GqaAtLeast4, T::Q4_K, T::Q3_K},
    {Role::AttnV, FT::MOSTLY_Q3_K_M, When::IndexBelow2, T::Q5_K, T::Q4_K},
    {Role::AttnV, FT::MOSTLY_Q3_K_L, When::Always, T::Q5_K, {}},
    {Role::AttnV, FT::MOSTLY_IQ4_NL, When::GqaAtLeast4, T::Q5_K, {}},
    {Role::AttnV, FT::MOSTLY_Q4_K_M, When::MoreBits, T::Q6_K, {}},
    {Role::AttnV, FT::MOSTLY_Q5_K_M, When::MoreBits, T::Q6_K, {}},
    {Role::AttnV, FT::MOSTLY_Q4_K_S, When::IndexBelow4, T::Q5_K, {}},

    {Role::FfnDown, FT::MOSTLY_Q2_K, When::Always, T::Q3_K, {}},
    {Role::FfnDown, FT::MOSTLY_Q3_K_M, When::FirstSixteenth, T::Q5_K, T::Q4_K},
    {Role::FfnDown, FT::MOSTLY_Q3_K_L, When::Always, T::Q5_K, {}},
    {Role::FfnDown, FT::MOSTLY_Q4_K_M, When::MoreBits, T::Q6_K, {}},
    {Role::FfnDown, FT::MOSTLY_IQ4_NL, When::FirstEighthNoImatrix, T::Q5_K, {}},
    {Role::FfnDown, FT::MOSTLY_Q5_K_M, When::MoreBits, T::Q6_K, {}},
    {Role::FfnDown, FT::MOSTLY_Q4_K_S, When::FirstEighth, T::Q5_K, {}},
    {Role::FfnDown, FT::MOSTLY_Q4_0, When::FirstEighthImatrix, T::Q4_1, {}},
    {Role::FfnDown, FT::MOSTLY_Q5_0, When::FirstEighthImatrix, T::Q5_1, {}},

    {Role::AttnOutput, FT::MOSTLY_Q2_K, When::Always, T::Q3_K, {}},
    {Role::AttnOutput, FT::MOSTLY_Q3_K_M, When::Always, T::Q4_K, {}},
    {Role::AttnOutput, FT::MOSTLY_Q3_K_L, When::Always, T::Q5_K, {}},

    {Role::AttnQkv, FT::MOSTLY_Q3_K_M, When::Always, T::Q4_K, {}},
    {Role::AttnQkv, FT::MOSTLY_Q3_K_L, When::Always, T::Q4_K, {}},
    {Role::AttnQkv, FT::MOSTLY_Q4_K_M, When::Always, T::Q5_K, {}},
    {Role::AttnQkv, FT::MOSTLY_Q5_K_M, When::Always, T::Q6_K, {}},
};

// When the chosen type's block does not divide the row length. llama.cpp
// throws for types without an entry (the legacy 32-blocks); qinfer uses F16,
// llama.cpp's last resort, there too so that e.g. stories260K (172-wide
// ffn_down rows) can be written as Q4_0. A fallback that still does not fit
// becomes F16 as in llama.cpp.
constexpr std::pair<T, T> kFallbacks[] = {
    {T::Q2_K, T::IQ4_NL}, {T::Q3_K, T::IQ4_NL}, {T::Q4_K, T::Q5_0}, {T::Q5_K, T::Q5_1}, {T::Q6_K, T::Q8_0},
};

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// llama.cpp's LLM_TYPE_70B, the one model size the rules look at.
bool is_70b(const ModelShape& s) {
  if (s.n_layer != 80) return false;
  if (s.arch == "llama") return s.n_head != s.n_head_kv;
  return s.arch == "qwen2" || s.arch == "deci";
}

int64_t block_of(T t) { return type_info(t).block_size; }

}  // namespace

int ggml_n_dims(const int64_t ne[4]) {
  for (int i = 3; i >= 1; --i)
    if (ne[i] > 1) return i + 1;
  return 1;
}

bool llama_tensor_less(const std::string& a, const std::string& b) {
  int la = -1, lb = -1;
  std::sscanf(a.c_str(), "blk.%d.", &la);
  std::sscanf(b.c_str(), "blk.%d.", &lb);
  if (la != lb) return la < lb;
  return a < b;
}

TensorPolicy::TensorPolicy(const FileTypeInfo& ft, const ModelShape& shape, const PolicyOptions& opts,
                           const std::vector<std::string>& names)
    : ft_(ft), shape_(shape), opts_(opts) {
  if (shape.arch == "falcon")
    throw InputError("quantizing falcon models is not supported (llama.cpp has falcon-specific rules)");
  for (const std::string& n : names) {
    if (contains(n, "attn_v.weight") || contains(n, "attn_qkv.weight") || contains(n, "attn_kv_b.weight"))
      ++n_attention_wv_;
    else if (n == names::output)
      has_output_ = true;
    if (contains(n, "ffn_gate_inp.weight"))
      throw InputError("quantizing mixture-of-experts models is not supported (tensor " + n + ")");
  }
}

TypeId TensorPolicy::rule_type(const PolicyTensor& t, TypeId type) {
  const std::string& name = t.name;
  // The classifier (or the shared embedding standing in for it) gets Q6_K.
  if (name == names::output || (!has_output_ && name == names::token_embd)) {
    if (opts_.output_type) return *opts_.output_type;
    if (t.ne[0] % block_of(type) != 0) return T::Q8_0;
    return type == T::Q8_0 ? type : T::Q6_K;
  }
  if (name == names::token_embd) return opts_.token_embd_type ? *opts_.token_embd_type : type;

  Role role = Role::Other;
  for (const auto& [part, r] : kRoles)
    if (contains(name, part)) { role = r; break; }
  int i = 0, n = 0;
  if (role == Role::AttnV) i = i_attention_wv_++, n = n_attention_wv_;
  if (role == Role::FfnDown) i = i_ffn_down_++, n = shape_.n_layer;

  for (const Rule& r : kRules) {
    if (r.role != role || r.ftype != ft_.ftype) continue;
    bool hit = false;
    switch (r.when) {
      case When::Always: hit = true; break;
      case When::MoreBits: hit = use_more_bits(i, n); break;
      case When::FirstEighth: hit = i < n / 8; break;
      case When::FirstSixteenth: hit = i < n / 16; break;
      case When::IndexBelow2: hit = i < 2; break;
      case When::IndexBelow4: hit = i < 4; break;
      case When::GqaAtLeast4: hit = shape_.n_gqa() >= 4; break;
      case When::FirstEighthNoImatrix: hit = i < n / 8 && !opts_.has_imatrix; break;
      case When::FirstEighthImatrix: hit = i < n / 8 && opts_.has_imatrix; break;
    }
    if (hit) type = r.then;
    else if (r.otherwise) type = *r.otherwise;
    break;
  }
  // 70B models share attn_v across 8 heads: the tensor is small, so more bits are cheap.
  if (role == Role::AttnV && is_70b(shape_) && (type == T::Q3_K || type == T::Q4_K)) type = T::Q5_K;
  return type;
}

TensorChoice TensorPolicy::choose(const PolicyTensor& t) {
  const std::string& name = t.name;
  bool convert = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
  convert &= ggml_n_dims(t.ne) >= 2;
  convert &= opts_.quantize_output || name != names::output;
  for (const char* part : kNeverQuantizedParts) convert &= !contains(name, part);
  for (const char* whole : kNeverQuantizedNames) convert &= name != whole;
  if (!convert) return {t.type, false, false, {}};

  TensorChoice c{ft_.base, true, false, {}};
  if (is_qinfer_only(ft_.base)) {
    // bitsandbytes' formats replace the linear layers only: the embedding and
    // the classifier keep their type, as transformers' load_in_4bit/8bit does.
    if ((name == "token_embd.weight" && !opts_.token_embd_type) || (name == "output.weight" && !opts_.output_type))
      return {t.type, false, false, {}};
    if (t.ne[0] % block_of(c.type) != 0) {
      c.note = "rows of " + std::to_string(t.ne[0]) + " are not a multiple of the " + type_info(c.type).name +
               " block of " + std::to_string(block_of(c.type)) + ": using f16";
      c.type = T::F16;
      c.fallback = true;
      ++n_fallback_;
    }
  } else if (!opts_.pure && type_info(ft_.base).quantized) {
    c.type = rule_type(t, ft_.base);
    if (t.ne[0] % block_of(c.type) != 0) {
      const T wanted = c.type;
      c.type = T::F16;
      bool in_table = false;
      for (const auto& [from, to] : kFallbacks)
        if (from == wanted) c.type = to, in_table = true;
      if (t.ne[0] % block_of(c.type) != 0) c.type = T::F16;
      c.fallback = true;
      c.note = "rows of " + std::to_string(t.ne[0]) + " are not a multiple of the " + type_info(wanted).name +
               " block of " + std::to_string(block_of(wanted)) + ": using " + type_info(c.type).name;
      if (!in_table) c.note += "; llama-quantize has no fallback for this type and stops";
      ++n_fallback_;
    }
  }
  // Explicit overrides win over every rule (as in llama.cpp, also with --pure).
  if (opts_.token_embd_type && name == names::token_embd) c.type = *opts_.token_embd_type;
  if (opts_.output_type && name == names::output) c.type = *opts_.output_type;
  if (t.ne[0] % block_of(c.type) != 0)
    throw InputError("tensor " + name + ": rows of " + std::to_string(t.ne[0]) + " elements are not a multiple of the " +
                     type_info(c.type).name + " block size " + std::to_string(block_of(c.type)));
  c.convert = t.type != c.type;
  return c;
}

}  // namespace qinfer
