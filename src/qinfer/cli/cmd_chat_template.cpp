// qinfer chat-template render: a chat template applied to messages, printed
// byte for byte (no newline added) — the renderer `run --chat` and the server use.
#include <cstdio>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/core/error.h"
#include "qinfer/core/read_file.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/runtime/chat_template.h"
#include "qinfer/tokenizer/tokenizer.h"

namespace qinfer::cli {

namespace {

struct RenderArgs {
  std::string template_file;
  std::string model;
  std::string messages_file;
  std::string tools_file;
  bool add_generation_prompt = false;
  std::string bos, eos;
  bool bos_set = false, eos_set = false;
  std::vector<std::string> vars;  // KEY=JSON
};

nlohmann::ordered_json read_json(const std::string& path, const char* what) {
  const std::string text = read_whole_file(path);
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    std::string why = e.what();
    if (const size_t p = why.find("] "); p != std::string::npos) why = why.substr(p + 2);
    throw InputError(path + ": " + what + " is not valid JSON: " + why);
  }
}

void render(const RenderArgs& a) {
  if (a.template_file.empty() == a.model.empty())
    throw InputError("chat-template render: give either a TEMPLATE file or -m MODEL.gguf");
  std::string source;
  ChatTokens tokens;
  if (!a.model.empty()) {
    // The vocabulary is enough: no weights are read.
    auto gguf = GgufFile::open(a.model);
    Tokenizer tok(vocab_from_gguf(*gguf));
    source = tok.vocab().chat_template;
    if (source.empty()) throw InputError(a.model + ": no tokenizer.chat_template in this model");
    tokens = chat_tokens(tok);
  } else {
    source = read_whole_file(a.template_file);
  }
  if (a.bos_set) tokens.bos = a.bos;
  if (a.eos_set) tokens.eos = a.eos;

  // MSGS.json: a list of messages, or an object such as an OpenAI chat request
  // whose "messages" are the messages and whose other members ("tools", ...) are variables.
  ChatInput in;
  in.add_generation_prompt = a.add_generation_prompt;
  const nlohmann::ordered_json doc = read_json(a.messages_file, "the messages file");
  if (doc.is_array()) {
    in.messages = doc;
  } else if (doc.is_object() && doc.contains("messages")) {
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      if (it.key() == "messages") in.messages = it.value();
      else if (it.key() == "tools") in.tools = it.value();
      else if (it.key() == "documents") in.documents = it.value();
      else if (it.key() == "add_generation_prompt" && it.value().is_boolean())
        in.add_generation_prompt = in.add_generation_prompt || it.value().get<bool>();
      else in.extra[it.key()] = it.value();
    }
  } else {
    throw InputError(a.messages_file + ": expected a JSON list of messages, or an object with \"messages\"");
  }
  if (!in.messages.is_array()) throw InputError(a.messages_file + ": \"messages\" must be a list");
  if (!a.tools_file.empty()) in.tools = read_json(a.tools_file, "the tools file");
  for (const std::string& kv : a.vars) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw InputError("--var " + kv + ": expected NAME=JSON");
    try {
      in.extra[kv.substr(0, eq)] = nlohmann::ordered_json::parse(kv.substr(eq + 1));
    } catch (const nlohmann::json::exception&) {
      throw InputError("--var " + kv + ": the value is not JSON (quote strings: NAME='\"text\"')");
    }
  }

  const ChatTemplate t(source, tokens);
  const std::string out = t.render(in);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (std::ferror(stdout)) throw Error("cannot write to standard output");
}

}  // namespace

void define_chat_template(CLI::App& cmd) {
  cmd.require_subcommand(1);
  auto a = std::make_shared<RenderArgs>();
  CLI::App* r = cmd.add_subcommand("render", "print a chat template's rendering of messages, byte for byte");
  r->add_option("template", a->template_file, "Jinja chat template file");
  r->add_option("-m,--model", a->model, "use this GGUF's tokenizer.chat_template and its BOS/EOS tokens");
  r->add_option("--messages", a->messages_file, "JSON: a list of messages, or an object with \"messages\" (e.g. an OpenAI chat request)")
      ->required();
  r->add_flag("--add-generation-prompt", a->add_generation_prompt, "end with the opening of the assistant's turn");
  r->add_option("--bos-token", a->bos, "bos_token's text (default: the model's, else empty)")->each([a](const std::string&) { a->bos_set = true; });
  r->add_option("--eos-token", a->eos, "eos_token's text (default: the model's, else empty)")->each([a](const std::string&) { a->eos_set = true; });
  r->add_option("--tools", a->tools_file, "JSON list of tools (the template's `tools`)");
  r->add_option("--var", a->vars, "another template variable, NAME=JSON (e.g. enable_thinking=false)");
  r->callback([a] { render(*a); });
}

}  // namespace qinfer::cli
