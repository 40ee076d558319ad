// qinfer convert: Hugging Face checkpoint directory → GGUF (convert_hf_to_gguf.py's output).
#include <cstdio>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/convert/convert.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer::cli {

void define_convert(CLI::App& cmd) {
  auto p = std::make_shared<ConvertParams>();
  auto quiet = std::make_shared<bool>(false);
  cmd.add_option("model_dir", p->input_dir, "Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer)")
      ->required();
  cmd.add_option("-o,--outfile,--output", p->output, "output GGUF file")->required();
  cmd.add_option("--outtype", p->outtype, "f32, f16, bf16 or q8_0 (norms and 1-D tensors stay f32)")
      ->default_val("f16");
  cmd.add_option("--name", p->name, "general.name (default: the directory name)");
  cmd.add_flag("-q,--quiet", *quiet, "no per-tensor lines");
  cmd.callback([p, quiet] {
    auto progress = [quiet](const ConvertProgress& pr) {
      if (*quiet) return;
      std::fprintf(stderr, "[%4d/%4d] %-28s %-4s -> %-4s %s\n", pr.index + 1, pr.count, pr.name.c_str(),
                   pr.src_dtype.c_str(), type_info(pr.type).name, pr.shape.c_str());
    };
    const ConvertSummary s = convert_hf(*p, progress);
    std::printf("%s -> %s: %s, %d tensors, vocab %s (pre %s, %d tokens), %llu bytes\n", p->input_dir.c_str(),
                p->output.c_str(), s.arch.c_str(), s.n_tensors, s.vocab.c_str(), s.pre.c_str(), s.n_vocab,
                (unsigned long long)s.file_bytes);
  });
}

}  // namespace qinfer::cli
