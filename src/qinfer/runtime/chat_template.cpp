#include "qinfer/runtime/chat_template.h"

#include "qinfer/core/error.h"
#include "qinfer/jinja/template.h"
#include "qinfer/tokenizer/tokenizer.h"

namespace qinfer {

nlohmann::ordered_json messages_to_json(const std::vector<ChatMessage>& messages) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& m : messages) out.push_back({{"role", m.role}, {"content", m.content}});
  return out;
}

ChatTokens chat_tokens(const Tokenizer& tok) {
  ChatTokens t;
  const VocabData& v = tok.vocab();
  if (v.bos >= 0 && v.bos < tok.n_vocab()) t.bos = tok.token_to_piece(v.bos, true);
  if (v.eos >= 0 && v.eos < tok.n_vocab()) t.eos = tok.token_to_piece(v.eos, true);
  t.add_bos = v.add_bos;
  t.add_eos = v.add_eos;
  return t;
}

namespace {

[[noreturn]] void rethrow_as_chat_error(const jinja::TemplateError& e) {
  std::string what = e.kind() == jinja::ErrorKind::Raised ? e.message()
                                                          : std::string(jinja::python_error_class(e.kind())) + ": " + e.message();
  if (e.line() > 0) what += " (template line " + std::to_string(e.line()) + ")";
  throw InputError("chat template: " + what);
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source, ChatTokens tokens) : source_(std::move(source)), tokens_(std::move(tokens)) {
  try {
    tmpl_ = std::make_unique<jinja::Template>(source_);
  } catch (const jinja::TemplateError& e) {
    rethrow_as_chat_error(e);
  }
}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const ChatInput& in) const { return render(in, jinja::RenderOptions{}); }

std::string ChatTemplate::render(const ChatInput& in, const jinja::RenderOptions& options) const {
  if (!in.messages.is_array()) throw InputError("chat messages must be a JSON array");
  if (!in.extra.is_null() && !in.extra.is_object()) throw InputError("extra chat template variables must be a JSON object");
  // transformers' render_jinja_template: messages, tools, documents,
  // add_generation_prompt, the tokenizer's special tokens, then extra kwargs.
  nlohmann::ordered_json vars = {{"messages", in.messages},         {"tools", in.tools},
                                 {"documents", in.documents},       {"add_generation_prompt", in.add_generation_prompt},
                                 {"bos_token", tokens_.bos},        {"eos_token", tokens_.eos}};
  if (in.extra.is_object())
    for (auto it = in.extra.begin(); it != in.extra.end(); ++it) vars[it.key()] = it.value();
  try {
    return tmpl_->render(vars, options);
  } catch (const jinja::TemplateError& e) {
    rethrow_as_chat_error(e);
  }
}

std::string ChatTemplate::apply(const ChatInput& in) const {
  std::string text = render(in);
  const std::string& bos = tokens_.bos;
  const std::string& eos = tokens_.eos;
  if (tokens_.add_bos && !bos.empty() && text.compare(0, bos.size(), bos) == 0) text.erase(0, bos.size());
  if (tokens_.add_eos && !eos.empty() && text.size() >= eos.size() && text.compare(text.size() - eos.size(), eos.size(), eos) == 0)
    text.erase(text.size() - eos.size());
  return text;
}

ChatPlan plan_chat(const Tokenizer& tok, const std::string& template_override, const std::string& origin) {
  ChatPlan plan;
  plan.tokens = chat_tokens(tok);
  const std::string& own = tok.vocab().chat_template;
  const bool overridden = !template_override.empty();
  const std::string& source = overridden ? template_override : own;
  if (!source.empty()) {
    plan.kind = ChatPlan::Kind::Template;
    plan.tmpl = std::make_shared<ChatTemplate>(source, plan.tokens);
    const char* family = describe_template_family(source);
    plan.reason = std::string(overridden ? "chat template from " + (origin.empty() ? std::string("--chat-template") : origin)
                                         : std::string("the model's chat template")) +
                  " (Jinja, " + std::to_string(source.size()) + " bytes" +
                  (family ? std::string(", ") + family + "-like" : std::string()) + ")";
    return plan;
  }
  for (ChatFormat f : all_chat_formats()) {
    const std::vector<std::string> markers = format_markers(f);
    bool all = !markers.empty();
    for (const auto& m : markers) all = all && tok.token_id(m) >= 0;
    if (!all) continue;
    plan.kind = ChatPlan::Kind::BuiltIn;
    plan.format = f;
    std::string list;
    for (const auto& m : markers) list += (list.empty() ? "" : " ") + m;
    plan.reason = std::string("no chat template in the model; built-in ") + chat_format_name(f) +
                  " format, whose special tokens the vocabulary has (" + list + ")";
    return plan;
  }
  plan.kind = ChatPlan::Kind::PlainText;
  plan.reason =
      "no chat template in the model, and its vocabulary lacks the special tokens of every built-in chat format; "
      "plain text continuation of the messages";
  return plan;
}

std::string apply_chat(const ChatPlan& plan, const ChatInput& in) {
  switch (plan.kind) {
    case ChatPlan::Kind::Template: return plan.tmpl->apply(in);
    case ChatPlan::Kind::BuiltIn:
    case ChatPlan::Kind::PlainText: {
      std::vector<ChatMessage> msgs;
      for (const auto& m : in.messages) {
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
          throw InputError("chat messages must be objects with a string \"role\"");
        std::string content;
        if (m.contains("content") && m["content"].is_string()) content = m["content"].get<std::string>();
        msgs.push_back({m["role"].get<std::string>(), content});
      }
      if (plan.kind == ChatPlan::Kind::BuiltIn) return render_chat(plan.format, msgs, in.add_generation_prompt);
      // Plain continuation: the texts one after another, as a prompt would be written.
      std::string text;
      for (const auto& m : msgs) {
        if (m.content.empty()) continue;
        if (!text.empty()) text += "\n";
        text += m.content;
      }
      return text;
    }
  }
  return "";
}

std::string describe_chat_template(const std::string& source, const ChatTokens& tokens) {
  std::string first = source.substr(0, source.find('\n'));
  if (first.size() > 60) first = first.substr(0, 57) + "...";
  const char* family = describe_template_family(source);
  std::string out = std::string(family ? family : "unrecognised") + " family, " + std::to_string(source.size()) +
                    " bytes, first line \"" + first + "\"";
  try {
    ChatTemplate t(source, tokens);
    ChatInput in;
    in.messages = nlohmann::ordered_json::parse(
        R"([{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hello"}])");
    const std::string s = t.render(in);
    out += "; renders a system + user conversation (" + std::to_string(s.size()) + " bytes)";
  } catch (const InputError& e) {
    out += "; does not render a system + user conversation: " + std::string(e.what());
  }
  return out;
}

}  // namespace qinfer
