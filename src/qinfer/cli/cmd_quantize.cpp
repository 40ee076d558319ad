// qinfer quantize: llama-quantize's command line, types and bytes.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/core/error.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/model/file_types.h"
#include "qinfer/quantize/quantize_model.h"

namespace qinfer::cli {

namespace {

struct QuantizeArgs {
  QuantizeParams p;
  int positional_threads = 0;
  std::string output_type, token_embd_type;
  bool keep_output_f16 = false;
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

void quantize_cmd(QuantizeArgs& a) {
  if (a.p.threads == 0) a.p.threads = a.positional_threads;
  if (!a.output_type.empty()) a.p.output_type = parse_tensor_type("--output-tensor-type", a.output_type);
  if (a.keep_output_f16) {
    if (a.p.output_type && *a.p.output_type != TypeId::F16)
      throw InputError("--keep-output-f16 contradicts --output-tensor-type " + a.output_type);
    a.p.output_type = TypeId::F16;
  }
  if (!a.token_embd_type.empty()) a.p.token_embd_type = parse_tensor_type("--token-embedding-type", a.token_embd_type);
  parse_file_type(a.p.type);  // fail on a bad type before touching any file
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  QuantizeSummary s = quantize_model(a.p, [tty](const QuantizeProgress& pr) { print_progress(pr, tty); });
  if (s.n_fallback > 0)
    std::fprintf(stderr, "%d of %zu tensors needed a fallback type (row length not a multiple of the block)\n",
                 s.n_fallback, s.tensors.size());
  std::printf("%s -> %s (%s)\n", a.p.input.c_str(), a.p.output.c_str(), a.p.type.c_str());
  std::printf("input size : %10.2f MiB (tensor data)\n", mib(s.input_bytes));
  std::printf("output size: %10.2f MiB (tensor data), file %llu bytes\n", mib(s.output_bytes),
              (unsigned long long)s.output_file_bytes);
  std::printf("parameters : %lld, %.2f bits per weight\n", (long long)s.n_params, s.bits_per_weight());
  std::printf("time       : %.2f s\n", s.seconds);
}

}  // namespace

void define_quantize(CLI::App& cmd) {
  auto a = std::make_shared<QuantizeArgs>();
  cmd.add_option("input", a->p.input, "input GGUF (F32, F16, BF16; quantized with --allow-requantize)")->required();
  cmd.add_option("output", a->p.output, "output GGUF")->required();
  cmd.add_option("type", a->p.type, "target: " + file_type_names() + " (Q3_K/Q4_K/Q5_K = the _M mixes)")->required();
  add_threads_option(cmd, a->positional_threads, "nthreads")->description("threads (as llama-quantize's last argument)");
  add_threads_option(cmd, a->p.threads);
  cmd.add_option("--imatrix", a->p.imatrix, "llama.cpp importance matrix (imatrix.dat)");
  cmd.add_flag("--leave-output-tensor", a->p.leave_output_tensor, "keep output.weight unquantized");
  cmd.add_option("--output-tensor-type", a->output_type, "type of output.weight (e.g. q8_0, f16)");
  cmd.add_option("--token-embedding-type", a->token_embd_type, "type of token_embd.weight");
  cmd.add_flag("--keep-output-f16", a->keep_output_f16, "store output.weight as F16 (= --output-tensor-type f16)");
  cmd.add_flag("--pure", a->p.pure, "no mixture rules: every weight gets the base type");
  cmd.add_flag("--allow-requantize", a->p.allow_requantize, "accept quantized input (dequantized, then quantized)");
  cmd.callback([a] { quantize_cmd(*a); });
}

}  // namespace qinfer::cli
