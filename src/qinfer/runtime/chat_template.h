// Chat prompts as the model's authors wrote them: the GGUF's Jinja
// tokenizer.chat_template (or a template file) rendered with Hugging Face
// transformers' semantics, and the BOS/EOS handling of llama.cpp's server.
// A GGUF without a template falls back to a built-in format whose special
// tokens the vocabulary has, or to plain text continuation.
//
// What the server calls:
//   ChatTemplate t(source, chat_tokens(tokenizer));
//   ChatInput in;  in.messages = request["messages"];  in.tools = request["tools"];
//   std::string prompt = t.apply(in);          // then tokenizer.encode(prompt, true, true)
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qinfer/runtime/chat_formats.h"

namespace qinfer {

class Tokenizer;
namespace jinja {
class Template;
struct RenderOptions;
}  // namespace jinja

// apply_chat_template's arguments: OpenAI-style messages (content may be a
// string or a list of parts; tool_calls, tool_call_id, ... pass through),
// the tools and documents lists (null when absent, as transformers passes
// them) and any further variables (enable_thinking, reasoning_effort, ...).
struct ChatInput {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  bool add_generation_prompt = true;
  nlohmann::ordered_json tools;      // null or a list
  nlohmann::ordered_json documents;  // null or a list
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};
nlohmann::ordered_json messages_to_json(const std::vector<ChatMessage>& messages);

// The special tokens a template sees, and whether the tokenizer adds them itself.
struct ChatTokens {
  std::string bos, eos;  // token texts ("" when the vocabulary has none)
  bool add_bos = false, add_eos = false;
};
ChatTokens chat_tokens(const Tokenizer& tokenizer);

class ChatTemplate {
 public:
  // Throws InputError "chat template: <why> (template line N)" when it does not parse.
  ChatTemplate(std::string source, ChatTokens tokens);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // The template's output, byte for byte. Throws InputError ("chat template: ...")
  // when rendering fails, e.g. the template's raise_exception().
  std::string render(const ChatInput& in) const;
  std::string render(const ChatInput& in, const jinja::RenderOptions& options) const;
  // The prompt to tokenize (with add_special): render() without a leading BOS
  // text the tokenizer adds anyway, nor a trailing EOS text it appends, as
  // llama.cpp's server does, so the prompt never starts with two BOS.
  std::string apply(const ChatInput& in) const;

  const std::string& source() const { return source_; }
  const ChatTokens& tokens() const { return tokens_; }

 private:
  std::string source_;
  ChatTokens tokens_;
  std::unique_ptr<jinja::Template> tmpl_;
};

// How a model's chat prompts are built (run --chat, bench), and why.
struct ChatPlan {
  enum class Kind { Template, BuiltIn, PlainText };
  Kind kind = Kind::PlainText;
  std::shared_ptr<const ChatTemplate> tmpl;  // Kind::Template
  ChatFormat format = ChatFormat::ChatML;     // Kind::BuiltIn
  ChatTokens tokens;
  std::string reason;  // one line for the user: what was chosen and why
};
// The model's template, or template_override (e.g. from --chat-template FILE,
// `origin` naming it in messages) when not empty; without either, the first
// built-in format whose special tokens the vocabulary has; else plain text.
ChatPlan plan_chat(const Tokenizer& tokenizer, const std::string& template_override = "",
                   const std::string& origin = "");
// The prompt text for the plan (tokenize it with add_special; with
// parse_special unless the plan is plain text).
std::string apply_chat(const ChatPlan& plan, const ChatInput& in);

// What `info` says about a template: its family if recognised, size, first
// line, and whether it renders a system + user conversation (or why not).
std::string describe_chat_template(const std::string& source, const ChatTokens& tokens);

}  // namespace qinfer
