#include "qinfer/convert/hf_tensors.h"

#include <set>

#include "qinfer/core/error.h"
#include "qinfer/model/weight_names.h"

namespace qinfer {

namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

std::vector<HfTensorPlan> plan_hf_tensors(const HfWeights& w, const HfConfig& c, int64_t n_vocab) {
  const ModelConfig mc = model_config(c, n_vocab);
  const int64_t embd = mc.n_embd;
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
      const LayerTensorInfo* part = nullptr;
      for (const LayerTensorInfo& lt : layer_tensors())
        if (rest == lt.hf) part = &lt;
      if (!part) throw InputError(where + ": cannot map this name to a GGUF tensor");
      p.name = names::layer(int(il), part->part);
      // HF shapes are [rows, cols], GGUF's reversed.
      want = part->kind == LayerTensorInfo::Matrix ? std::vector<int64_t>{dim_size(part->rows, mc), dim_size(part->cols, mc)}
                                                   : std::vector<int64_t>{dim_size(part->cols, mc)};
      // Qwen2 uses the rotate-half (NEOX) rope directly: no permutation.
      if (llama && part->hf_permute) p.permute_heads = part->hf_permute == 1 ? c.heads() : c.heads_kv();
    } else {
      throw InputError(where + ": cannot map this name to a GGUF tensor");
    }
    if (!st_dtype_is_float(t->dtype))
      throw InputError(where + ": dtype " + st_dtype_name(t->dtype) +
                       " (a quantized checkpoint?); convert reads F32, F16 and BF16 weights");
    if (t->shape != want)
      throw InputError(where + ": shape " + t->shape_string() + " does not match " + shape_str(want) + " from " +
                       c.path);
    if (!have.insert(p.name).second) throw InputError(where + ": maps to " + p.name + " twice");
    p.ne.assign(t->shape.rbegin(), t->shape.rend());
    plans.push_back(std::move(p));
  }

  std::vector<std::string> required = {names::token_embd, names::output_norm};
  for (int64_t il = 0; il < c.n_layer; ++il)
    for (const LayerTensorInfo& lt : layer_tensors())
      if (lt.kind != LayerTensorInfo::Bias || mc.qkv_bias) required.push_back(names::layer(int(il), lt.part));
  for (const auto& r : required)
    if (!have.count(r))
      throw InputError(c.path + ": the checkpoint has no tensor for " + r + " (" + std::to_string(c.n_layer) +
                       " layers expected)");
  return plans;
}

}  // namespace qinfer
