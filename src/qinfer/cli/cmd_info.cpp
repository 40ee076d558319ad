// qinfer info: what is in a model file.
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/core/error.h"
#include "qinfer/core/format.h"
#include "qinfer/core/mapped_file.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/runtime/chat_template.h"

namespace qinfer::cli {

namespace {

struct InfoArgs {
  ModelArgs model;
  bool no_tensors = false;
};

void print_config(const Model& m) {
  const ModelConfig& c = m.config;
  std::printf("model:\n");
  std::printf("  architecture:     %s%s\n", c.arch.c_str(), c.name.empty() ? "" : (" (" + c.name + ")").c_str());
  std::printf("  layers:           %d\n", c.n_layer);
  std::printf("  embedding:        %d\n", c.n_embd);
  std::printf("  feed-forward:     %d\n", c.n_ff);
  std::printf("  heads:            %d (KV heads %d, head size %d)\n", c.n_head, c.n_head_kv, c.head_dim);
  std::printf("  context (train):  %d\n", c.n_ctx_train);
  std::printf("  rms norm eps:     %g\n", double(c.norm_eps));
  std::printf("  rope:             %s, %d dims, base %g, scale %g\n",
              c.rope.layout == RopeLayout::Norm ? "normal" : "neox", c.rope.n_rot, double(c.rope.freq_base),
              double(c.rope.freq_scale));
  const VocabData& v = m.tokenizer->vocab();
  std::printf("tokenizer:\n");
  std::printf("  kind:             %s%s\n", v.model.c_str(), v.pre.empty() ? "" : (" (pre-tokenizer " + v.pre + ")").c_str());
  std::printf("  vocabulary:       %d tokens (BOS %d, EOS %d)\n", m.tokenizer->n_vocab(), m.tokenizer->bos(), m.tokenizer->eos());
  std::printf("  chat template:    %s\n",
              v.chat_template.empty() ? "none (run --chat falls back to a built-in format or plain text)"
                                      : describe_chat_template(v.chat_template, chat_tokens(*m.tokenizer)).c_str());
}

struct Row {
  std::string name, type, shape;
  uint64_t bytes;
  int64_t elements;
};

void print_tensors(const std::vector<Row>& rows) {
  size_t w = 4;
  for (const Row& r : rows) w = std::max(w, r.name.size());
  std::printf("tensors:\n  %-*s  %-6s  %-20s  %12s\n", int(w), "name", "type", "shape", "bytes");
  for (const Row& r : rows)
    std::printf("  %-*s  %-6s  %-20s  %12llu\n", int(w), r.name.c_str(), r.type.c_str(), r.shape.c_str(),
                (unsigned long long)r.bytes);
}

void print_totals(const std::vector<Row>& rows, uint64_t file_size) {
  uint64_t bytes = 0;
  int64_t elems = 0;
  std::map<std::string, int> by_type;
  for (const Row& r : rows) {
    bytes += r.bytes;
    elems += r.elements;
    by_type[r.type]++;
  }
  std::printf("totals:\n  tensors:          %zu (", rows.size());
  bool first = true;
  for (const auto& [t, n] : by_type) {
    std::printf("%s%d %s", first ? "" : ", ", n, t.c_str());
    first = false;
  }
  std::printf(")\n  parameters:       %lld (%.2f M)\n", (long long)elems, elems / 1e6);
  std::printf("  tensor bytes:     %llu (%s)\n", (unsigned long long)bytes, format_bytes(double(bytes)).c_str());
  std::printf("  bits per weight:  %.2f\n", elems ? bytes * 8.0 / double(elems) : 0.0);
  std::printf("  file size:        %llu (%s)\n", (unsigned long long)file_size, format_bytes(double(file_size)).c_str());
}

void info(const InfoArgs& a) {
  ModelArgs ma = a.model;
  ma.model = model_path_from_args(a.model);
  const std::string& path = ma.model;
  MappedFile probe(path);
  const bool is_gguf = probe.size() >= 4 && std::memcmp(probe.data(), "GGUF", 4) == 0;
  std::vector<Row> rows;
  // Everything that can fail is read before the first line is printed.
  if (is_gguf) {
    auto f = GgufFile::open(path);
    std::string own;
    for (const GgufTensorInfo& t : f->tensors())
      if (is_qinfer_only(t.type) && own.find(type_info(t.type).name) == std::string::npos)
        own += std::string(own.empty() ? "" : ", ") + type_info(t.type).name;
    std::printf("file: %s\n", path.c_str());
    std::printf("format: GGUF v%u, alignment %u, %zu metadata keys, %zu tensors%s\n", f->version(), f->alignment(),
                f->metadata().size(), f->tensors().size(), own.empty() ? "" : ", qinfer-only");
    if (!own.empty())
      std::printf("qinfer-only: tensor types %s are qinfer's own (bitsandbytes / LLM.int8 formats); llama.cpp "
                  "will not load this file\n", own.c_str());
    std::printf("metadata:\n");
    for (const auto& [key, value] : f->metadata()) std::printf("  %-40s = %s\n", key.c_str(), value.to_display().c_str());
    for (const GgufTensorInfo& t : f->tensors())
      rows.push_back({t.name, type_info(t.type).name, t.shape_string(), t.nbytes, t.n_elements()});
    try {
      LoadOptions opt;
      auto m = load_model(path, opt);
      print_config(*m);
    } catch (const Error& e) {
      std::printf("model: cannot run this file: %s\n", e.what());
    }
  } else {
    auto m = load_model_from_args(ma);
    std::printf("file: %s\n", path.c_str());
    std::printf("format: llama2.c checkpoint (float32)\n");
    print_config(*m);
    for (const Tensor& t : m->tensors) rows.push_back({t.name, type_info(t.type).name, t.shape_string(), t.nbytes, t.n_elements()});
  }
  if (!a.no_tensors) print_tensors(rows);
  print_totals(rows, probe.size());
}

}  // namespace

void define_info(CLI::App& cmd) {
  auto a = std::make_shared<InfoArgs>();
  add_model_args(cmd, a->model, true);
  cmd.add_flag("--no-tensors", a->no_tensors, "omit the per-tensor table");
  cmd.callback([a] { info(*a); });
}

}  // namespace qinfer::cli
