#include "qinfer/optimize/optimize.h"

#include <cctype>
#include <cstdio>
#include <filesystem>

#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/optimize/measure.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/file_types.h"
#include "qinfer/quantize/quantize_model.h"

namespace qinfer {

namespace fs = std::filesystem;

std::vector<std::string> default_optimize_types() { return {"Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M"}; }

std::vector<std::string> default_sample_prompts() {
  return {"Once upon a time", "The little dog was sad because", "One day, a girl named Lily"};
}

namespace {

// The type holding most of the weight bytes: names the baseline row ("F32").
std::string dominant_type(const std::string& path) {
  const auto file = GgufFile::open(path);
  std::vector<uint64_t> bytes(kTypeIdLimit, 0);
  for (const GgufTensorInfo& t : file->tensors())
    if (uint32_t(t.type) < kTypeIdLimit) bytes[uint32_t(t.type)] += t.nbytes;
  uint32_t best = 0;
  for (uint32_t i = 1; i < kTypeIdLimit; ++i)
    if (bytes[i] > bytes[best]) best = i;
  const TypeInfo* info = find_type(best);
  std::string name = info ? info->name : "?";
  for (char& c : name) c = char(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

std::vector<VariantResult> run_optimize(const OptimizeParams& p,
                                        const std::function<void(int, int, const std::string&)>& on_stage) {
  if (p.types.empty()) throw InputError("--types: no quantization types given");
  for (const std::string& t : p.types) parse_file_type(t);  // fail before any work
  const std::string base_type = dominant_type(p.model_path);
  if (base_type != "F32" && base_type != "F16" && base_type != "BF16")
    throw InputError(p.model_path + ": the model is " + base_type +
                     "; optimize needs an unquantized (F32/F16/BF16) model as its baseline");
  std::error_code ec;
  fs::create_directories(fs::path(p.out_dir) / "models", ec);
  if (ec) throw InputError(p.out_dir + ": cannot create the output directory: " + ec.message());

  const int n_stages = int(p.types.size()) + 1;
  MeasureParams mp;
  mp.threads = p.threads;
  mp.n_prompt = p.n_prompt;
  mp.n_gen = p.n_gen;
  mp.reps = p.reps;
  mp.eval_text = p.eval_text;
  mp.n_ctx = p.n_ctx;
  mp.n_chunks = p.n_chunks;
  mp.base_logits = (fs::path(p.out_dir) / "baseline-logits.bin").string();
  mp.sample_prompts = p.sample_prompts;
  mp.sample_tokens = p.sample_tokens;

  std::vector<VariantResult> results;
  mp.model_path = p.model_path;
  mp.label = base_type + " (base)";
  mp.file_type = base_type;
  mp.baseline = true;
  if (on_stage) on_stage(0, n_stages, mp.label);
  results.push_back(measure_variant(mp));
  mp.base_ppl = results[0].ppl;
  mp.baseline = false;

  const std::string stem = fs::path(p.model_path).stem().string();
  for (size_t i = 0; i < p.types.size(); ++i) {
    const FileTypeInfo& ft = parse_file_type(p.types[i]);
    if (on_stage) on_stage(int(i) + 1, n_stages, ft.name);
    QuantizeParams qp;
    qp.input = p.model_path;
    qp.output = (fs::path(p.out_dir) / "models" / (stem + "-" + ft.name + ".gguf")).string();
    qp.type = ft.name;
    qp.threads = p.threads;
    const QuantizeSummary qs = quantize_model(qp);
    mp.model_path = qp.output;
    mp.label = ft.name;
    mp.file_type = ft.name;
    VariantResult r = measure_variant(mp);
    r.quantize_seconds = qs.seconds;
    results.push_back(r);
  }
  return results;
}

}  // namespace qinfer
