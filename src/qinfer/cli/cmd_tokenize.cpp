// qinfer tokenize: text → token ids (and pieces).
#include <cstdio>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/core/read_file.h"

namespace qinfer::cli {

namespace {

struct TokenizeArgs {
  ModelArgs model;
  std::string prompt;
  std::string file;
  bool ids = false;
  bool no_special = false;
  bool parse_special = false;
};

// Only the vocabulary is read, so vocabulary-only GGUFs and architectures the
// engine cannot run tokenize as with llama-tokenize.
void tokenize(const TokenizeArgs& a) {
  const auto tokenizer = load_tokenizer_from_args(a.model);
  const Tokenizer& tok = *tokenizer;
  const std::string text = a.file.empty() ? a.prompt : read_whole_file(a.file);
  const std::vector<int32_t> ids = tok.encode(text, !a.no_special, a.parse_special);
  if (a.ids) {
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
    return;
  }
  for (int32_t id : ids) std::printf("%6d -> '%s'\n", id, tok.token_to_piece(id, true).c_str());
  std::printf("%zu tokens\n", ids.size());
}

}  // namespace

void define_tokenize(CLI::App& cmd) {
  auto a = std::make_shared<TokenizeArgs>();
  add_model_args(cmd, a->model);
  auto* src = cmd.add_option_group("input");
  src->add_option("-p,--prompt", a->prompt, "text to tokenize");
  src->add_option("-f,--file", a->file, "file to tokenize");
  src->require_option(1);
  cmd.add_flag("--ids", a->ids, "print only the ids, space-separated on one line");
  cmd.add_flag("--no-special", a->no_special, "add no BOS/EOS tokens");
  cmd.add_flag("--parse-special", a->parse_special, "recognise special token texts such as <s>");
  cmd.callback([a] { tokenize(*a); });
}

}  // namespace qinfer::cli
