#include "qinfer/optimize/optimize.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "qinfer/core/atomic_file.h"
#include "qinfer/core/error.h"
#include "qinfer/model/file_types.h"
#include "qinfer/model/model.h"
#include "qinfer/optimize/measure.h"
#include "qinfer/optimize/run_records.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/quantize_model.h"

namespace qinfer {

namespace fs = std::filesystem;

std::vector<std::string> default_optimize_types() {
  return {"Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q4_0+gptq", "Q4_0+awq", "Q3_K_M"};
}

std::vector<std::string> default_sample_prompts() {
  return {"Once upon a time", "The little dog was sad because", "One day, a girl named Lily"};
}

namespace {

// What one run creates in out_dir, removed again unless the run succeeds:
// directories only when empty, files only when they were not there before.
class CreatedFiles {
 public:
  ~CreatedFiles() {
    if (kept_) return;
    std::error_code ec;
    for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) {
      if (fs::is_directory(*it, ec)) fs::remove(*it, ec);  // only when empty: never what was there before
      else fs::remove(*it, ec);
    }
  }
  // Records the directories of `dir` (and its parents) that do not exist yet, then creates them.
  void create_directories(const fs::path& dir) {
    std::vector<fs::path> missing;
    std::error_code ec;
    for (fs::path p = dir; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) missing.push_back(p);
    fs::create_directories(dir, ec);
    if (ec) throw InputError(dir.string() + ": cannot create the output directory: " + ec.message());
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) paths_.push_back(*it);
  }
  // A file about to be written; one that exists already (an earlier run's) is not this run's to remove.
  void add(const fs::path& file) {
    std::error_code ec;
    if (!fs::exists(file, ec)) paths_.push_back(file);
  }
  void keep() { kept_ = true; }

 private:
  std::vector<fs::path> paths_;  // in creation order
  bool kept_ = false;
};

}  // namespace

std::string VariantSpec::label() const {
  return method == QuantMethod::Rtn ? type : type + "+" + quant_method_name(method);
}

VariantSpec parse_variant_spec(const std::string& entry) {
  VariantSpec v;
  const size_t plus = entry.find('+');
  const FileTypeInfo& ft = parse_file_type(entry.substr(0, plus));
  v.type = ft.name;
  if (plus != std::string::npos) {
    const std::string m = entry.substr(plus + 1);
    if (m != "gptq" && m != "awq")
      throw InputError("--types " + entry + ": unknown method '" + m + "' (TYPE+gptq or TYPE+awq)");
    v.method = parse_quant_method(m);
    CalibratedOptions o;
    o.method = v.method;
    try {
      check_calibrated_options(o, ft.base);
    } catch (const InputError& e) {
      throw InputError("--types " + entry + ": " + e.what());
    }
  }
  return v;
}

std::vector<VariantResult> run_optimize(const OptimizeParams& p, const OptimizeProgress& on_stage) {
  if (p.types.empty()) throw InputError("--types: no quantization types given");
  std::vector<VariantSpec> specs;
  bool calibrated = false;
  for (const std::string& t : p.types) {  // fail before any work
    specs.push_back(parse_variant_spec(t));
    calibrated |= specs.back().method != QuantMethod::Rtn;
  }
  const std::string base_type = dominant_type_name(*load_model(p.model_path));
  if (base_type != "F32" && base_type != "F16" && base_type != "BF16")
    throw InputError(p.model_path + ": the model is " + base_type +
                     "; optimize needs an unquantized (F32/F16/BF16) model as its baseline");
  CreatedFiles created;
  created.create_directories(fs::path(p.out_dir) / "models");

  const int n_stages = int(p.types.size()) + 1;
  MeasureParams mp;
  mp.threads = p.threads;
  mp.n_prompt = p.n_prompt;
  mp.n_gen = p.n_gen;
  mp.reps = p.reps;
  mp.eval_text = p.eval_text;
  if (calibrated) {
    // Calibrate on the text's first part, measure every variant on the rest.
    const fs::path heldout = fs::path(p.out_dir) / "heldout.txt";
    std::string text;
    {
      std::ifstream in(p.eval_text, std::ios::binary);
      if (!in) throw InputError(p.eval_text + ": cannot read the evaluation text");
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    created.add(heldout);
    write_file_atomically(heldout.string(), split_eval_text(text).evaluation);
    mp.eval_text = heldout.string();
  }
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
  created.add(mp.base_logits);
  results.push_back(measure_variant(mp));
  mp.baseline = false;
  mp.base_ppl = results.back().ppl;

  const std::string stem = fs::path(p.model_path).stem().string();
  for (size_t i = 0; i < specs.size(); ++i) {
    const VariantSpec& v = specs[i];
    if (on_stage) on_stage(int(i) + 1, n_stages, v.label());
    QuantizeParams qp;
    qp.input = p.model_path;
    const std::string suffix = v.method == QuantMethod::Rtn ? "" : std::string("-") + quant_method_name(v.method);
    qp.output = (fs::path(p.out_dir) / "models" / (stem + "-" + v.type + suffix + ".gguf")).string();
    qp.type = v.type;
    qp.threads = p.threads;
    qp.calibrated.method = v.method;
    qp.calibrated.calib = p.calib;
    qp.calibrated.default_text = p.eval_text;
    created.add(qp.output);
    const QuantizeSummary qs = quantize_model(qp);
    mp.model_path = qp.output;
    mp.label = v.label();
    mp.file_type = v.type;
    VariantResult r = measure_variant(mp);
    r.quantize_seconds = qs.seconds;
    results.push_back(r);
  }
  created.keep();
  return results;
}

OptimizeOutputs run_optimize_job(const OptimizeParams& p, ResultStore* store, const OptimizeProgress& on_stage) {
  OptimizeOutputs out;
  out.variants = run_optimize(p, on_stage);
  out.results_json = (fs::path(p.out_dir) / "results.json").string();
  write_file_atomically(out.results_json, nlohmann::json(out.variants).dump(2) + "\n");
  for (const VariantResult& v : out.variants) out.runs.push_back(optimize_run(v, p));
  if (store) {
    std::vector<int64_t> ids;
    for (const RunRecord& r : out.runs) ids.push_back(store->record_run(r));
    out.runs = store->list(ids);  // as stored: ids, hashes, times
  } else {
    for (size_t i = 0; i < out.runs.size(); ++i) out.runs[i].id = int64_t(i) + 1;
  }
  report::ReportOptions ro;
  ro.title = "qinfer optimize: " + fs::path(p.model_path).filename().string();
  ro.price_per_hour = p.price_per_hour;
  out.report = report::write_report(out.runs, ro, (fs::path(p.out_dir) / "report").string());
  return out;
}

}  // namespace qinfer
