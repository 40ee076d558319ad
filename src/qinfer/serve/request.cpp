#include "qinfer/serve/request.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "qinfer/serve/api_error.h"

namespace qinfer::serve {

namespace {

using Json = nlohmann::ordered_json;

const char* json_type(const Json& v) {
  return v.is_null() ? "null" : v.is_boolean() ? "a boolean" : v.is_number() ? "a number"
       : v.is_string() ? "a string" : v.is_array() ? "an array" : "an object";
}

// The field's value, or nullptr when absent or null (null means "default" in OpenAI's API).
const Json* field(const Json& body, const char* name) {
  auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

double number(const Json& body, const char* name, double lo, double hi) {
  const Json& v = *field(body, name);
  if (!v.is_number()) throw bad_field(name, std::string("expected a number, got ") + json_type(v));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw bad_field(name, nlohmann::json(x).dump() + " is out of range; allowed: " + nlohmann::json(lo).dump() +
                              " to " + nlohmann::json(hi).dump());
  return x;
}

int64_t integer(const Json& body, const char* name, int64_t lo, int64_t hi) {
  const Json& v = *field(body, name);
  const bool whole = v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                               v.get<double>() == std::floor(v.get<double>()) &&
                                               std::fabs(v.get<double>()) < 9e15);
  if (!whole) throw bad_field(name, std::string("expected an integer, got ") + json_type(v));
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    throw bad_field(name, v.dump() + " is out of range; allowed: " + std::to_string(lo) + " to " + std::to_string(hi));
  const int64_t x = v.is_number_float() ? int64_t(v.get<double>()) : v.get<int64_t>();
  if (x < lo || x > hi)
    throw bad_field(name, std::to_string(x) + " is out of range; allowed: " + std::to_string(lo) + " to " + std::to_string(hi));
  return x;
}

bool boolean(const Json& body, const char* name) {
  const Json& v = *field(body, name);
  if (!v.is_boolean()) throw bad_field(name, std::string("expected true or false, got ") + json_type(v));
  return v.get<bool>();
}

// Fields we accept only at the value that changes nothing, so a request
// relying on them is refused instead of answered differently than asked.
void refuse_unsupported(const Json& body) {
  struct Fixed {
    const char* name;
    Json neutral;
    const char* what;
  };
  static const Fixed kFixed[] = {
      {"n", 1, "only one choice per request (n = 1)"},
      {"best_of", 1, "best_of is not supported (only 1)"},
      {"presence_penalty", 0, "presence_penalty is not supported (only 0; use repeat_penalty)"},
      {"frequency_penalty", 0, "frequency_penalty is not supported (only 0; use repeat_penalty)"},
      {"suffix", "", "suffix (insertion) is not supported"},
  };
  for (const Fixed& f : kFixed) {
    const Json* v = field(body, f.name);
    if (!v) continue;
    const bool neutral = v->is_number() && f.neutral.is_number() ? v->get<double>() == f.neutral.get<double>()
                                                                 : *v == f.neutral;
    if (!neutral) throw bad_field(f.name, f.what);
  }
  if (const Json* v = field(body, "logit_bias"); v && !(v->is_object() && v->empty()))
    throw bad_field("logit_bias", "logit_bias is not supported");
  if (const Json* v = field(body, "response_format")) {
    if (!v->is_object() || !v->contains("type") || (*v)["type"] != "text")
      throw bad_field("response_format", "only {\"type\": \"text\"} is supported");
  }
}

std::vector<std::string> stop_strings(const Json& body) {
  const Json* v = field(body, "stop");
  if (!v) return {};
  std::vector<std::string> out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    if (v->size() > kMaxStopStrings)
      throw bad_field("stop", "at most " + std::to_string(kMaxStopStrings) + " stop strings, got " + std::to_string(v->size()));
    for (const Json& s : *v) {
      if (!s.is_string()) throw bad_field("stop", std::string("expected strings, got ") + json_type(s));
      out.push_back(s.get<std::string>());
    }
  } else {
    throw bad_field("stop", std::string("expected a string or an array of strings, got ") + json_type(*v));
  }
  for (const std::string& s : out)
    if (s.empty()) throw bad_field("stop", "stop strings must not be empty");
  return out;
}

// A message's content as one string: a string, null (assistant turns with
// tool calls) or a list of text parts, joined.
Json content_text(const Json& content, size_t index) {
  const std::string param = "messages[" + std::to_string(index) + "].content";
  if (content.is_null() || content.is_string()) return content;
  if (!content.is_array()) throw bad_field(param, std::string("expected a string or an array of parts, got ") + json_type(content));
  std::string text;
  for (const Json& part : content) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw bad_field(param, "each part must be an object with a string \"type\"");
    const std::string type = part["type"].get<std::string>();
    if (type != "text") throw bad_field(param, "content parts of type \"" + type + "\" are not supported (text only)");
    if (!part.contains("text") || !part["text"].is_string()) throw bad_field(param, "a text part needs a string \"text\"");
    if (!text.empty()) text += "\n";
    text += part["text"].get<std::string>();
  }
  return text;
}

Json chat_messages(const Json& body) {
  const Json* v = field(body, "messages");
  if (!v) throw bad_field("messages", "required");
  if (!v->is_array()) throw bad_field("messages", std::string("expected an array, got ") + json_type(*v));
  if (v->empty()) throw bad_field("messages", "must hold at least one message");
  Json out = Json::array();
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& m = (*v)[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw bad_field(at, std::string("expected an object, got ") + json_type(m));
    if (!m.contains("role") || !m["role"].is_string() || m["role"].get<std::string>().empty())
      throw bad_field(at + ".role", "required, a non-empty string");
    // OpenAI's roles; a template given anything else would render it as-is or fail obscurely.
    static constexpr std::string_view kRoles[] = {"system", "developer", "user", "assistant", "tool", "function"};
    const std::string role = m["role"].get<std::string>();
    if (std::find(std::begin(kRoles), std::end(kRoles), role) == std::end(kRoles))
      throw bad_field(at + ".role", "unknown role '" + role + "' (system, developer, user, assistant, tool or function)");
    Json copy = m;
    copy["content"] = content_text(m.contains("content") ? m["content"] : Json(), i);
    out.push_back(std::move(copy));
  }
  return out;
}

std::string completion_prompt(const Json& body) {
  const Json* v = field(body, "prompt");
  if (!v) throw bad_field("prompt", "required");
  if (v->is_string()) return v->get<std::string>();
  if (v->is_array() && v->size() == 1 && (*v)[0].is_string()) return (*v)[0].get<std::string>();
  if (v->is_array() && v->size() > 1) throw bad_field("prompt", "one prompt per request (a list of one string at most)");
  throw bad_field("prompt", std::string("expected a string, got ") + json_type(*v));
}

}  // namespace

GenerationRequest parse_generation_request(std::string_view text, Endpoint endpoint) {
  Json body = Json::parse(text.begin(), text.end(), nullptr, false);
  if (body.is_discarded()) throw ApiError(400, "the request body is not valid JSON (UTF-8)");
  if (!body.is_object()) throw ApiError(400, std::string("the request body must be a JSON object, got ") + json_type(body));
  refuse_unsupported(body);

  GenerationRequest r;
  r.endpoint = endpoint;
  if (const Json* v = field(body, "model")) {
    if (!v->is_string()) throw bad_field("model", std::string("expected a string, got ") + json_type(*v));
    r.model = v->get<std::string>();
  }
  if (endpoint == Endpoint::ChatCompletions) {
    r.messages = chat_messages(body);
    if (const Json* v = field(body, "tools")) {
      if (!v->is_array()) throw bad_field("tools", std::string("expected an array, got ") + json_type(*v));
      r.tools = *v;
    }
    if (const Json* v = field(body, "chat_template_kwargs")) {
      if (!v->is_object()) throw bad_field("chat_template_kwargs", std::string("expected an object, got ") + json_type(*v));
      r.template_kwargs = *v;
    }
  } else {
    r.prompt = completion_prompt(body);
    if (field(body, "echo")) r.echo = boolean(body, "echo");
  }

  // max_completion_tokens is the chat API's newer name.
  for (const char* name : {"max_tokens", "max_completion_tokens", "n_predict"})
    if (field(body, name)) r.max_tokens = int(integer(body, name, -1, 1 << 22));
  if (r.max_tokens == 0) throw bad_field("max_tokens", "must be at least 1 (or -1 for no limit)");
  r.stop = stop_strings(body);
  if (field(body, "stream")) r.stream = boolean(body, "stream");
  if (const Json* v = field(body, "stream_options")) {
    if (!v->is_object()) throw bad_field("stream_options", std::string("expected an object, got ") + json_type(*v));
    if (!r.stream) throw bad_field("stream_options", "only allowed with stream: true");
    if (field(*v, "include_usage")) r.include_usage = boolean(*v, "include_usage");
  }
  if (field(body, "ignore_eos")) r.ignore_eos = boolean(body, "ignore_eos");
  // vLLM's min_tokens: satisfied by ignore_eos (the engine then runs to
  // max_tokens); any other use would need a per-token minimum we do not have.
  if (field(body, "min_tokens")) {
    const int64_t m = integer(body, "min_tokens", 0, 1 << 22);
    if (m > 0 && !r.ignore_eos) throw bad_field("min_tokens", "only supported together with ignore_eos: true");
  }

  if (field(body, "temperature")) r.temperature = float(number(body, "temperature", 0, 2));
  if (field(body, "top_p")) r.top_p = float(number(body, "top_p", 0, 1));
  if (field(body, "min_p")) r.min_p = float(number(body, "min_p", 0, 1));
  if (field(body, "top_k")) r.top_k = int(integer(body, "top_k", 0, 1 << 24));
  if (field(body, "repeat_penalty")) r.repeat_penalty = float(number(body, "repeat_penalty", 0.01, 10));
  if (field(body, "repeat_last_n")) r.repeat_last_n = int(integer(body, "repeat_last_n", 0, 1 << 22));
  if (field(body, "seed")) r.seed = uint64_t(integer(body, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));

  if (endpoint == Endpoint::ChatCompletions) {
    if (field(body, "logprobs") && boolean(body, "logprobs")) r.logprobs = 0;
    if (field(body, "top_logprobs")) {
      r.top_logprobs = int(integer(body, "top_logprobs", 0, 20));
      if (r.logprobs < 0 && r.top_logprobs > 0) throw bad_field("top_logprobs", "requires logprobs: true");
    }
  } else if (field(body, "logprobs")) {
    const Json& v = *field(body, "logprobs");
    if (v.is_boolean()) throw bad_field("logprobs", "expected an integer 0 to 5 (alternatives per token)");
    r.logprobs = int(integer(body, "logprobs", 0, 5));
    r.top_logprobs = r.logprobs;
  }
  return r;
}

}  // namespace qinfer::serve
