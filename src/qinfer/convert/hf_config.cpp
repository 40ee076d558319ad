#include "qinfer/convert/hf_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "qinfer/core/error.h"

namespace qinfer {

namespace {

struct ArchName {
  const char* hf;
  HfArch arch;
  const char* gguf;
};
// Mixtral shares LlamaModel in llama.cpp but needs experts, which qinfer does not run.
constexpr ArchName kArchs[] = {
    {"LlamaForCausalLM", HfArch::Llama, "llama"},
    {"LLaMAForCausalLM", HfArch::Llama, "llama"},
    {"MistralForCausalLM", HfArch::Llama, "llama"},
    {"Qwen2ForCausalLM", HfArch::Qwen2, "qwen2"},
};

using json = nlohmann::json;

std::optional<int64_t> get_int(const std::string& path, const json& j, const char* key, int64_t min, int64_t max) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) throw InputError(path + ": field " + key + " must be an integer");
  const int64_t v = it->get<int64_t>();
  if (v < min || v > max)
    throw InputError(path + ": field " + key + " = " + std::to_string(v) + " is out of range (" + std::to_string(min) +
                     ".." + std::to_string(max) + ")");
  return v;
}

// First of `keys` present (llama.cpp's find_hparam).
std::optional<int64_t> find_int(const std::string& path, const json& j, std::initializer_list<const char*> keys,
                                int64_t min, int64_t max) {
  for (const char* k : keys)
    if (j.contains(k)) return get_int(path, j, k, min, max);
  return std::nullopt;
}

int64_t require_int(const std::string& path, const json& j, std::initializer_list<const char*> keys, int64_t min,
                    int64_t max) {
  auto v = find_int(path, j, keys, min, max);
  if (!v) throw InputError(path + ": missing field " + std::string(*keys.begin()));
  return *v;
}

std::optional<double> get_float(const std::string& path, const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw InputError(path + ": field " + key + " must be a number");
  const double v = it->get<double>();
  if (!(v > 0) || v > 1e30) throw InputError(path + ": field " + key + " = " + std::to_string(v) + " is out of range");
  return v;
}

HfRopeScaling read_rope_scaling(const std::string& path, const json& j, HfArch arch) {
  HfRopeScaling r;
  auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) return r;
  const std::string f = path + ": rope_scaling";
  if (!it->is_object()) throw InputError(f + " must be an object");
  std::string type;
  // Newer transformers write "rope_type", older "type".
  for (const char* k : {"rope_type", "type"}) {
    auto t = it->find(k);
    if (t != it->end()) {
      if (!t->is_string()) throw InputError(f + "." + k + " must be a string");
      type = t->get<std::string>();
      break;
    }
  }
  if (type.empty() || type == "default") return r;
  if (type == "linear" || (type == "yarn" && arch == HfArch::Qwen2) || (type == "llama3" && arch == HfArch::Llama)) {
    r.type = type;
  } else {
    throw InputError(f + " type '" + type + "' is not supported for this architecture (llama: linear, llama3; " +
                     "qwen2: linear, yarn)");
  }
  if (auto v = get_float(path, *it, "factor")) r.factor = *v;
  else if (type != "llama3") throw InputError(f + ": missing field factor");
  else r.factor = 8.0;
  if (type == "yarn") {
    auto o = get_int(path, *it, "original_max_position_embeddings", 1, int64_t(1) << 30);
    if (!o) throw InputError(f + ": missing field original_max_position_embeddings");
    r.original_context = *o;
  }
  if (type == "llama3") {
    if (auto v = get_float(path, *it, "low_freq_factor")) r.low_freq_factor = *v;
    if (auto v = get_float(path, *it, "high_freq_factor")) r.high_freq_factor = *v;
    if (auto v = get_int(path, j, "original_max_position_embeddings", 1, int64_t(1) << 30))
      r.llama3_original_context = *v;
    if (r.low_freq_factor == r.high_freq_factor)
      throw InputError(f + ": low_freq_factor equals high_freq_factor");
  }
  return r;
}

}  // namespace

std::string supported_hf_architectures() {
  std::string s;
  for (const auto& a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a.hf);
  return s;
}

HfConfig read_hf_config(const std::string& dir) {
  HfConfig c;
  c.path = dir + "/config.json";
  const std::string& p = c.path;
  std::ifstream in(p);
  if (!in) throw InputError(p + ": cannot open (not a Hugging Face checkpoint directory?)");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(p + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw InputError(p + ": not a JSON object");

  auto archs = j.find("architectures");
  if (archs == j.end() || !archs->is_array() || archs->empty() || !(*archs)[0].is_string())
    throw InputError(p + ": missing field architectures (supported: " + supported_hf_architectures() + ")");
  c.architecture = (*archs)[0].get<std::string>();
  const ArchName* found = nullptr;
  for (const auto& a : kArchs)
    if (c.architecture == a.hf) found = &a;
  if (!found)
    throw InputError(p + ": unsupported architecture '" + c.architecture +
                     "' (supported: " + supported_hf_architectures() + ")");
  c.arch = found->arch;
  c.gguf_arch = found->gguf;

  constexpr int64_t kBig = int64_t(1) << 30;
  c.n_layer = require_int(p, j, {"num_hidden_layers", "n_layers", "n_layer", "num_layers"}, 1, 4096);
  c.n_ctx = find_int(p, j, {"max_position_embeddings", "n_ctx"}, 1, kBig);
  c.n_embd = require_int(p, j, {"hidden_size", "n_embd"}, 1, 1 << 20);
  c.n_ff = require_int(p, j, {"intermediate_size", "n_inner"}, 1, 1 << 22);
  c.n_head = require_int(p, j, {"num_attention_heads", "n_head"}, 1, 1 << 14);
  c.n_head_kv = get_int(p, j, "num_key_value_heads", 1, *c.n_head);
  c.head_dim = get_int(p, j, "head_dim", 1, 1 << 14);
  c.vocab_size = get_int(p, j, "vocab_size", 1, 1 << 24);
  if (c.arch == HfArch::Llama && !c.vocab_size) throw InputError(p + ": missing field vocab_size");
  c.rope_theta = get_float(p, j, "rope_theta");
  c.rms_norm_eps = get_float(p, j, "rms_norm_eps");
  if (*c.n_head % c.heads_kv() != 0)
    throw InputError(p + ": num_attention_heads " + std::to_string(*c.n_head) +
                     " is not a multiple of num_key_value_heads " + std::to_string(c.heads_kv()));
  if (!c.head_dim && *c.n_embd % *c.n_head != 0)
    throw InputError(p + ": hidden_size " + std::to_string(*c.n_embd) + " is not a multiple of num_attention_heads " +
                     std::to_string(*c.n_head));
  if (c.arch == HfArch::Llama && c.head_size() % 2 != 0)
    throw InputError(p + ": head size " + std::to_string(c.head_size()) + " must be even for the rotary embedding");
  c.rope_scaling = read_rope_scaling(p, j, c.arch);

  if (auto t = j.find("tie_word_embeddings"); t != j.end() && !t->is_null()) {
    if (!t->is_boolean()) throw InputError(p + ": field tie_word_embeddings must be true or false");
    c.tie_word_embeddings = t->get<bool>();
  }
  for (const char* typ : {"bos", "eos", "unk", "sep", "pad", "cls", "mask"}) {
    auto it = j.find(std::string(typ) + "_token_id");
    // llama.cpp only takes integers (lists, as in some Llama-3 configs, are ignored).
    if (it == j.end() || !it->is_number_integer()) continue;
    const int64_t id = it->get<int64_t>();
    if (id < 0) throw InputError(p + ": field " + std::string(typ) + "_token_id is negative");
    c.special_ids.emplace_back(typ, id);
  }
  return c;
}

ModelConfig model_config(const HfConfig& c, int64_t n_vocab) {
  ModelConfig m;
  m.arch = c.gguf_arch;
  m.n_vocab = int(n_vocab);
  m.n_ctx_train = int(c.n_ctx.value_or(0));
  m.n_embd = int(c.embd());
  m.n_layer = int(c.n_layer);
  m.n_ff = int(c.n_ff.value_or(0));
  m.n_head = int(c.heads());
  m.n_head_kv = int(c.heads_kv());
  m.head_dim = int(c.head_size());
  if (c.rms_norm_eps) m.norm_eps = float(*c.rms_norm_eps);
  if (c.rope_theta) m.rope.freq_base = float(*c.rope_theta);
  m.tied_embeddings = c.tie_word_embeddings;
  const HfRopeScaling& r = c.rope_scaling;
  if (r.type == "linear" || r.type == "yarn") {
    m.rope.scaling = r.type == "linear" ? RopeScaling::Linear : RopeScaling::Yarn;
    m.rope.scaling_factor = float(r.factor);
    m.rope.n_ctx_orig = int(r.original_context);
  } else if (r.type == "llama3") {
    m.rope.scaling = RopeScaling::Llama3;  // written as the rope_freqs tensor, not as keys
  }
  return complete_config(m);
}

HparamKeys hparam_keys(const HfConfig& c) {
  HparamKeys k;
  k.context_length = c.n_ctx.has_value();
  k.head_count_kv = c.n_head_kv.has_value();
  k.rope_freq_base = c.rope_theta.has_value();
  k.norm_eps = c.rms_norm_eps.has_value();
  k.head_dim = c.head_dim.has_value();
  // LlamaModel.set_gguf_parameters adds these two; Qwen2Model does not.
  k.vocab_size = k.rope_dimension_count = c.arch == HfArch::Llama;
  return k;
}

}  // namespace qinfer
