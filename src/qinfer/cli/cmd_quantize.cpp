// qinfer quantize: llama-quantize's command line, types and bytes.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/core/error.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/model/file_types.h"
#include "qinfer/quantize/hf_export.h"
#include "qinfer/quantize/quantize_model.h"

namespace qinfer::cli {

namespace {

struct QuantizeArgs {
  QuantizeParams p;
  std::string method;
  bool double_quant = false;
  int block_size = 0;
  float threshold = -1;
  int positional_threads = 0;
  std::string output_type, token_embd_type;
  bool keep_output_f16 = false;
  std::vector<std::string> export_to;  // {"hf", DIR}
  int bits = 4;
  bool sym = false;
};

// A single tensor type for --output-tensor-type / --token-embedding-type.
TypeId parse_tensor_type(const std::string& flag, const std::string& name) {
  const TypeInfo* info = find_type(name);
  if (info && info->quantize) return info->id;
  std::string valid;
  size_t n = 0;
  const TypeInfo* const* all = all_types(&n);
  for (size_t i = 0; i < n; ++i)
    if (all[i]->quantize) {
      if (!valid.empty()) valid += ' ';
      valid += all[i]->name;
    }
  throw InputError(flag + ": unknown tensor type '" + name + "'; valid: " + valid);
}

double mib(uint64_t b) { return double(b) / (1024.0 * 1024.0); }

void print_progress(const QuantizeProgress& pr, bool tty) {
  const QuantizedTensor& t = *pr.tensor;
  const double mbs = pr.seconds > 0 ? double(t.bytes_in) / 1e6 / pr.seconds : 0.0;
  const bool last = pr.index + 1 == pr.count;
  std::fprintf(stderr, "%s[%4d/%4d] %-32s %6s -> %-6s %9.3f -> %8.3f MiB %8.1f MB/s%s%s%s",
               tty ? "\r\033[K" : "", pr.index + 1, pr.count, t.name.c_str(), type_info(t.from).name,
               type_info(t.to).name, mib(t.bytes_in), mib(t.bytes_out), mbs, pr.note.empty() ? "" : "  (",
               pr.note.c_str(), pr.note.empty() ? "" : ")");
  // On a terminal the line is overwritten unless it carries a note.
  if (!tty || last || !pr.note.empty()) std::fputc('\n', stderr);
  std::fflush(stderr);
}

// One line, redrawn in place on a terminal: bar, percent, stage, ETA.
class CalibrationBar {
 public:
  explicit CalibrationBar(bool tty) : tty_(tty), t0_(std::chrono::steady_clock::now()) {}
  void operator()(const CalibrationProgress& p) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const double f = p.total > 0 ? double(p.done) / double(p.total) : 0.0;
    const bool end = p.done >= p.total;
    // Off a terminal: one line per stage and at the end, not per window.
    if (!tty_ && p.stage == last_stage_ && !end) return;
    if (!tty_ && end && printed_end_) return;
    last_stage_ = p.stage;
    printed_end_ = end;
    char eta[32] = "";
    if (p.done > 0 && !end) std::snprintf(eta, sizeof eta, " ETA %.0fs", s * (1 - f) / f);
    const int width = 30, fill = int(f * width + 0.5);
    std::fprintf(stderr, "%scalibrating [%s%s] %3.0f%% %-40s %.0fs%s%s", tty_ ? "\r\033[K" : "",
                 std::string(size_t(fill), '#').c_str(), std::string(size_t(width - fill), '.').c_str(), 100 * f,
                 p.stage.c_str(), s, eta, tty_ && !end ? "" : "\n");
    std::fflush(stderr);
  }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point t0_;
  std::string last_stage_;
  bool printed_end_ = false;
};

// --method nf4|fp4|int8 name qinfer's own tensor types rather than a way of
// rounding: they set TYPE (which may then be omitted) instead of the method.
void resolve_type_method(QuantizeArgs& a) {
  std::string own = a.method == "nf4" ? "NF4" : a.method == "fp4" ? "FP4" : a.method == "int8" ? "INT8" : "";
  if (!own.empty()) {
    const FileTypeInfo* given = a.p.type.empty() ? nullptr : find_file_type(a.p.type);
    const bool same = given && (std::string(given->name) == own || std::string(given->name) == own + "_DQ");
    if (!a.p.type.empty() && !same)
      throw InputError("--method " + a.method + " writes " + own + " tensors, but TYPE is " + a.p.type +
                       " (give TYPE " + own + " or leave it out)");
    if (a.p.type.empty()) a.p.type = own;
    a.method.clear();
  }
  if (a.p.type.empty()) throw InputError("TYPE is required (e.g. Q4_K_M), unless --method is nf4, fp4 or int8");
  const FileTypeInfo& ft = parse_file_type(a.p.type);
  const bool bnb4 = ft.base == TypeId::NF4 || ft.base == TypeId::FP4 || ft.base == TypeId::NF4_DQ || ft.base == TypeId::FP4_DQ ||
                    ft.base == TypeId::INT4;
  if (a.double_quant) {
    if (ft.base != TypeId::NF4 && ft.base != TypeId::FP4 && ft.base != TypeId::NF4_DQ && ft.base != TypeId::FP4_DQ)
      throw InputError("--double-quant applies to NF4 and FP4, not " + std::string(ft.name));
    if (ft.base == TypeId::NF4) a.p.type = "NF4_DQ";
    if (ft.base == TypeId::FP4) a.p.type = "FP4_DQ";
  }
  if (a.block_size != 0) {
    if (!bnb4) throw InputError("--block-size applies to NF4, FP4 and INT4; " + std::string(ft.name) + "'s block is fixed");
    if (a.block_size != 64)
      throw InputError("--block-size " + std::to_string(a.block_size) +
                       ": qinfer's NF4/FP4/INT4 blocks hold 64 weights (bitsandbytes' default); other sizes are not supported");
  }
  if (a.threshold >= 0) {
    if (ft.base != TypeId::INT8) throw InputError("--threshold applies to INT8 (LLM.int8's outlier threshold)");
    a.p.int8_threshold = a.threshold;
  }
}

// --export hf DIR: the Hugging Face layout of --method, instead of a GGUF.
void export_cmd(QuantizeArgs& a) {
  if (a.export_to.size() != 2 || a.export_to[0] != "hf")
    throw InputError("--export: give 'hf DIR' (the only export format is Hugging Face's)");
  if (!a.p.output.empty() || !a.p.type.empty())
    throw InputError("--export hf writes a directory in the layout --method names; OUTPUT and TYPE do not apply");
  if (a.method.empty()) throw InputError("--export hf needs --method gptq, awq, nf4 or fp4");
  HfExportOptions o;
  o.input = a.p.input;
  o.dir = a.export_to[1];
  o.format = parse_hf_format(a.method);
  o.bits = a.bits;
  o.sym = a.sym;
  o.double_quant = a.double_quant;
  o.calibrated = a.p.calibrated;
  o.group = a.p.calibrated.group_size > 0 ? a.p.calibrated.group_size : 128;
  o.calibrated.group_size = 0;
  o.threads = a.p.threads ? a.p.threads : a.positional_threads;
  if (o.format == HfFormat::Gptq && o.calibrated.calib.file.empty()) o.calibrated.default_text = default_eval_text();
  const auto t0 = std::chrono::steady_clock::now();
  CalibrationBar bar(::isatty(STDERR_FILENO) == 1);
  const HfExportSummary s = export_hf(o, [&bar](const CalibrationProgress& p) { bar(p); });
  for (const std::string& n : s.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  for (const std::string& n : s.skipped) std::fprintf(stderr, "left fp16: %s\n", n.c_str());
  std::printf("%s -> %s/ (Hugging Face %s", o.input.c_str(), o.dir.c_str(), hf_format_name(o.format));
  if (o.format == HfFormat::Gptq || o.format == HfFormat::Awq)
    std::printf(", %d bits, group %lld%s)\n", o.bits, (long long)o.group, o.sym ? ", sym" : "");
  else
    std::printf(", block 64%s)\n", o.double_quant ? ", double quant" : "");
  if (o.format == HfFormat::Awq)
    std::printf("note       : round-to-nearest onto AWQ's grid (the AWQ scale search is not applied to this layout yet)\n");
  std::string files;
  for (const std::string& f : s.files) files += (files.empty() ? "" : ", ") + f;
  std::printf("files      : %s (no tokenizer: copy it from the original checkpoint)\n", files.c_str());
  std::printf("quantized  : %d linear weights, %zu left fp16; model.safetensors %llu bytes\n", s.n_quantized,
              s.skipped.size(), (unsigned long long)s.bytes);
  if (!s.calibration.empty()) std::printf("calibration: %s\n", s.calibration.c_str());
  std::printf("time       : %.2f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void quantize_cmd(QuantizeArgs& a) {
  if (!a.export_to.empty()) return export_cmd(a);
  if (a.p.output.empty()) throw InputError("OUTPUT is required (or --export hf DIR)");
  resolve_type_method(a);
  a.p.calibrated.method = parse_quant_method(a.method);
  if (a.p.calibrated.method != QuantMethod::Rtn && a.p.calibrated.calib.file.empty())
    a.p.calibrated.default_text = default_eval_text();
  if (a.p.threads == 0) a.p.threads = a.positional_threads;
  if (!a.output_type.empty()) a.p.output_type = parse_tensor_type("--output-tensor-type", a.output_type);
  if (a.keep_output_f16) {
    if (a.p.output_type && *a.p.output_type != TypeId::F16)
      throw InputError("--keep-output-f16 contradicts --output-tensor-type " + a.output_type);
    a.p.output_type = TypeId::F16;
  }
  if (!a.token_embd_type.empty()) a.p.token_embd_type = parse_tensor_type("--token-embedding-type", a.token_embd_type);
  const FileTypeInfo& ft = parse_file_type(a.p.type);  // fail on a bad type before touching any file
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  CalibrationBar bar(tty);
  QuantizeSummary s = quantize_model(
      a.p, [tty](const QuantizeProgress& pr) { print_progress(pr, tty); },
      [&bar](const CalibrationProgress& p) { bar(p); });
  for (const std::string& n : s.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  if (s.n_fallback > 0)
    std::fprintf(stderr, "%d of %zu tensors needed a fallback type (row length not a multiple of the block)\n",
                 s.n_fallback, s.tensors.size());
  std::printf("%s -> %s (%s)\n", a.p.input.c_str(), a.p.output.c_str(), a.p.type.c_str());
  if (is_qinfer_only(ft.base))
    std::printf("note       : %s is a qinfer-only tensor type; llama.cpp will not load this file\n", ft.name);
  std::printf("input size : %10.2f MiB (tensor data)\n", mib(s.input_bytes));
  std::printf("output size: %10.2f MiB (tensor data), file %llu bytes\n", mib(s.output_bytes),
              (unsigned long long)s.output_file_bytes);
  std::printf("parameters : %lld, %.2f bits per weight\n", (long long)s.n_params, s.bits_per_weight());
  if (!s.calibration.empty()) {
    std::printf("method     : %s, %d tensors calibrated\n", quant_method_name(a.p.calibrated.method), s.n_calibrated);
    std::printf("calibration: %s\n", s.calibration.c_str());
  }
  std::printf("time       : %.2f s\n", s.seconds);
}

}  // namespace

void define_quantize(CLI::App& cmd) {
  auto a = std::make_shared<QuantizeArgs>();
  cmd.add_option("input", a->p.input, "input GGUF (F32, F16, BF16; quantized with --allow-requantize)")->required();
  cmd.add_option("output", a->p.output, "output GGUF (not with --export)");
  cmd.add_option("type", a->p.type, "target: " + file_type_names() + " (Q3_K/Q4_K/Q5_K = the _M mixes; NF4, FP4, INT4, INT8 are qinfer-only)");
  add_threads_option(cmd, a->positional_threads, "nthreads")->description("threads (as llama-quantize's last argument)");
  add_threads_option(cmd, a->p.threads);
  cmd.add_option("--imatrix", a->p.imatrix, "llama.cpp importance matrix (imatrix.dat)");
  cmd.add_flag("--leave-output-tensor", a->p.leave_output_tensor, "keep output.weight unquantized");
  cmd.add_option("--output-tensor-type", a->output_type, "type of output.weight (e.g. q8_0, f16)");
  cmd.add_option("--token-embedding-type", a->token_embd_type, "type of token_embd.weight");
  cmd.add_flag("--keep-output-f16", a->keep_output_f16, "store output.weight as F16 (= --output-tensor-type f16)");
  cmd.add_flag("--pure", a->p.pure, "no mixture rules: every weight gets the base type");
  cmd.add_flag("--allow-requantize", a->p.allow_requantize, "accept quantized input (dequantized, then quantized)");
  CalibratedOptions& c = a->p.calibrated;
  cmd.add_option("--method", a->method, "rtn (round to nearest, default), gptq or awq (calibrated; output is a standard GGUF of TYPE), or nf4, fp4, int8 (qinfer-only types)")
      ->check(CLI::IsMember({"rtn", "gptq", "awq", "nf4", "fp4", "int8"}));
  cmd.add_flag("--double-quant", a->double_quant, "NF4/FP4: quantize the block absmax values to 8 bits (bitsandbytes' double quantization)");
  cmd.add_option("--block-size", a->block_size, "NF4/FP4 block size (64)")->check(Allowed::ints(1));
  cmd.add_option("--threshold", a->threshold, "INT8: activation outlier threshold (default 6.0; 0: no outliers)")->check(Allowed::reals(0));
  cmd.add_option("--export", a->export_to, "hf DIR: write a Hugging Face checkpoint in --method's layout (gptq, awq GEMM, bitsandbytes nf4/fp4) instead of a GGUF")
      ->expected(2)->type_name("hf DIR");
  cmd.add_option("--bits", a->bits, "--export hf gptq: bits per weight (2, 4, 8)")->capture_default_str()->check(Allowed::ints(2, 8));
  cmd.add_flag("--sym", a->sym, "--export hf gptq: symmetric grid (zero at the middle code)");
  cmd.add_option("--calib", c.calib.file, "calibration text or JSONL ({\"text\": ...} per line); default: the first 10% of the evaluation text");
  cmd.add_option("--calib-samples", c.calib.n_samples, "calibration windows")->capture_default_str()->check(Allowed::ints(1, 1 << 20));
  cmd.add_option("--calib-len", c.calib.window, "tokens per calibration window")->capture_default_str()->check(Allowed::ints(2, 1 << 20));
  add_seed_option(cmd, c.calib.seed, "seed of the calibration windows");
  cmd.add_option("--damp", c.damp, "GPTQ damping, fraction of the Hessian's mean diagonal")->capture_default_str()->check(Allowed::reals(0, 1));
  cmd.add_flag("--act-order,!--no-act-order", c.act_order, "GPTQ: quantize columns by decreasing activation size (default on: free for GGUF, whose blocks keep their order)");
  cmd.add_option("--group-size", c.group_size, "GPTQ: columns whose parameters are fixed together (a multiple of the type's block; default: the block; --export hf: 128)")
      ->check(Allowed::ints(0));
  cmd.add_option("--awq-grid", c.awq_grid, "AWQ: points of the alpha grid")->capture_default_str()->check(Allowed::ints(1, 1000));
  cmd.add_flag("!--no-awq-clip", c.awq_clip, "AWQ: skip the clipping search");
  cmd.add_option("--clip-candidates", c.clip_candidates, "GPTQ: clipping candidates per group, scored by GPTQ's own loss (1: the type's choice only)")->capture_default_str()->check(Allowed::ints(1, 30));
  cmd.add_flag("--float-target", c.float_target, "GPTQ: fit each layer's output to the float model's on the same tokens (GPTAQ), so it also makes up for the layers before it");
  cmd.add_flag("--calibrate-embedding,!--no-calibrate-embedding", c.calibrate_embedding, "GPTQ: token_embd with a searched block scale and the least-squares refit (default on; off: round-to-nearest)");
  cmd.add_flag("!--no-refit", c.refit, "GPTQ/AWQ: keep the block parameters the type's quantizer chose (no least-squares refit to the codes)");
  cmd.add_flag("-v,--verbose", c.verbose, "GPTQ/AWQ: print each tensor's loss and AWQ's chosen alpha");
  cmd.add_flag("--awq-duo", c.awq_duo, "AWQ: AutoAWQ's duo scaling s = s_x^a / s_w^(1-a) instead of the paper's s = s_x^a");
  cmd.add_flag("!--no-importance", c.importance, "GPTQ/AWQ: fix block parameters with the type's plain quantizer, not its activation-weighted search");
  cmd.callback([a] { quantize_cmd(*a); });
}

}  // namespace qinfer::cli
