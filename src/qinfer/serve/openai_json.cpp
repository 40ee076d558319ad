#include "qinfer/serve/openai_json.h"

#include <atomic>
#include <chrono>
#include <random>

namespace qinfer::serve {

namespace {

std::string random_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%016llx%04llx", prefix, static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(counter.fetch_add(1) & 0xFFFF));
  return buf;
}

Json bytes_of(const std::string& s) {
  Json b = Json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

Json chat_logprobs(const std::vector<TokenDetail>& tokens) {
  Json content = Json::array();
  for (const TokenDetail& t : tokens) {
    Json top = Json::array();
    for (const auto& [text, lp] : t.top) top.push_back({{"token", text}, {"logprob", lp}, {"bytes", bytes_of(text)}});
    content.push_back({{"token", t.text}, {"logprob", t.logprob}, {"bytes", bytes_of(t.text)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

Json completion_logprobs(const std::vector<TokenDetail>& tokens, size_t text_offset) {
  Json toks = Json::array(), lps = Json::array(), tops = Json::array(), offs = Json::array();
  for (const TokenDetail& t : tokens) {
    toks.push_back(t.text);
    lps.push_back(t.logprob);
    Json top = Json::object();
    for (const auto& [text, lp] : t.top)
      if (!top.contains(text)) top[text] = lp;
    tops.push_back(top);
    offs.push_back(text_offset);
    text_offset += t.text.size();
  }
  return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
}

Json logprobs_json(const ResponseMeta& m, const std::vector<TokenDetail>& tokens) {
  if (!m.logprobs) return nullptr;
  return m.endpoint == Endpoint::ChatCompletions ? chat_logprobs(tokens) : completion_logprobs(tokens, 0);
}

Json header(const ResponseMeta& m, bool chunk) {
  const char* object = m.endpoint == Endpoint::ChatCompletions ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                                               : "text_completion";
  return {{"id", m.id}, {"object", object}, {"created", m.created}, {"model", m.model}, {"system_fingerprint", "qinfer"}};
}

}  // namespace

ResponseMeta make_response_meta(Endpoint endpoint, const std::string& model, bool logprobs) {
  ResponseMeta m;
  m.endpoint = endpoint;
  m.id = random_id(endpoint == Endpoint::ChatCompletions ? "chatcmpl-" : "cmpl-");
  m.created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  m.model = model;
  m.logprobs = logprobs;
  return m;
}

Json usage_json(int prompt_tokens, int completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

Json response_json(const ResponseMeta& m, const std::string& text, const std::vector<TokenDetail>& tokens,
                   const std::string& finish_reason, int prompt_tokens, int completion_tokens) {
  Json j = header(m, false);
  Json choice = {{"index", 0}};
  if (m.endpoint == Endpoint::ChatCompletions) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = logprobs_json(m, tokens);
  choice["finish_reason"] = finish_reason;
  j["choices"] = Json::array({choice});
  j["usage"] = usage_json(prompt_tokens, completion_tokens);
  return j;
}

Json chunk_json(const ResponseMeta& m, const std::string& text, const std::vector<TokenDetail>& tokens,
                const std::optional<std::string>& finish_reason) {
  Json j = header(m, true);
  Json choice = {{"index", 0}};
  if (m.endpoint == Endpoint::ChatCompletions)
    choice["delta"] = text.empty() && finish_reason ? Json::object() : Json{{"content", text}};
  else
    choice["text"] = text;
  choice["logprobs"] = logprobs_json(m, tokens);
  choice["finish_reason"] = finish_reason ? Json(*finish_reason) : Json(nullptr);
  j["choices"] = Json::array({choice});
  return j;
}

Json chat_role_chunk_json(const ResponseMeta& m) {
  Json j = header(m, true);
  j["choices"] = Json::array({{{"index", 0},
                               {"delta", {{"role", "assistant"}, {"content", ""}}},
                               {"logprobs", nullptr},
                               {"finish_reason", nullptr}}});
  return j;
}

Json usage_chunk_json(const ResponseMeta& m, int prompt_tokens, int completion_tokens) {
  Json j = header(m, true);
  j["choices"] = Json::array();
  j["usage"] = usage_json(prompt_tokens, completion_tokens);
  return j;
}

Json model_list_json(const std::vector<ModelListing>& models) {
  Json data = Json::array();
  for (const ModelListing& m : models)
    data.push_back({{"id", m.id}, {"object", "model"}, {"created", m.created}, {"owned_by", "qinfer"}});
  return {{"object", "list"}, {"data", data}};
}

std::string dump_json(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string sse_event(const Json& j) { return "data: " + dump_json(j) + "\n\n"; }

}  // namespace qinfer::serve
