// Options shared by every command that loads a model, and where the default
// model (stories260K) is found.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "qinfer/model/model.h"

namespace qinfer::cli {

struct ModelArgs {
  std::string model;
  std::string tokenizer;
  int threads = 0;
  std::string load_in;  // --load-in 4bit|8bit (commands that add it)
  bool no_repack = false;  // --no-repack: run on the file's rows as they are
};

void add_model_args(CLI::App& cmd, ModelArgs& args, bool positional = false);
// --load-in 4bit|8bit: quantize the linear layers to NF4 / INT8 while loading.
void add_load_in_arg(CLI::App& cmd, ModelArgs& args);

// -t/--threads for every command (core/threads.h's rule): 0 or absent is the
// physical cores; a value above the machine's hardware threads is capped, with
// a one-line notice on stderr. The list form (bench) takes comma-separated counts.
CLI::Option* add_threads_option(CLI::App& cmd, int& threads, const std::string& names = "-t,--threads");
CLI::Option* add_threads_option(CLI::App& cmd, std::vector<int>& threads);

// The default model: $QINFER_MODEL, else stories260K from the shared data
// directory ($QINFER_SHARED_DATA, or ../shared/data beside the checkout), else
// the verified download cache (~/.cache/qinfer). Throws InputError when none.
std::string default_model_path();
// Text file beside the default model used for evaluation (may be empty).
std::string default_eval_text();

// -m as given; without it the default model, said on stderr (one line).
std::string model_path_from_args(const ModelArgs& args);
// A text file flag as given; without it the default evaluation text, said on
// stderr. "" when there is none.
std::string text_path_or_default(const std::string& given, const char* flag);

std::unique_ptr<Model> load_model_from_args(const ModelArgs& args);
// The tokenizer alone (vocabulary-only GGUFs, any architecture).
std::unique_ptr<Tokenizer> load_tokenizer_from_args(const ModelArgs& args);

}  // namespace qinfer::cli
