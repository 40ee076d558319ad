#include "qinfer/convert/hf_tensors.h"

#include <set>

#include "qinfer/core/error.h"
#include "qinfer/model/arch.h"

namespace qinfer {

namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

struct LayerPart {
  const char* hf;    // after "model.layers.N."
  const char* gguf;  // blk.N.<gguf>
  enum Rows { kQ, kKv, kEmbd, kFf, kNone } rows;  // dimension 0 (output rows)
  enum Cols { cEmbd, cQ, cFf, c1D } cols;
  int permute;  // 0 none, 1 by n_head, 2 by n_head_kv
};

constexpr LayerPart kParts[] = {
    {"self_attn.q_proj.weight", "attn_q.weight", LayerPart::kQ, LayerPart::cEmbd, 1},
    {"self_attn.q_proj.bias", "attn_q.bias", LayerPart::kQ, LayerPart::c1D, 1},
    {"self_attn.k_proj.weight", "attn_k.weight", LayerPart::kKv, LayerPart::cEmbd, 2},
    {"self_attn.k_proj.bias", "attn_k.bias", LayerPart::kKv, LayerPart::c1D, 2},
    {"self_attn.v_proj.weight", "attn_v.weight", LayerPart::kKv, LayerPart::cEmbd, 0},
    {"self_attn.v_proj.bias", "attn_v.bias", LayerPart::kKv, LayerPart::c1D, 0},
    {"self_attn.o_proj.weight", "attn_output.weight", LayerPart::kEmbd, LayerPart::cQ, 0},
    {"mlp.gate_proj.weight", "ffn_gate.weight", LayerPart::kFf, LayerPart::cEmbd, 0},
    {"mlp.up_proj.weight", "ffn_up.weight", LayerPart::kFf, LayerPart::cEmbd, 0},
    {"mlp.down_proj.weight", "ffn_down.weight", LayerPart::kEmbd, LayerPart::cFf, 0},
    {"input_layernorm.weight", "attn_norm.weight", LayerPart::kEmbd, LayerPart::c1D, 0},
    {"post_attention_layernorm.weight", "ffn_norm.weight", LayerPart::kEmbd, LayerPart::c1D, 0},
};

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

std::vector<HfTensorPlan> plan_hf_tensors(const HfWeights& w, const HfConfig& c, int64_t n_vocab) {
  const int64_t embd = c.embd(), ff = *c.n_ff, q = c.heads() * c.head_size(), kv = c.heads_kv() * c.head_size();
  const bool llama = c.arch == HfArch::Llama;
  std::vector<HfTensorPlan> plans;
  std::set<std::string> have;
  for (const StTensor* t : w.tensors()) {
    const std::string& n = t->name;
    const std::string where = w.file_of(t) + ": tensor " + n;
    if (ends_with(n, ".rotary_emb.inv_freq") || ends_with(n, ".attention.masked_bias") ||
        ends_with(n, ".attention.bias"))
      continue;  // caches that llama.cpp recomputes
    HfTensorPlan p;
    p.src = t;
    std::vector<int64_t> want;
    if (n == "model.embed_tokens.weight") {
      p.name = names::token_embd;
      want = {n_vocab, embd};
    } else if (n == "model.norm.weight") {
      p.name = names::output_norm;
      want = {embd};
    } else if (n == "lm_head.weight") {
      if (c.tie_word_embeddings) continue;  // the same matrix as token_embd
      p.name = names::output;
      want = {n_vocab, embd};
    } else if (n.rfind("model.layers.", 0) == 0) {
      const size_t a = 13, b = n.find('.', a);
      int64_t il = -1;
      if (b != std::string::npos && b > a && b - a < 6 && n.find_first_not_of("0123456789", a) == b)
        il = std::stoll(n.substr(a, b - a));
      if (il < 0) throw InputError(where + ": cannot map this name to a GGUF tensor");
      if (il >= c.n_layer)
        throw InputError(where + ": layer " + std::to_string(il) + " but " + c.path + " num_hidden_layers is " +
                         std::to_string(c.n_layer));
      const std::string rest = n.substr(b + 1);
      const LayerPart* part = nullptr;
      for (const auto& lp : kParts)
        if (rest == lp.hf) part = &lp;
      if (!part) throw InputError(where + ": cannot map this name to a GGUF tensor");
      p.name = "blk." + std::to_string(il) + "." + part->gguf;
      const int64_t rows[] = {q, kv, embd, ff, 0};
      const int64_t cols[] = {embd, q, ff, 0};
      want = {rows[part->rows]};
      if (part->cols != LayerPart::c1D) want.push_back(cols[part->cols]);
      // Qwen2 uses the rotate-half (NEOX) rope directly: no permutation.
      if (llama && part->permute) p.permute_heads = part->permute == 1 ? c.heads() : c.heads_kv();
    } else {
      throw InputError(where + ": cannot map this name to a GGUF tensor");
    }
    if (t->shape != want)
      throw InputError(where + ": shape " + t->shape_string() + " does not match " + shape_str(want) + " from " +
                       c.path);
    if (!have.insert(p.name).second) throw InputError(where + ": maps to " + p.name + " twice");
    p.ne.assign(t->shape.rbegin(), t->shape.rend());
    plans.push_back(std::move(p));
  }

  std::vector<std::string> required = {names::token_embd, names::output_norm};
  for (int64_t il = 0; il < c.n_layer; ++il) {
    for (const char* part : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
                             "attn_norm", "ffn_norm"})
      required.push_back(names::layer(int(il), part));
    if (c.arch == HfArch::Qwen2)
      for (const char* part : {"attn_q", "attn_k", "attn_v"}) required.push_back(names::layer(int(il), part, "bias"));
  }
  for (const auto& r : required)
    if (!have.count(r))
      throw InputError(c.path + ": the checkpoint has no tensor for " + r + " (" + std::to_string(c.n_layer) +
                       " layers expected)");
  return plans;
}

}  // namespace qinfer
