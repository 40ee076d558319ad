#include "qinfer/runtime/chat_formats.h"

namespace qinfer {

namespace {
bool has(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }
}  // namespace

const char* chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::ChatML: return "chatml";
    case ChatFormat::Llama2: return "llama2";
    case ChatFormat::Llama3: return "llama3";
    case ChatFormat::Mistral: return "mistral";
    case ChatFormat::Gemma: return "gemma";
    case ChatFormat::Zephyr: return "zephyr";
    case ChatFormat::Phi3: return "phi3";
    case ChatFormat::DeepSeek: return "deepseek";
    case ChatFormat::Alpaca: return "alpaca";
  }
  return "?";
}

const char* describe_template_family(const std::string& t) {
  if (has(t, "<|im_start|>") || has(t, "<|start_header_id|>") || has(t, "<start_of_turn>") || has(t, "<|user|>") ||
      has(t, "<｜User｜>") || has(t, "<｜Assistant｜>") || has(t, "[INST]") || has(t, "### Instruction"))
    return chat_format_name(detect_chat_format(t));
  return nullptr;
}

std::vector<std::string> format_markers(ChatFormat f) {
  switch (f) {
    case ChatFormat::ChatML: return {"<|im_start|>", "<|im_end|>"};
    case ChatFormat::Llama3: return {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
    case ChatFormat::Gemma: return {"<start_of_turn>", "<end_of_turn>"};
    case ChatFormat::Phi3: return {"<|user|>", "<|assistant|>", "<|end|>"};
    case ChatFormat::Zephyr: return {"<|user|>", "<|assistant|>"};
    case ChatFormat::DeepSeek: return {"<｜User｜>", "<｜Assistant｜>"};
    case ChatFormat::Llama2:
    case ChatFormat::Mistral: return {"[INST]", "[/INST]"};
    case ChatFormat::Alpaca: return {};
  }
  return {};
}

const std::vector<ChatFormat>& all_chat_formats() {
  static const std::vector<ChatFormat> kAll = {ChatFormat::ChatML, ChatFormat::Llama3, ChatFormat::Gemma,
                                                ChatFormat::Phi3,   ChatFormat::Zephyr, ChatFormat::DeepSeek,
                                                ChatFormat::Mistral};
  return kAll;
}

ChatFormat detect_chat_format(const std::string& t) {
  if (has(t, "<|im_start|>")) return ChatFormat::ChatML;
  if (has(t, "<|start_header_id|>")) return ChatFormat::Llama3;
  if (has(t, "<start_of_turn>")) return ChatFormat::Gemma;
  if (has(t, "<|assistant|>") && has(t, "<|end|>")) return ChatFormat::Phi3;
  if (has(t, "<|user|>")) return ChatFormat::Zephyr;
  if (has(t, "<｜User｜>") || has(t, "<｜Assistant｜>")) return ChatFormat::DeepSeek;
  if (has(t, "[INST]")) return has(t, "<<SYS>>") ? ChatFormat::Llama2 : ChatFormat::Mistral;
  if (has(t, "### Instruction")) return ChatFormat::Alpaca;
  return ChatFormat::ChatML;
}

std::string render_chat(ChatFormat f, const std::vector<ChatMessage>& msgs, bool add_assistant,
                        const std::string& bos, const std::string& eos) {
  std::string out;
  switch (f) {
    case ChatFormat::ChatML:
      for (const auto& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_assistant) out += "<|im_start|>assistant\n";
      break;
    case ChatFormat::Llama3:
      out += bos;
      for (const auto& m : msgs)
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
      if (add_assistant) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatFormat::Gemma:
      out += bos;
      for (const auto& m : msgs) {
        std::string role = m.role == "assistant" ? "model" : "user";
        out += "<start_of_turn>" + role + "\n" + m.content + "<end_of_turn>\n";
      }
      if (add_assistant) out += "<start_of_turn>model\n";
      break;
    case ChatFormat::Phi3:
    case ChatFormat::Zephyr: {
      const std::string end = f == ChatFormat::Phi3 ? "<|end|>\n" : eos + "\n";
      for (const auto& m : msgs) out += "<|" + m.role + "|>\n" + m.content + end;
      if (add_assistant) out += "<|assistant|>\n";
      break;
    }
    case ChatFormat::DeepSeek:
      out += bos;
      for (const auto& m : msgs) {
        if (m.role == "system") out += m.content;
        else if (m.role == "user") out += "<｜User｜>" + m.content;
        else out += "<｜Assistant｜>" + m.content + eos;
      }
      if (add_assistant) out += "<｜Assistant｜>";
      break;
    case ChatFormat::Llama2:
    case ChatFormat::Mistral: {
      std::string system;
      bool first_user = true;
      for (const auto& m : msgs) {
        if (m.role == "system") {
          system = m.content;
        } else if (m.role == "user") {
          std::string content = m.content;
          if (first_user && !system.empty())
            content = f == ChatFormat::Llama2 ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content : system + "\n\n" + content;
          out += bos + "[INST] " + content + " [/INST]";
          first_user = false;
        } else {
          out += " " + m.content + eos;
        }
      }
      break;
    }
    case ChatFormat::Alpaca:
      for (const auto& m : msgs) {
        if (m.role == "system") out += m.content + "\n\n";
        else if (m.role == "user") out += "### Instruction:\n" + m.content + "\n\n";
        else out += "### Response:\n" + m.content + "\n\n";
      }
      if (add_assistant) out += "### Response:\n";
      break;
  }
  return out;
}

}  // namespace qinfer
