// Built-in renderings of the common chat formats, chosen by recognising the
// model's Jinja template (full Jinja comes later). Like llama.cpp's fallback,
// a model without a template gets ChatML.
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
// Renders the conversation and, with add_assistant, the opening of the assistant turn.
std::string render_chat(ChatFormat f, const std::vector<ChatMessage>& messages, bool add_assistant,
                        const std::string& bos_text = "", const std::string& eos_text = "");

}  // namespace qinfer
