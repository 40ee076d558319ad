// The operator's endpoints beside the OpenAI API: /metrics (Prometheus),
// Ollama's simple API (/api/health, /api/models and its /api/tags name,
// /api/chat with NDJSON streaming) and the chat page at /.
#include <httplib.h>

#include <chrono>
#include <memory>

#include "qinfer/core/peak_rss.h"
#include "qinfer/serve/api_error.h"
#include "qinfer/serve/chat_page.h"
#include "qinfer/serve/generation.h"
#include "qinfer/serve/model_listing.h"
#include "qinfer/serve/client_connection.h"
#include "qinfer/serve/ollama.h"
#include "qinfer/serve/registry_provider.h"
#include "qinfer/serve/routes.h"
#include "qinfer/serve/server_metrics.h"

namespace qinfer::serve {

namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kPoll = 250ms;

int64_t now_unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string ndjson_line(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

// Ollama's clients read {"error": "..."}; the status stays the OpenAI one.
void set_ollama_error(httplib::Response& res, int status, const std::string& message, int retry_after_s = 0) {
  res.status = status;
  if (retry_after_s > 0) res.set_header("Retry-After", std::to_string(retry_after_s));
  res.set_content(ndjson_line(ollama_error(message)), "application/json");
}

std::vector<ModelStatus> model_statuses(ServerState& st) {
  if (auto* reg = dynamic_cast<RegistryProvider*>(&st.models())) return reg->registry().list();
  std::vector<ModelStatus> out;
  for (const ModelListing& m : st.models().list()) {
    ModelStatus s;
    s.source.id = m.id;
    s.loaded = m.loaded;
    s.created_unix = m.created;
    out.push_back(std::move(s));
  }
  return out;
}

json health_json(ServerState& st) {
  json models = json::array();
  int busy = 0, slots = 0;
  int64_t used = 0, free_blocks = 0, total = 0;
  uint64_t resident = 0;
  std::string quantization;
  for (const auto& m : st.models().loaded()) {
    const EngineStats es = m->engine->stats();
    busy += es.running;
    slots += m->engine->max_seqs();
    used += es.blocks_used;
    free_blocks += es.blocks_free;
    total += es.blocks_total;
    const uint64_t bytes = handle_resident_bytes(*m);
    resident += bytes;
    const std::string q = file_type_name(*m->model);
    if (quantization.empty()) quantization = q;
    models.push_back({{"id", m->id},
                      {"quantization", q},
                      {"slots_busy", es.running},
                      {"slots_free", std::max(0, m->engine->max_seqs() - es.running)},
                      {"requests_waiting", es.waiting},
                      {"kv_blocks_used", es.blocks_used},
                      {"kv_blocks_free", es.blocks_free},
                      {"resident_bytes", bytes}});
  }
  uint64_t budget = 0;
  if (auto* reg = dynamic_cast<RegistryProvider*>(&st.models())) budget = reg->registry().memory_budget();
  const bool ok = !st.draining();
  return json{{"status", ok ? "ok" : "draining"},
              {"model", models.empty() ? json(nullptr) : models[0]["id"]},
              {"device", "cpu"},
              {"quantization", quantization},
              {"slots", {{"busy", busy}, {"free", std::max(0, slots - busy)}}},
              {"kv_blocks", {{"used", used}, {"free", free_blocks}, {"total", total}}},
              {"memory", {{"models_resident_bytes", resident}, {"budget_bytes", budget}, {"peak_rss_bytes", peak_rss_bytes()}}},
              {"models", models}};
}

void api_models(const httplib::Request&, httplib::Response& res, ServerState& st) {
  res.set_content(ndjson_line(ollama_models(describe_models(model_statuses(st)))), "application/json");
}

// /api/chat: the body becomes an OpenAI chat request, validated and run as
// /v1/chat/completions is; only the answer's shape is Ollama's.
void api_chat(const httplib::Request& req, httplib::Response& res, ServerState& st) {
  const int64_t received_ns = now_unix_ns();
  const auto t0 = std::chrono::steady_clock::now();
  auto active = std::make_shared<ServerState::ActiveRequest>(st);
  try {
    json body;
    try {
      body = json::parse(req.body);
    } catch (const json::parse_error& e) {
      throw ApiError(400, std::string("the body is not valid JSON: ") + e.what());
    }
    const GenerationRequest r = parse_generation_request(ollama_chat_to_openai(body).dump(), Endpoint::ChatCompletions);
    std::shared_ptr<ModelHandle> model = st.models().acquire(r.model);
    const int64_t load_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    auto gen = std::make_shared<Generation>(model, r, st.limits_for(*model));
    auto stats = std::make_shared<OllamaDone>();
    stats->load_ns = load_ns;
    auto first = std::make_shared<std::chrono::steady_clock::time_point>();
    // Runs the generation to its end, calling `piece` with each text piece.
    // A stream notices a client that left when a write fails; a whole answer
    // writes nothing until the end, so it watches the connection (`client`).
    auto finish = [gen, stats, first, t0, &st](const std::function<bool(const std::string&)>& piece,
                                               const ClientConnection* client) {
      while (!gen->finished()) {
        if (st.aborting()) {
          gen->cancel();
          throw ApiError(503, "the server is shutting down; the request was cancelled");
        }
        if (client && client->gone()) {
          gen->cancel();
          throw client_gone_error();
        }
        auto p = gen->next(kPoll);
        if (!p) continue;
        if (*first == std::chrono::steady_clock::time_point{} && !p->text.empty()) *first = std::chrono::steady_clock::now();
        if (p->finished) stats->done_reason = p->finish_reason;
        if (!p->text.empty() && !piece(p->text)) return false;
      }
      const auto end = std::chrono::steady_clock::now();
      auto ns = [](auto d) { return int64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()); };
      const auto first_at = *first == std::chrono::steady_clock::time_point{} ? end : *first;
      stats->total_ns = ns(end - t0);
      stats->prompt_eval_count = gen->prompt_tokens();
      stats->prompt_eval_ns = std::max<int64_t>(0, ns(first_at - t0) - stats->load_ns);
      stats->eval_count = gen->completion_tokens();
      stats->eval_ns = ns(end - first_at);
      return true;
    };
    const std::string id = model->id;
    if (!r.stream) {
      const ClientConnection client(req);
      std::string text;
      finish(
          [&](const std::string& s) {
            text += s;
            return true;
          },
          &client);
      stats->content = text;
      res.set_content(ndjson_line(ollama_chat_done(id, now_unix_ns(), *stats)), "application/json");
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "application/x-ndjson",
        [gen, active, stats, finish, id](size_t, httplib::DataSink& sink) {
          auto send = [&](const std::string& s) {
            if (sink.write(s.data(), s.size())) return true;
            gen->cancel();  // the client is gone: free its sequence
            return false;
          };
          try {
            if (!finish([&](const std::string& s) { return send(ndjson_line(ollama_chat_chunk(id, now_unix_ns(), s))); },
                        nullptr))
              return false;
          } catch (const ApiError& e) {
            send(ndjson_line(ollama_error(e.what())));
            sink.done();
            return true;
          }
          if (!send(ndjson_line(ollama_chat_done(id, now_unix_ns(), *stats)))) return false;
          sink.done();
          return true;
        },
        [gen](bool) { gen->cancel(); });
    (void)received_ns;
  } catch (const ApiError& e) {
    set_ollama_error(res, e.status(), e.what(), e.retry_after_s);
  } catch (const InputError& e) {
    set_ollama_error(res, 400, e.what());
  }
}

}  // namespace

std::vector<Route> ops_routes() {
  return {
      {"GET", "/metrics", true,
       [](const httplib::Request&, httplib::Response& s, ServerState& st) {
         s.set_content(st.metrics().render(), kPrometheusContentType);
       }},
      {"GET", "/api/health", true,
       [](const httplib::Request&, httplib::Response& s, ServerState& st) {
         const json h = health_json(st);
         s.status = st.draining() ? 503 : 200;
         s.set_content(ndjson_line(h), "application/json");
       }},
      {"GET", "/api/models", false, api_models},
      {"GET", "/api/tags", false, api_models},
      {"POST", "/api/chat", false, api_chat},
      {"GET", "/", true,
       [](const httplib::Request&, httplib::Response& s, ServerState&) {
         const std::string_view page = chat_page_html();
         s.set_content(page.data(), page.size(), kChatPageContentType);
       }},
  };
}

}  // namespace qinfer::serve
