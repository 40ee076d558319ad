#include "qinfer/bench/endpoint_target.h"

#include <httplib.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <nlohmann/json.hpp>

#include "qinfer/bench/openai_stream.h"
#include "qinfer/core/error.h"

namespace qinfer::bench {

namespace {

std::string fmt_s(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", s);
  return b;
}

// The server's message from an error body ({"error": {"message": ...}}), else the body's start.
std::string error_body_message(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
    if (e.is_string()) return e.get<std::string>();
  }
  std::string s = body.substr(0, 120);
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return s.empty() ? "(empty body)" : s;
}

// llama-server parses every generation with its chat output parser, also on
// /v1/completions, and fails the request when the text is not valid UTF-8,
// which a random-weight model's byte tokens make: say so, and what to do.
std::string with_server_hint(std::string error) {
  if (error.find("Failed to parse input at pos") != std::string::npos)
    error += " (llama-server rejects generated text that is not valid UTF-8, as a random-weight model's byte tokens "
             "make: benchmark a trained model, or a random one written by this version of qinfer create, whose "
             "greedy output never picks byte tokens)";
  return error;
}

}  // namespace

EndpointUrl parse_endpoint_url(const std::string& url) {
  const auto bad = [&](const std::string& why) { return InputError("--endpoint " + url + ": " + why); };
  const size_t sep = url.find("://");
  if (sep == std::string::npos) throw bad("expected http://HOST:PORT");
  const std::string scheme = url.substr(0, sep);
  if (scheme != "http" && scheme != "https") throw bad("scheme must be http or https");
  const size_t slash = url.find('/', sep + 3);
  const std::string host_port = url.substr(sep + 3, slash == std::string::npos ? std::string::npos : slash - sep - 3);
  if (host_port.empty()) throw bad("no host");
  if (const size_t colon = host_port.rfind(':'); colon != std::string::npos && host_port.back() != ']') {
    const std::string port = host_port.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) < 1 || std::stoi(port) > 65535)
      throw bad("port must be a number from 1 to 65535");
  }
  std::string path = slash == std::string::npos ? "" : url.substr(slash);
  // Accept the base, the /v1 prefix or a full completions path.
  for (const char* suffix : {"/chat/completions", "/completions"})
    if (path.size() >= std::strlen(suffix) && path.compare(path.size() - std::strlen(suffix), std::string::npos, suffix) == 0) {
      path.resize(path.size() - std::strlen(suffix));
      break;
    }
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.size() < 3 || path.compare(path.size() - 3, 3, "/v1") != 0) path += "/v1";
  return {scheme + "://" + host_port, path + "/completions", path + "/chat/completions"};
}

EndpointTarget::EndpointTarget(const EndpointOptions& options) : opt_(options), url_(parse_endpoint_url(options.url)) {
  if (opt_.model.empty()) throw InputError("--endpoint needs --model NAME (the model the server serves)");
  if (!(opt_.timeout_s > 0)) throw InputError("--timeout must be greater than 0");
}

EndpointTarget::~EndpointTarget() = default;

void EndpointTarget::prepare(int n_workers) {
  clients_.clear();
  clients_.resize(size_t(std::max(n_workers, 1)));
}

httplib::Client& EndpointTarget::client(int worker) {
  auto& c = clients_.at(size_t(worker));
  if (!c) {
    c = std::make_unique<httplib::Client>(url_.scheme_host_port);
    const auto to = std::chrono::microseconds(int64_t(opt_.timeout_s * 1e6));
    c->set_connection_timeout(std::min(to, std::chrono::microseconds(10'000'000)));
    c->set_read_timeout(to);
    c->set_write_timeout(to);
    c->set_keep_alive(true);
    if (!opt_.api_key.empty()) c->set_bearer_token_auth(opt_.api_key);
  }
  return *c;
}

RequestTimeline EndpointTarget::run(const BenchPrompt& prompt, int worker) {
  Attempt a = send_once(prompt, worker);
  if (a.closed_unanswered) {
    // The server closed the connection without answering: a kept-alive
    // connection it had closed after its previous response (llama-server ends
    // every stream by closing, without "Connection: close", so a request sent
    // quickly on the same connection races the close). Nothing was processed,
    // so the request is sent again, once, on a new connection; its timeline
    // starts at the first send, as a client would see it.
    const double first_send = a.timeline.send_s;
    const std::string first_error = a.timeline.error;
    a = send_once(prompt, worker);
    a.timeline.send_s = first_send;
    a.timeline.reconnects = 1;
    if (!a.timeline.ok) a.timeline.error += " (also on a new connection; first try: " + first_error + ")";
  }
  return a.timeline;
}

EndpointTarget::Attempt EndpointTarget::send_once(const BenchPrompt& prompt, int worker) {
  const bool chat = !prompt.messages.empty();
  nlohmann::json body = {{"model", opt_.model},
                         {"max_tokens", prompt.max_tokens},
                         {"temperature", 0},
                         {"stream", true},
                         {"stream_options", {{"include_usage", true}}}};
  if (chat) {
    body["messages"] = nlohmann::json::array();
    for (const ChatMessage& m : prompt.messages) body["messages"].push_back({{"role", m.role}, {"content", m.content}});
  } else {
    body["prompt"] = prompt.text;
  }
  if (opt_.ignore_eos) {
    body["ignore_eos"] = true;  // vLLM, llama-server
    body["min_tokens"] = prompt.max_tokens;  // vLLM
  }

  httplib::Request req;
  req.method = "POST";
  req.path = chat ? url_.chat_path : url_.completions_path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");

  Attempt attempt;
  RequestTimeline& r = attempt.timeline;
  r.prompt_tokens = prompt.input_tokens;
  int status = -1;
  std::string error_body, stop_reason;
  SseLineReader sse;
  bool done = false, finished = false;
  double last_data_s = 0;
  std::optional<int> usage_prompt, usage_completion;
  // Throws qinfer::Error for malformed SSE, non-JSON data or an error object.
  const auto consume = [&](std::string_view bytes, double t) {
    for (const std::string& payload : sse.feed(bytes)) {
      if (done) continue;  // nothing counts after [DONE]
      const StreamEvent ev = parse_stream_event(payload);
      done = ev.done;
      if (ev.has_output) r.chunk_s.push_back(t);
      finished = finished || ev.finished;
      if (ev.prompt_tokens) usage_prompt = ev.prompt_tokens;
      if (ev.completion_tokens) usage_completion = ev.completion_tokens;
    }
  };
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    last_data_s = now_s();
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    const double t = now_s();
    last_data_s = t;
    if (status != 200) {
      if (error_body.size() < 4096) error_body.append(data, std::min<size_t>(n, 4096));
      return true;
    }
    if (t - r.send_s > opt_.timeout_s) {
      stop_reason = "timed out after " + fmt_s(opt_.timeout_s) + " s";
      return false;
    }
    try {
      consume(std::string_view(data, n), t);
    } catch (const Error& e) {
      stop_reason = e.what();
      return false;
    }
    return true;
  };

  httplib::Client& cli = client(worker);
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  r.send_s = now_s();
  const bool sent = cli.send(req, res, err);
  const double end_s = now_s();
  const std::string where = opt_.url + req.path;
  // httplib reports a closed connection and a read timeout alike (Error::Read):
  // the clock tells them apart.
  const bool waited_out = end_s - (status < 0 ? r.send_s : last_data_s) >= opt_.timeout_s * 0.99;
  const auto ms = [](double s) { return fmt_s(std::round(s * 1e4) / 10) + " ms"; };

  if (!stop_reason.empty()) {
    r.error = stop_reason;
  } else if (!sent) {
    switch (err) {
      case httplib::Error::Connection:
        r.error = "cannot connect to " + opt_.url + ": connection refused or host unreachable";
        break;
      case httplib::Error::ConnectionTimeout:
        r.error = "cannot connect to " + opt_.url + ": no answer within " + fmt_s(std::min(opt_.timeout_s, 10.0)) + " s";
        break;
      case httplib::Error::Read:
      case httplib::Error::Write:
        if (status < 0 && !waited_out) {
          attempt.closed_unanswered = true;
          r.error = where + ": the server closed the connection without a response (after " + ms(end_s - r.send_s) + ")";
        } else if (status < 0) {
          r.error = "no response from " + where + " within " + fmt_s(opt_.timeout_s) + " s";
        } else if (waited_out) {
          r.error = "stream from " + where + " stalled for " + fmt_s(opt_.timeout_s) + " s after " +
                    std::to_string(r.chunk_s.size()) + " chunks";
        } else {
          r.error = "stream from " + where + ": the server closed the connection after " +
                    std::to_string(r.chunk_s.size()) + " chunks, before [DONE] or a finish_reason";
        }
        break;
      default:
        r.error = where + ": " + httplib::to_string(err);
    }
  } else if (status != 200) {
    r.error = "HTTP " + std::to_string(status) + " from " + where + ": " + error_body_message(error_body);
  } else {
    try {
      if (!sse.pending().empty()) consume("\n", now_s());  // a last line without its newline
    } catch (const Error& e) {
      r.error = e.what();
    }
    if (r.error.empty() && r.chunk_s.empty())
      r.error = "stream from " + where + " ended without any output chunk";
    else if (r.error.empty() && !done && !finished)
      r.error = "stream from " + where + " ended before [DONE] or a finish_reason (truncated)";
  }
  if (!r.error.empty()) {
    r.error = with_server_hint(r.error);
    return attempt;
  }
  r.ok = true;
  r.output_tokens = usage_completion ? *usage_completion : int(r.chunk_s.size());
  if (usage_prompt) r.prompt_tokens = *usage_prompt;
  return attempt;
}

}  // namespace qinfer::bench
