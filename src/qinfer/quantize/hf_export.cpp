#include "qinfer/quantize/hf_export.h"

#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "qinfer/core/atomic_file.h"
#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/formats/safetensors.h"
#include "qinfer/model/model.h"
#include "qinfer/model/weight_names.h"
#include "qinfer/quant/bnb4.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/calibration.h"

namespace qinfer {

HfFormat parse_hf_format(const std::string& m) {
  if (m == "gptq") return HfFormat::Gptq;
  if (m == "awq") return HfFormat::Awq;
  if (m == "nf4") return HfFormat::Nf4;
  if (m == "fp4") return HfFormat::Fp4;
  throw InputError("--export hf: --method '" + m + "' has no Hugging Face layout; valid: gptq awq nf4 fp4");
}

const char* hf_format_name(HfFormat f) {
  switch (f) {
    case HfFormat::Gptq: return "gptq";
    case HfFormat::Awq: return "awq";
    case HfFormat::Nf4: return "nf4";
    case HfFormat::Fp4: return "fp4";
  }
  return "?";
}

int64_t hf_row_to_gguf(int64_t r, int64_t rows, int64_t heads) {
  // convert: HF row h·hd + j·hd/2 + i is GGUF row h·hd + 2i + j.
  const int64_t hd = rows / heads, half = hd / 2, h = r / hd, in = r % hd;
  return h * hd + 2 * (in % half) + in / half;
}

namespace {

// A linear weight of the model and where it goes.
struct Linear {
  const Tensor* t;
  std::string hf;        // "model.layers.3.self_attn.q_proj" (no ".weight")
  int64_t heads = 0;     // > 0: rows un-permuted in this many heads
};

std::vector<Linear> linears(const Model& m) {
  std::vector<Linear> out;
  const bool norm_rope = m.config.rope.layout == RopeLayout::Norm;
  for (int il = 0; il < m.config.n_layer; ++il)
    for (const LayerTensorInfo& lt : layer_tensors()) {
      if (lt.kind != LayerTensorInfo::Matrix) continue;
      const Tensor* t = m.find(names::layer(il, lt.part));
      if (!t) continue;
      std::string hf = "model.layers." + std::to_string(il) + "." + lt.hf;
      hf.resize(hf.size() - std::string(".weight").size());
      const int64_t heads = !norm_rope || !lt.hf_permute ? 0 : lt.hf_permute == 1 ? m.config.n_head : m.config.n_head_kv;
      out.push_back({t, hf, heads});
    }
  return out;
}

std::vector<float> to_floats(const Tensor& t) {
  std::vector<float> w(size_t(t.n_elements()));
  const TypeInfo& info = type_info(t.type);
  for (int64_t r = 0; r < t.rows(); ++r) info.to_float(t.row(r), &w[size_t(r * t.ne[0])], t.ne[0]);
  return w;
}

// GGUF rows → HF rows (un-permuted where needed).
std::vector<float> hf_order(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads) {
  if (heads <= 0) return w;
  std::vector<float> out(w.size());
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(&out[size_t(r * cols)], &w[size_t(hf_row_to_gguf(r, rows, heads) * cols)], size_t(cols) * 4);
  return out;
}

template <typename T>
StTensorOut st_tensor(const std::string& name, StDtype dt, std::vector<int64_t> shape, const std::vector<T>& v) {
  StTensorOut t{name, dt, std::move(shape), std::vector<uint8_t>(v.size() * sizeof(T))};
  std::memcpy(t.data.data(), v.data(), t.data.size());
  return t;
}

StTensorOut f16_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_fp16(v[i]);
  return st_tensor(name, StDtype::F16, std::move(shape), h);
}

// GPTQ or AWQ: rounds onto the integer grid, keeps each result for the writer.
class GptqSink : public RoundingSink {
 public:
  explicit GptqSink(const IntGridSpec& spec) : spec_(spec) {}
  std::unique_ptr<GroupRounder> make(const std::string& name, int64_t rows, int64_t cols) override {
    const int pack = 32 / spec_.bits;
    if (cols % spec_.group != 0 || rows % pack != 0) {
      skipped.push_back(name + ": [" + std::to_string(cols) + ", " + std::to_string(rows) +
                        "] is not a whole number of groups of " + std::to_string(spec_.group) + " (input) and of " +
                        std::to_string(pack) + " (output)");
      return nullptr;
    }
    return std::make_unique<IntGridRounder>(rows, cols, spec_);
  }
  std::vector<float> finish(const std::string& name, GroupRounder& r) override {
    IntQuantized& q = results[name] = static_cast<IntGridRounder&>(r).take();
    return q.dequantize();
  }
  std::map<std::string, IntQuantized> results;
  std::vector<std::string> skipped;

 private:
  IntGridSpec spec_;
};

// AutoGPTQ v1: qweight [K/pack, N] along the input, qzeros [K/G, N/pack] (zero − 1) along the output.
void write_gptq(const Linear& l, const IntQuantized& q, std::vector<StTensorOut>& out) {
  const int bits = q.spec.bits, pack = 32 / bits;
  const int64_t N = q.rows, K = q.cols, G = q.spec.group, mask = (int64_t(1) << bits) - 1;
  std::vector<int64_t> gg(static_cast<size_t>(N));  // HF output channel → GGUF row
  for (int64_t o = 0; o < N; ++o) gg[size_t(o)] = l.heads > 0 ? hf_row_to_gguf(o, N, l.heads) : o;
  std::vector<uint32_t> qweight(size_t(K / pack * N), 0), qzeros(size_t(K / G * (N / pack)), 0);
  std::vector<uint16_t> scales(size_t(K / G * N));
  std::vector<int32_t> g_idx(static_cast<size_t>(K));
  for (int64_t i = 0; i < K; ++i) {
    g_idx[size_t(i)] = int32_t(i / G);
    for (int64_t o = 0; o < N; ++o)
      qweight[size_t(i / pack * N + o)] |= uint32_t(q.codes[size_t(gg[size_t(o)] * K + i)]) << (bits * (i % pack));
  }
  const int64_t zw = N / pack;
  for (int64_t g = 0; g < K / G; ++g)
    for (int64_t o = 0; o < N; ++o) {
      const IntGroupParams& p = q.at(gg[size_t(o)], g * G);
      scales[size_t(g * N + o)] = f32_to_fp16(p.scale);
      qzeros[size_t(g * zw + o / pack)] |= uint32_t((p.zero - 1) & mask) << (bits * (o % pack));
    }
  out.push_back(st_tensor(l.hf + ".qweight", StDtype::I32, {K / pack, N}, qweight));
  out.push_back(st_tensor(l.hf + ".qzeros", StDtype::I32, {K / G, zw}, qzeros));
  out.push_back(st_tensor(l.hf + ".scales", StDtype::F16, {K / G, N}, scales));
  out.push_back(st_tensor(l.hf + ".g_idx", StDtype::I32, {K}, g_idx));
}

// AutoAWQ GEMM: qweight [K, N/8] and qzeros [K/G, N/8] along the output, nibbles interleaved.
void write_awq(const Linear& l, const IntQuantized& q, std::vector<StTensorOut>& out) {
  const int64_t N = q.rows, K = q.cols, G = q.spec.group;
  std::vector<int64_t> gg(static_cast<size_t>(N));
  for (int64_t o = 0; o < N; ++o) gg[size_t(o)] = l.heads > 0 ? hf_row_to_gguf(o, N, l.heads) : o;
  std::vector<uint32_t> qweight(size_t(K * N / 8), 0), qzeros(size_t(K / G * N / 8), 0);
  std::vector<uint16_t> scales(size_t(K / G * N));
  for (int64_t i = 0; i < K; ++i)
    for (int64_t c = 0; c < N / 8; ++c)
      for (int s = 0; s < 8; ++s) {
        const int64_t o = 8 * c + kAwqOrder[s];
        qweight[size_t(i * (N / 8) + c)] |= uint32_t(q.codes[size_t(gg[size_t(o)] * K + i)]) << (4 * s);
      }
  for (int64_t g = 0; g < K / G; ++g)
    for (int64_t c = 0; c < N / 8; ++c)
      for (int s = 0; s < 8; ++s) {
        const int64_t o = 8 * c + kAwqOrder[s];
        const IntGroupParams& p = q.at(gg[size_t(o)], g * G);
        qzeros[size_t(g * (N / 8) + c)] |= uint32_t(p.zero) << (4 * s);
        scales[size_t(g * N + o)] = f32_to_fp16(p.scale);
      }
  out.push_back(st_tensor(l.hf + ".qweight", StDtype::I32, {K, N / 8}, qweight));
  out.push_back(st_tensor(l.hf + ".qzeros", StDtype::I32, {K / G, N / 8}, qzeros));
  out.push_back(st_tensor(l.hf + ".scales", StDtype::F16, {K / G, N}, scales));
}

// bitsandbytes Params4bit over the flattened HF-order weight; returns the dequantized HF-order weights.
std::vector<float> write_bnb4(const Linear& l, const std::vector<float>& w_hf, int64_t N, int64_t K, bool fp4, bool dq,
                              std::vector<StTensorOut>& out) {
  const int64_t n = N * K, nb = (n + kQK_BNB4 - 1) / kQK_BNB4;
  std::vector<float> padded(size_t(nb * kQK_BNB4), 0.0f);
  std::copy(w_hf.begin(), w_hf.end(), padded.begin());
  std::vector<BlockBnb4> blocks(static_cast<size_t>(nb));
  (fp4 ? quantize_row_fp4 : quantize_row_nf4)(padded.data(), blocks.data(), nb * kQK_BNB4);
  const float* book = fp4 ? kFP4Values : kNF4Values;
  std::vector<uint8_t> packed(size_t((n + 1) / 2));
  for (int64_t b = 0; b < nb; ++b)
    for (int k = 0; k < kQK_BNB4 / 2; ++k) {
      const int64_t at = b * (kQK_BNB4 / 2) + k;
      if (at < int64_t(packed.size())) packed[size_t(at)] = blocks[size_t(b)].qs[k];
    }
  const std::string w = l.hf + ".weight";
  out.push_back(st_tensor(w, StDtype::U8, {int64_t(packed.size()), 1}, packed));
  nlohmann::ordered_json qs = {{"quant_type", fp4 ? "fp4" : "nf4"}, {"blocksize", kQK_BNB4}, {"dtype", "float16"},
                               {"shape", {N, K}}};
  if (dq) {
    std::vector<BlockBnb4DQ> dqb(static_cast<size_t>(nb));
    const std::vector<float> state = double_quantize(blocks.data(), nb, dqb.data());
    expand_double_quant(dqb.data(), nb, state.data(), int64_t(state.size()), blocks.data());  // what loaders see
    std::vector<uint8_t> qabs(static_cast<size_t>(nb));
    for (int64_t b = 0; b < nb; ++b) qabs[size_t(b)] = dqb[size_t(b)].qabsmax;
    out.push_back(st_tensor(w + ".absmax", StDtype::U8, {nb}, qabs));
    const std::vector<float> nested(state.begin() + 1, state.end());
    out.push_back(st_tensor(w + ".nested_absmax", StDtype::F32, {int64_t(nested.size())}, nested));
    out.push_back(st_tensor(w + ".nested_quant_map", StDtype::F32, {256}, bnb_dynamic_map()));
    qs["nested_blocksize"] = kBnbNestedBlock;
    qs["nested_dtype"] = "float32";
    qs["nested_offset"] = state[0];
  } else {
    std::vector<float> absmax(static_cast<size_t>(nb));
    for (int64_t b = 0; b < nb; ++b) absmax[size_t(b)] = blocks[size_t(b)].absmax;
    out.push_back(st_tensor(w + ".absmax", StDtype::F32, {nb}, absmax));
  }
  out.push_back(st_tensor(w + ".quant_map", StDtype::F32, {16}, std::vector<float>(book, book + 16)));
  const std::string js = qs.dump();
  out.push_back(st_tensor(w + ".quant_state.bitsandbytes__" + std::string(fp4 ? "fp4" : "nf4"), StDtype::U8,
                          {int64_t(js.size())}, std::vector<uint8_t>(js.begin(), js.end())));
  std::vector<float> deq(size_t(nb * kQK_BNB4));
  dequantize_row_bnb4(blocks.data(), book, deq.data(), nb * kQK_BNB4);
  deq.resize(size_t(n));
  return deq;
}

nlohmann::ordered_json hf_config(const Model& m) {
  const ModelConfig& c = m.config;
  const bool qwen2 = c.arch == "qwen2";
  if (c.arch != "llama" && !qwen2)
    throw InputError(m.path + ": architecture '" + c.arch + "' has no Hugging Face export (llama, qwen2)");
  nlohmann::ordered_json j = {
      {"architectures", {qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
      {"model_type", qwen2 ? "qwen2" : "llama"},
      {"hidden_size", c.n_embd},
      {"intermediate_size", c.n_ff},
      {"num_hidden_layers", c.n_layer},
      {"num_attention_heads", c.n_head},
      {"num_key_value_heads", c.n_head_kv},
      {"head_dim", c.head_dim},
      {"hidden_act", "silu"},
      {"max_position_embeddings", c.n_ctx_train},
      {"rms_norm_eps", c.norm_eps},
      {"rope_theta", c.rope.freq_base},
      {"vocab_size", c.n_vocab},
      {"tie_word_embeddings", c.tied_embeddings},
      {"torch_dtype", "float16"},
  };
  if (!qwen2) j["attention_bias"] = c.qkv_bias;
  if (m.tokenizer) {
    if (m.tokenizer->bos() >= 0) j["bos_token_id"] = m.tokenizer->bos();
    if (m.tokenizer->eos() >= 0) j["eos_token_id"] = m.tokenizer->eos();
  }
  const RopeParams& r = c.rope;
  if (r.scaling == RopeScaling::Linear)
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 1.0f / r.freq_scale}};
  else if (r.scaling == RopeScaling::Llama3)
    j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", r.scaling_factor}, {"low_freq_factor", r.llama3_low_freq_factor},
                         {"high_freq_factor", r.llama3_high_freq_factor}, {"original_max_position_embeddings", r.n_ctx_orig}};
  else if (r.scaling == RopeScaling::Yarn)
    j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", r.scaling_factor}, {"original_max_position_embeddings", r.n_ctx_orig}};
  return j;
}

void write_text(const std::string& path, const std::string& text) {
  AtomicFile f(path);
  f.write(text);
  f.commit();
}

std::string regex_escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '.') o += '\\';
    o += ch;
  }
  return o;
}

}  // namespace

HfExportSummary export_hf(const HfExportOptions& o, const CalibrationProgressFn& progress) {
  const bool intgrid = o.format == HfFormat::Gptq || o.format == HfFormat::Awq;
  if (o.format == HfFormat::Gptq && o.bits != 2 && o.bits != 4 && o.bits != 8)
    throw InputError("--bits " + std::to_string(o.bits) + ": the GPTQ export packs 2, 4 or 8 bits");
  if (o.format == HfFormat::Awq && o.bits != 4) throw InputError("--bits " + std::to_string(o.bits) + ": AWQ's GEMM layout is 4-bit");
  if (intgrid && (o.group <= 0 || o.group % (32 / o.bits) != 0))
    throw InputError("--group-size " + std::to_string(o.group) + ": must be a positive multiple of " +
                     std::to_string(32 / o.bits) + " (values per int32)");
  if (o.double_quant && intgrid) throw InputError("--double-quant applies to nf4 and fp4");
  if (std::filesystem::exists(o.dir) && !std::filesystem::is_directory(o.dir))
    throw InputError("--export hf " + o.dir + ": exists and is not a directory");

  std::unique_ptr<Model> m = load_model(o.input);
  const nlohmann::ordered_json config_base = hf_config(*m);
  const std::vector<Linear> lin = linears(*m);
  for (const Linear& l : lin)
    if (type_info(l.t->type).quantized)
      throw InputError(o.input + ": tensor " + l.t->name + " is already " + type_info(l.t->type).name +
                       "; --export hf quantizes an unquantized (F32/F16/BF16) model");

  HfExportSummary s;
  IntGridSpec spec;
  spec.bits = o.bits;
  spec.group = o.group;
  spec.sym = o.sym;
  spec.range = o.format == HfFormat::Awq ? IntRange::AwqMinMax : IntRange::GptqMinMax;
  std::map<std::string, IntQuantized> grid;  // GGUF name → codes
  // Float tensors the calibration changed (AWQ: the norms and the rows its
  // scales were folded into): written in place of the model's.
  std::map<std::string, std::vector<float>> changed;
  if (intgrid) {
    GptqSink sink(spec);
    CalibratedOptions co = o.calibrated;
    co.method = o.format == HfFormat::Gptq ? QuantMethod::Gptq : QuantMethod::Awq;
    co.sink = &sink;
    std::map<std::string, TypeId> targets;
    for (const Linear& l : lin) targets[l.t->name] = TypeId::F32;
    CalibrationOutcome oc = run_calibrated_quantization(o.input, targets, TypeId::F32, co, o.threads, progress);
    grid = std::move(sink.results);
    s.skipped = sink.skipped;
    s.notes = oc.notes;
    s.calibration = oc.source + ": " + std::to_string(oc.n_windows) + " windows x " + std::to_string(oc.window) +
                    " tokens (" + std::to_string(oc.text_tokens) + " tokens), seed " + std::to_string(co.calib.seed);
    for (auto& [name, ct] : oc.tensors) {
      if (ct.type != TypeId::F32 || grid.count(name)) continue;
      std::vector<float>& v = changed[name];
      v.resize(ct.bytes.size() / 4);
      std::memcpy(v.data(), ct.bytes.data(), ct.bytes.size());
    }
  }
  const auto floats = [&](const Tensor& t) {
    const auto it = changed.find(t.name);
    return it != changed.end() ? it->second : to_floats(t);
  };

  std::vector<StTensorOut> out;
  nlohmann::ordered_json dynamic = nlohmann::ordered_json::object();
  for (const Linear& l : lin) {
    const int64_t K = l.t->ne[0], N = l.t->ne[1];
    if (intgrid) {
      const auto it = grid.find(l.t->name);
      if (it == grid.end()) {
        out.push_back(f16_tensor(l.hf + ".weight", {N, K}, hf_order(floats(*l.t), N, K, l.heads)));
        dynamic["-:" + regex_escape(l.hf) + "$"] = nlohmann::ordered_json::object();
        continue;
      }
      (o.format == HfFormat::Gptq ? write_gptq : write_awq)(l, it->second, out);
      if (o.keep_dequantized) s.dequantized[l.t->name] = it->second.dequantize();
    } else {
      const std::vector<float> deq = write_bnb4(l, hf_order(to_floats(*l.t), N, K, l.heads), N, K,
                                                o.format == HfFormat::Fp4, o.double_quant, out);
      if (o.keep_dequantized) {
        std::vector<float> g(deq.size());  // back to GGUF order
        for (int64_t r = 0; r < N; ++r)
          std::memcpy(&g[size_t((l.heads > 0 ? hf_row_to_gguf(r, N, l.heads) : r) * K)], &deq[size_t(r * K)], size_t(K) * 4);
        s.dequantized[l.t->name] = std::move(g);
      }
    }
    ++s.n_quantized;
  }
  // The rest as fp16: embeddings, norms, biases, the classifier.
  auto add_float = [&](const Tensor* t, const std::string& hf) {
    if (!t) return;
    std::vector<int64_t> shape;
    for (int d = t->n_dims - 1; d >= 0; --d) shape.push_back(t->ne[d]);
    out.push_back(f16_tensor(hf, shape, to_floats(*t)));
  };
  add_float(m->tok_embd, "model.embed_tokens.weight");
  add_float(m->output_norm, "model.norm.weight");
  if (!m->config.tied_embeddings && m->output != m->tok_embd) add_float(m->output, "lm_head.weight");
  for (int il = 0; il < m->config.n_layer; ++il)
    for (const LayerTensorInfo& lt : layer_tensors()) {
      if (lt.kind == LayerTensorInfo::Matrix) continue;
      const Tensor* t = m->find(names::layer(il, lt.part));
      if (!t) continue;
      std::vector<float> v = floats(*t);
      if (lt.kind == LayerTensorInfo::Bias && m->config.rope.layout == RopeLayout::Norm && lt.hf_permute)
        v = hf_order(v, int64_t(v.size()), 1, lt.hf_permute == 1 ? m->config.n_head : m->config.n_head_kv);
      out.push_back(f16_tensor("model.layers." + std::to_string(il) + "." + lt.hf, {int64_t(v.size())}, v));
    }

  nlohmann::ordered_json qc;
  if (o.format == HfFormat::Gptq) {
    qc = {{"quant_method", "gptq"}, {"bits", o.bits}, {"group_size", o.group}, {"damp_percent", o.calibrated.damp},
          {"desc_act", false}, {"static_groups", false}, {"sym", o.sym}, {"true_sequential", true},
          {"model_name_or_path", nullptr}, {"model_file_base_name", "model"}, {"checkpoint_format", "gptq"},
          {"meta", {{"quantizer", "qinfer"}}}};
    if (!dynamic.empty()) qc["dynamic"] = dynamic;
  } else if (o.format == HfFormat::Awq) {
    qc = {{"quant_method", "awq"}, {"bits", 4}, {"group_size", o.group}, {"zero_point", true}, {"version", "gemm"}};
    if (!s.skipped.empty()) {
      nlohmann::ordered_json skip = nlohmann::ordered_json::array();
      for (const Linear& l : lin)
        if (!grid.count(l.t->name)) skip.push_back(l.hf);
      qc["modules_to_not_convert"] = skip;
    }
  } else {
    qc = {{"quant_method", "bitsandbytes"}, {"load_in_4bit", true}, {"load_in_8bit", false},
          {"bnb_4bit_quant_type", o.format == HfFormat::Fp4 ? "fp4" : "nf4"}, {"bnb_4bit_use_double_quant", o.double_quant},
          {"bnb_4bit_compute_dtype", "float16"}, {"bnb_4bit_quant_storage", "uint8"}, {"llm_int8_threshold", 6.0},
          {"llm_int8_has_fp16_weight", false}, {"llm_int8_skip_modules", nullptr}};
  }
  nlohmann::ordered_json config = config_base;
  config["quantization_config"] = qc;

  std::filesystem::create_directories(o.dir);
  const std::string st = o.dir + "/model.safetensors";
  write_safetensors(st, out, {{"format", "pt"}});
  s.bytes = std::filesystem::file_size(st);
  s.files.push_back("model.safetensors");
  write_text(o.dir + "/config.json", config.dump(2) + "\n");
  s.files.push_back("config.json");
  if (o.format == HfFormat::Gptq) {
    write_text(o.dir + "/quantize_config.json", qc.dump(2) + "\n");
    s.files.push_back("quantize_config.json");
  }
  return s;
}

}  // namespace qinfer
