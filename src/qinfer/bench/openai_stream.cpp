#include "qinfer/bench/openai_stream.h"

#include <nlohmann/json.hpp>

#include "qinfer/core/error.h"

namespace qinfer::bench {

namespace {

std::string excerpt(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string e(s.substr(0, kMax));
  for (char& c : e)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return s.size() > kMax ? e + "..." : e;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

std::vector<std::string> SseLineReader::feed(std::string_view bytes) {
  buf_.append(bytes);
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = buf_.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(buf_.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == ':') continue;  // event separator or comment
    if (starts_with(line, "data:")) {
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      out.emplace_back(line);
    } else if (starts_with(line, "event:") || starts_with(line, "id:") || starts_with(line, "retry:")) {
      continue;
    } else {
      throw Error("malformed SSE line: \"" + excerpt(line) + "\"");
    }
  }
  buf_.erase(0, start);
  return out;
}

StreamEvent parse_stream_event(std::string_view payload) {
  StreamEvent ev;
  if (payload == "[DONE]") {
    ev.done = true;
    return ev;
  }
  nlohmann::json j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error("SSE data is not JSON: \"" + excerpt(payload) + "\"");
  if (!j.is_object()) throw Error("SSE data is not a JSON object: \"" + excerpt(payload) + "\"");
  if (j.contains("error")) {
    const auto& e = j["error"];
    std::string msg = e.is_object() && e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>()
                                                                                          : e.dump();
    throw Error("server error in stream: " + excerpt(msg));
  }
  if (auto it = j.find("choices"); it != j.end() && it->is_array() && !it->empty()) {
    ev.has_output = true;
    const auto& c = (*it)[0];
    if (c.is_object()) {
      if (auto f = c.find("finish_reason"); f != c.end() && f->is_string()) ev.finished = true;
      if (auto t = c.find("text"); t != c.end() && t->is_string()) ev.text = t->get<std::string>();
      if (auto d = c.find("delta"); d != c.end() && d->is_object())
        if (auto t = d->find("content"); t != d->end() && t->is_string()) ev.text = t->get<std::string>();
    }
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    if (auto p = u->find("prompt_tokens"); p != u->end() && p->is_number_integer()) ev.prompt_tokens = p->get<int>();
    if (auto c = u->find("completion_tokens"); c != u->end() && c->is_number_integer())
      ev.completion_tokens = c->get<int>();
  }
  return ev;
}

}  // namespace qinfer::bench
