// /v1/completions, /v1/chat/completions (whole or streamed as server-sent
// events) and /v1/models.
#include <httplib.h>

#include <memory>

#include "qinfer/serve/api_error.h"
#include "qinfer/serve/client_connection.h"
#include "qinfer/serve/generation.h"
#include "qinfer/serve/openai_json.h"
#include "qinfer/serve/routes.h"

namespace qinfer::serve {

namespace {

using namespace std::chrono_literals;

// How often a waiting handler looks at the server's state, and how long a
// stream stays silent before a comment line checks the client is still there.
constexpr auto kPoll = 250ms;
constexpr int kPollsPerHeartbeat = 8;

void answer_whole(Generation& gen, const GenerationRequest& r, const ResponseMeta& meta, const httplib::Request& req,
                  httplib::Response& res, ServerState& state) {
  const ClientConnection client(req);
  std::string text = r.echo ? gen.prompt_text() : "";
  std::vector<TokenDetail> tokens;
  std::string finish_reason;
  while (!gen.finished()) {
    if (state.aborting()) {
      gen.cancel();
      throw ApiError(503, "the server is shutting down; the request was cancelled");
    }
    if (client.gone()) {
      gen.cancel();
      throw client_gone_error();
    }
    auto piece = gen.next(kPoll);
    if (!piece) continue;
    text += piece->text;
    for (TokenDetail& t : piece->tokens) tokens.push_back(std::move(t));
    if (piece->finished) finish_reason = piece->finish_reason;
  }
  res.set_content(dump_json(response_json(meta, text, tokens, finish_reason, gen.prompt_tokens(), gen.completion_tokens())),
                  "application/json");
}

// Streams the answer; a failed write means the client is gone, which
// cancels the sequence (its KV blocks are freed at the engine's next step).
void answer_stream(std::shared_ptr<Generation> gen, std::shared_ptr<ServerState::ActiveRequest> active,
                   const GenerationRequest& r, const ResponseMeta& meta, httplib::Response& res, ServerState& state) {
  const bool usage = r.include_usage;
  const std::string echo = r.echo ? gen->prompt_text() : "";
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      // `active` lives as long as the provider: a drain waits for the last byte.
      [gen, active, meta, usage, echo, &state](size_t, httplib::DataSink& sink) {
        const auto send = [&](const std::string& s) {
          if (sink.write(s.data(), s.size())) return true;
          gen->cancel();
          return false;
        };
        if (meta.endpoint == Endpoint::ChatCompletions && !send(sse_event(chat_role_chunk_json(meta)))) return false;
        if (!echo.empty() && !send(sse_event(chunk_json(meta, echo, {}, std::nullopt)))) return false;
        int quiet = 0;
        while (!gen->finished()) {
          if (state.aborting()) {
            gen->cancel();
            send(sse_event(Json{{"error", {{"message", "the server is shutting down; the request was cancelled"},
                                           {"type", "service_unavailable"}}}}));
            break;
          }
          std::optional<GenerationPiece> piece;
          try {
            piece = gen->next(kPoll);
          } catch (const ApiError& e) {
            send(sse_event(Json::parse(error_body(e))));
            break;
          }
          if (!piece) {
            if (++quiet >= kPollsPerHeartbeat) {
              quiet = 0;
              if (!send(": waiting\n\n")) return false;
            }
            continue;
          }
          quiet = 0;
          if (piece->text.empty() && piece->tokens.empty() && !piece->finished) continue;
          const auto reason = piece->finished ? std::optional<std::string>(piece->finish_reason) : std::nullopt;
          if (!send(sse_event(chunk_json(meta, piece->text, piece->tokens, reason)))) return false;
        }
        if (usage && !send(sse_event(usage_chunk_json(meta, gen->prompt_tokens(), gen->completion_tokens())))) return false;
        if (!send(kSseDone)) return false;
        sink.done();
        return true;
      },
      [gen](bool) { gen->cancel(); });
}

void generate(const httplib::Request& req, httplib::Response& res, ServerState& state, Endpoint endpoint) {
  auto active = std::make_shared<ServerState::ActiveRequest>(state);
  const GenerationRequest r = parse_generation_request(req.body, endpoint);
  std::shared_ptr<ModelHandle> model = state.models().acquire(r.model);
  auto gen = std::make_shared<Generation>(model, r, state.limits_for(*model));
  const ResponseMeta meta = make_response_meta(endpoint, model->id, r.logprobs >= 0);
  if (r.stream)
    answer_stream(std::move(gen), std::move(active), r, meta, res, state);
  else
    answer_whole(*gen, r, meta, req, res, state);
}

}  // namespace

std::vector<Route> openai_routes() {
  return {
      {"POST", "/v1/completions", false,
       [](const httplib::Request& q, httplib::Response& s, ServerState& st) { generate(q, s, st, Endpoint::Completions); }},
      {"POST", "/v1/chat/completions", false,
       [](const httplib::Request& q, httplib::Response& s, ServerState& st) { generate(q, s, st, Endpoint::ChatCompletions); }},
      {"GET", "/v1/models", false,
       [](const httplib::Request&, httplib::Response& s, ServerState& st) {
         s.set_content(dump_json(model_list_json(st.models().list())), "application/json");
       }},
  };
}

std::vector<Route> health_routes() {
  return {
      {"GET", "/health", true,
       [](const httplib::Request&, httplib::Response& s, ServerState& st) {
         Json models = Json::array();
         int running = 0, waiting = 0;
         for (const auto& m : st.models().loaded()) {
           const EngineStats es = m->engine->stats();
           running += es.running;
           waiting += es.waiting;
           models.push_back(m->id);
         }
         const bool ok = !st.draining();
         s.status = ok ? 200 : 503;
         s.set_content(dump_json(Json{{"status", ok ? "ok" : "draining"},
                                      {"models", models},
                                      {"requests_running", running},
                                      {"requests_waiting", waiting}}),
                       "application/json");
       }},
  };
}

}  // namespace qinfer::serve
