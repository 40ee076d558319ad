#include "qinfer/serve/ollama.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include "qinfer/core/error.h"

namespace qinfer::serve {

using nlohmann::json;

namespace {

const char* json_type(const json& v) { return v.type_name(); }

[[noreturn]] void wrong_type(const std::string& field, const char* want, const json& v) {
  throw InputError("/api/chat: '" + field + "' must be " + want + ", got " + json_type(v));
}

void copy_number(const json& options, const char* from, json& out, const char* to) {
  auto it = options.find(from);
  if (it == options.end() || it->is_null()) return;
  if (!it->is_number()) wrong_type(std::string("options.") + from, "a number", *it);
  out[to] = *it;
}

void copy_integer(const json& options, const char* from, json& out, const char* to) {
  auto it = options.find(from);
  if (it == options.end() || it->is_null()) return;
  if (!it->is_number_integer()) wrong_type(std::string("options.") + from, "an integer", *it);
  out[to] = *it;
}

}  // namespace

json ollama_chat_to_openai(const json& body) {
  if (!body.is_object()) throw InputError("/api/chat: the body must be a JSON object");
  json out = json::object();
  if (auto it = body.find("model"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) wrong_type("model", "a string", *it);
    out["model"] = *it;
  }
  auto msgs = body.find("messages");
  if (msgs == body.end() || msgs->is_null()) throw InputError("/api/chat: 'messages' is required");
  if (!msgs->is_array()) wrong_type("messages", "an array", *msgs);
  json messages = json::array();
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) wrong_type(where, "an object", m);
    if (auto im = m.find("images"); im != m.end() && !im->is_null() && !(im->is_array() && im->empty()))
      throw InputError("/api/chat: " + where + ".images: images are not supported by this server");
    json msg = json::object();
    for (auto it = m.begin(); it != m.end(); ++it) {
      if (it.key() == "images") continue;
      msg[it.key()] = it.value();  // role, content, tool_calls, ...: validated as OpenAI messages
    }
    messages.push_back(std::move(msg));
  }
  out["messages"] = std::move(messages);
  bool stream = true;  // Ollama streams unless told not to
  if (auto it = body.find("stream"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) wrong_type("stream", "a boolean", *it);
    stream = it->get<bool>();
  }
  out["stream"] = stream;
  if (auto it = body.find("format"); it != body.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty()))
    throw InputError("/api/chat: 'format' (structured output) is not supported by this server");
  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) wrong_type("tools", "an array", *it);
    if (!it->empty()) out["tools"] = *it;
  }
  if (auto it = body.find("options"); it != body.end() && !it->is_null()) {
    const json& o = *it;
    if (!o.is_object()) wrong_type("options", "an object", o);
    copy_number(o, "temperature", out, "temperature");
    copy_number(o, "top_p", out, "top_p");
    copy_integer(o, "top_k", out, "top_k");
    copy_number(o, "min_p", out, "min_p");
    copy_integer(o, "seed", out, "seed");
    copy_number(o, "presence_penalty", out, "presence_penalty");
    copy_number(o, "frequency_penalty", out, "frequency_penalty");
    copy_number(o, "repeat_penalty", out, "repeat_penalty");
    copy_integer(o, "repeat_last_n", out, "repeat_last_n");
    if (auto np = o.find("num_predict"); np != o.end() && !np->is_null()) {
      if (!np->is_number_integer()) wrong_type("options.num_predict", "an integer", *np);
      int64_t n = np->get<int64_t>();
      // Ollama: -1 generates until a stop, -2 until the context is full; both
      // are "no limit" here (the context bounds every request).
      if (n < -2) throw InputError("/api/chat: 'options.num_predict' must be >= -2, got " + std::to_string(n));
      if (n >= 0) out["max_tokens"] = n;
    }
    if (auto st = o.find("stop"); st != o.end() && !st->is_null()) {
      if (st->is_string()) {
        out["stop"] = *st;
      } else if (st->is_array()) {
        for (const json& s : *st)
          if (!s.is_string()) wrong_type("options.stop[]", "a string", s);
        out["stop"] = *st;
      } else {
        wrong_type("options.stop", "a string or an array of strings", *st);
      }
    }
  }
  return out;
}

std::string rfc3339_utc(int64_t unix_ns) {
  int64_t secs = unix_ns / 1000000000;
  int64_t ns = unix_ns % 1000000000;
  if (ns < 0) {
    ns += 1000000000;
    --secs;
  }
  std::time_t t = std::time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(ns));
  return buf;
}

json ollama_chat_chunk(const std::string& model, int64_t unix_ns, const std::string& content) {
  return json{{"model", model},
              {"created_at", rfc3339_utc(unix_ns)},
              {"message", {{"role", "assistant"}, {"content", content}}},
              {"done", false}};
}

json ollama_chat_done(const std::string& model, int64_t unix_ns, const OllamaDone& d) {
  return json{{"model", model},
              {"created_at", rfc3339_utc(unix_ns)},
              {"message", {{"role", "assistant"}, {"content", d.content}}},
              {"done", true},
              {"done_reason", d.done_reason},
              {"total_duration", d.total_ns},
              {"load_duration", d.load_ns},
              {"prompt_eval_count", d.prompt_eval_count},
              {"prompt_eval_duration", d.prompt_eval_ns},
              {"eval_count", d.eval_count},
              {"eval_duration", d.eval_ns}};
}

json ollama_error(const std::string& message) { return json{{"error", message}}; }

std::string parameter_size_text(int64_t n) {
  static const struct {
    double scale;
    const char* suffix;
  } units[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}};
  for (const auto& u : units) {
    if (double(n) < u.scale) continue;
    char buf[32];
    double v = double(n) / u.scale;
    // One decimal, as Ollama ("1.1B", "7.2M"); none when it would read ".0".
    std::snprintf(buf, sizeof buf, v >= 100 ? "%.0f%s" : "%.1f%s", v, u.suffix);
    std::string s = buf;
    if (size_t dot = s.find(".0"); dot != std::string::npos && dot + 2 < s.size() && !std::isdigit(static_cast<unsigned char>(s[dot + 2])))
      s.erase(dot, 2);
    return s;
  }
  return std::to_string(n);
}

json ollama_models(const std::vector<ModelCard>& models) {
  json list = json::array();
  for (const ModelCard& m : models) {
    json row{{"name", m.id},
             {"model", m.id},
             {"aliases", m.aliases},
             {"path", m.path},
             {"size", m.size},
             {"modified_at", rfc3339_utc(m.modified_unix_ns)},
             {"loaded", m.loaded},
             {"resident_bytes", m.resident_bytes},
             {"details",
              {{"format", "gguf"},
               {"family", m.architecture},
               {"families", m.architecture.empty() ? json::array() : json::array({m.architecture})},
               {"parameter_size", m.parameters ? parameter_size_text(m.parameters) : ""},
               {"quantization_level", m.quantization},
               {"context_length", m.context_length}}}};
    if (!m.error.empty()) row["error"] = m.error;
    list.push_back(std::move(row));
  }
  return json{{"models", std::move(list)}};
}

}  // namespace qinfer::serve
