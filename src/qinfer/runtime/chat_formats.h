// Built-in renderings of the common chat formats: the fallback for a model
// whose GGUF has no chat template (a model with one is rendered by its own
// template, chat_template.h), and the names `info` uses to describe a template.
#pragma once
#include <string>
#include <vector>

namespace qinfer {

struct ChatMessage {
  std::string role;  // system, user, assistant
  std::string content;
};

enum class ChatFormat { ChatML, Llama2, Llama3, Mistral, Gemma, Zephyr, Phi3, DeepSeek, Alpaca };

const char* chat_format_name(ChatFormat f);
// Recognises the format from a Jinja template's markers; ChatML when empty or unknown.
ChatFormat detect_chat_format(const std::string& jinja_template);
// The family a template's markers suggest, or nullptr when none is recognised.
const char* describe_template_family(const std::string& jinja_template);
// The special-token texts a format's rendering relies on (empty for Alpaca's plain text).
std::vector<std::string> format_markers(ChatFormat f);
// Every built-in format, in the order the fallback tries them.
const std::vector<ChatFormat>& all_chat_formats();
// Renders the conversation and, with add_assistant, the opening of the assistant turn.
std::string render_chat(ChatFormat f, const std::vector<ChatMessage>& messages, bool add_assistant,
                        const std::string& bos_text = "", const std::string& eos_text = "");

}  // namespace qinfer
