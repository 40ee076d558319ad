#include "qinfer/convert/convert.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numbers>

#include "qinfer/convert/hf_config.h"
#include "qinfer/convert/hf_tensors.h"
#include "qinfer/convert/hf_vocab.h"
#include "qinfer/convert/hf_weights.h"
#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/formats/gguf_writer.h"
#include "qinfer/model/file_types.h"
#include "qinfer/model/gguf_hparams.h"
#include "qinfer/model/weight_names.h"
#include "qinfer/quant/quant_common.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer {

namespace fs = std::filesystem;

namespace {

// convert_hf_to_gguf.py's --outtype choices (general.file_type from model/file_types.h).
struct OutType {
  const char* name;
  TypeId type;
};
constexpr OutType kOutTypes[] = {{"f32", TypeId::F32}, {"f16", TypeId::F16}, {"bf16", TypeId::BF16}, {"q8_0", TypeId::Q8_0}};

const OutType& parse_outtype(const std::string& s) {
  for (const auto& o : kOutTypes)
    if (s == o.name) return o;
  throw InputError("--outtype: unknown type '" + s + "' (f32, f16, bf16, q8_0)");
}

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// prepare_tensors' choice: 1-D tensors, norms and non-weights stay F32; Q8_0
// falls back to F16 when a row is not a whole number of blocks (QuantError).
TypeId tensor_type(const HfTensorPlan& p, TypeId out) {
  if (p.ne.size() <= 1 || ends_with(p.name, "_norm.weight") || !ends_with(p.name, ".weight")) return TypeId::F32;
  if (out == TypeId::Q8_0 && p.ne[0] % type_info(TypeId::Q8_0).block_size != 0) return TypeId::F16;
  return out;
}

void to_f32(const StTensor& t, int64_t first, int64_t n, float* dst) {
  const uint8_t* src = t.data + size_t(first) * st_dtype_size(t.dtype);
  switch (t.dtype) {
    case StDtype::F32: std::memcpy(dst, src, size_t(n) * 4); break;
    case StDtype::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = fp16_to_f32(h);
      }
      break;
    case StDtype::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf16_to_f32(h);
      }
      break;
    case StDtype::I32: case StDtype::I8: case StDtype::U8:
      throw Error("to_f32: " + t.name + " is not a float tensor");  // plan_hf_tensors refuses these first
  }
}

// Streams one tensor in chunks of whole rows (whole heads when permuting):
// read → float → un-permute → target type → write.
void stream_tensor(const HfTensorPlan& p, TypeId type, const GgufWriteFn& write) {
  const StTensor& t = *p.src;
  const int64_t cols = p.ne.size() >= 2 ? p.ne[0] : 1;
  const int64_t rows = t.n_elements() / std::max<int64_t>(cols, 1);
  int64_t step = std::max<int64_t>(1, (int64_t(1) << 22) / std::max<int64_t>(cols, 1));
  int64_t head_rows = 0;
  if (p.permute_heads > 0) {
    head_rows = rows / p.permute_heads;
    step = std::max<int64_t>(1, step / head_rows) * head_rows;
  }
  std::vector<float> in, buf;
  std::vector<uint8_t> out;
  const TypeInfo& ti = type_info(type);
  for (int64_t r0 = 0; r0 < rows; r0 += step) {
    const int64_t nr = std::min(step, rows - r0), n = nr * cols;
    in.resize(size_t(n));
    to_f32(t, r0 * cols, n, in.data());
    const float* x = in.data();
    if (head_rows > 0) {
      // HF row h·hd + j·hd/2 + i  →  GGUF row h·hd + 2i + j (i < hd/2, j < 2).
      buf.resize(size_t(n));
      const int64_t half = head_rows / 2;
      for (int64_t h = 0; h < nr / head_rows; ++h)
        for (int64_t i = 0; i < half; ++i)
          for (int64_t j = 0; j < 2; ++j)
            std::memcpy(&buf[size_t((h * head_rows + 2 * i + j) * cols)], &in[size_t((h * head_rows + j * half + i) * cols)],
                        size_t(cols) * 4);
      x = buf.data();
    }
    if (type == TypeId::F32) {
      write(x, size_t(n) * 4);
      continue;
    }
    out.resize(size_t(nr) * row_size(type, cols));
    if (ti.quantized) {
      for (int64_t r = 0; r < nr; ++r)
        if (row_has_nonfinite(x + r * cols, cols))
          throw InputError("tensor " + t.name + ": row " + std::to_string(r0 + r) + " has NaN or Inf values, cannot " +
                           "quantize to " + ti.name);
      ti.quantize(x, out.data(), nr, cols, nullptr);
    } else {
      ti.from_float(x, out.data(), n);
    }
    write(out.data(), out.size());
  }
}

// LlamaModel.generate_extra_tensors: per-dimension frequency divisors for Llama-3.1 rope scaling.
std::vector<float> llama3_rope_factors(const HfConfig& c) {
  const HfRopeScaling& r = c.rope_scaling;
  const float base = float(c.rope_theta.value_or(10000.0));
  const int64_t dim = c.head_size();
  const double low_wavelen = double(r.llama3_original_context) / r.low_freq_factor;
  const double high_wavelen = double(r.llama3_original_context) / r.high_freq_factor;
  std::vector<float> f;
  for (int64_t i = 0; i < dim; i += 2) {
    const float freq = 1.0f / std::pow(base, float(i) / float(dim));
    const float wavelen = float(2 * std::numbers::pi) / freq;
    if (wavelen < high_wavelen) {
      f.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      f.push_back(float(r.factor));
    } else {
      const float smooth = (float(r.llama3_original_context) / wavelen - float(r.low_freq_factor)) /
                           float(r.high_freq_factor - r.low_freq_factor);
      f.push_back(1.0f / ((1.0f - smooth) / float(r.factor) + smooth));
    }
  }
  return f;
}

std::string shape_of(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

}  // namespace

ConvertSummary convert_hf(const ConvertParams& p, const std::function<void(const ConvertProgress&)>& progress) {
  const OutType& out = parse_outtype(p.outtype);
  if (!fs::is_directory(p.input_dir)) throw InputError(p.input_dir + ": not a directory");
  if (p.output.empty()) throw InputError("--output: no output file given");

  const HfConfig cfg = read_hf_config(p.input_dir);
  const HfVocab vocab = read_hf_vocab(p.input_dir, cfg);
  const int64_t n_vocab = int64_t(vocab.tokens.size());
  if (cfg.vocab_size && *cfg.vocab_size != n_vocab)
    throw InputError(cfg.path + ": vocab_size " + std::to_string(*cfg.vocab_size) + " does not match the " +
                     std::to_string(n_vocab) + " tokens of the tokenizer");
  const HfWeights weights = HfWeights::open(p.input_dir);
  const std::vector<HfTensorPlan> plans = plan_hf_tensors(weights, cfg, n_vocab);

  GgufWriter w;
  w.set_string("general.architecture", cfg.gguf_arch);
  w.set_string("general.type", "model");
  std::string name = p.name;
  if (name.empty()) name = fs::path(p.input_dir).lexically_normal().filename().string();
  if (name.empty() || name == ".") name = fs::absolute(p.input_dir).lexically_normal().parent_path().filename().string();
  w.set_string("general.name", name);
  w.set_uint32("general.file_type", uint32_t(uniform_file_type(out.type).ftype));
  write_gguf_hparams(w, model_config(cfg, n_vocab), hparam_keys(cfg));
  write_hf_vocab(w, vocab);
  w.set_uint32("general.quantization_version", 2);

  const int count = int(plans.size()) + (cfg.rope_scaling.type == "llama3" ? 1 : 0);
  int index = 0;
  auto report = [&](const std::string& tname, const std::string& dtype, TypeId type, const std::vector<int64_t>& ne) {
    if (!progress) return;
    ConvertProgress pr;
    pr.index = index;
    pr.count = count;
    pr.name = tname;
    pr.src_dtype = dtype;
    pr.type = type;
    pr.shape = shape_of(ne);
    progress(pr);
  };
  // generate_extra_tensors come first in convert_hf_to_gguf.py.
  std::vector<float> rope_factors;
  if (cfg.rope_scaling.type == "llama3") {
    rope_factors = llama3_rope_factors(cfg);
    const std::vector<int64_t> ne = {int64_t(rope_factors.size())};
    w.add_tensor(names::rope_freqs, TypeId::F32, ne, rope_factors.data(), rope_factors.size() * 4);
  }
  for (size_t i = 0; i < plans.size(); ++i) {
    const HfTensorPlan* plan = &plans[i];
    const TypeId type = tensor_type(*plan, out.type);
    w.add_tensor(plan->name, type, plan->ne, [&, plan, type](const GgufWriteFn& write) {
      // Progress is reported as each tensor's data is streamed.
      index = int(plan - plans.data()) + count - int(plans.size());
      report(plan->name, st_dtype_name(plan->src->dtype), type, plan->ne);
      stream_tensor(*plan, type, write);
    });
  }
  w.write(p.output);

  ConvertSummary s;
  s.arch = cfg.gguf_arch;
  s.vocab = vocab.model;
  s.pre = vocab.pre;
  s.n_tensors = count;
  s.n_vocab = int(n_vocab);
  s.file_bytes = uint64_t(fs::file_size(p.output));
  return s;
}

}  // namespace qinfer
