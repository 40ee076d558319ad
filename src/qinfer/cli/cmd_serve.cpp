// qinfer serve: an OpenAI-compatible HTTP server over the batching engine.
// This file only reads flags, loads the model and runs serve::Server; SIGTERM
// and SIGINT drain it (running requests finish, new ones get 503) and exit 0.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/cli/kv_args.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/cli/placement.h"
#include "qinfer/core/cpu_info.h"
#include "qinfer/core/format.h"
#include "qinfer/core/read_file.h"
#include "qinfer/serve/registry_provider.h"
#include "qinfer/serve/server.h"

namespace qinfer::cli {

namespace {

struct ServeArgs {
  ModelArgs model;
  KvArgs kv;
  serve::ServeOptions server;
  int n_ctx = 0;
  int parallel = 4;
  int max_body = 1 << 20;
  std::string chat_template_file;
  std::string models_dir;
  PlacementArgs placement;
  std::vector<std::string> aliases;
};

// Termination signals go to one thread that drains the server; every other
// thread (engine, HTTP workers) is started with them blocked.
sigset_t termination_signals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGUSR1);  // the server stopped by itself: wake the waiter
  return s;
}

// --memory-budget means what it means on run and bench: the memory loads may
// use (default: RAM available at start). Each model is planned as the engine
// will hold it (its context for --parallel sequences, KV types, buffers); the
// registry keeps resident what fits the budget, the process itself counted
// once. A model that alone does not fit is refused with the plan's line
// (at start for -m: exit 2; on request: a 400 model_too_large), unless --force.
void set_memory_budget(const ServeArgs& a, serve::ModelRegistryOptions& ro) {
  const DeviceChoice device = choose_device(a.placement);
  const LoadShape shape{a.n_ctx, a.parallel, EngineParams{}.prefill_chunk, a.model.threads, 1, a.kv};
  const int64_t given = memory_budget_bytes(a.placement);
  const uint64_t budget = given >= 0 ? uint64_t(given) : detect_cpu().ram_available_bytes;
  ro.memory_budget = budget > kProcessOverheadBytes ? budget - kProcessOverheadBytes : 1;
  ro.force = a.placement.force;
  for (const std::string& path : ro.model_paths) check_memory_fits(a.placement, device, path, shape);
  PlacementArgs planned = a.placement;
  planned.memory_budget = std::to_string(budget);
  ro.estimate_bytes = [planned, device, shape](const serve::ModelSource& source) -> uint64_t {
    std::optional<MemoryPlan> p;
    try {
      p = plan_load(planned, device, source.path, shape);
    } catch (const InputError&) {
      return source.file_bytes;  // not a model qinfer runs: the load says why
    }
    if (!p) return source.file_bytes;
    if (!p->fits && !planned.force)
      throw serve::ModelTooLarge("model '" + source.id + "' " + plan_summary(*p) + " (--force on the server loads it anyway)");
    return p->predicted_peak_bytes - std::min(p->predicted_peak_bytes, p->overhead_bytes);
  };
}

void serve_main(ServeArgs& a) {
  std::signal(SIGPIPE, SIG_IGN);
  const sigset_t signals = termination_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Every model (the -m file and --models-dir's) loads the same way, on first
  // request; -m's (the default without --models-dir) is loaded now.
  serve::ModelLoadOptions lo;
  lo.threads = a.model.threads;
  lo.engine.n_ctx = a.n_ctx;
  lo.engine.max_seqs = a.parallel;
  if (!a.chat_template_file.empty()) {
    lo.chat_template_source = read_whole_file(a.chat_template_file);
    lo.chat_template_origin = a.chat_template_file;
  }
  serve::ModelRegistryOptions ro;
  if (!a.model.model.empty() || a.models_dir.empty()) ro.model_paths = {model_path_from_args(a.model)};
  ro.models_dir = a.models_dir;
  ro.aliases = a.aliases;
  set_memory_budget(a, ro);
  auto make_handle = [a, lo](const serve::ModelSource& source) {
    ModelArgs margs = a.model;
    margs.model = source.path;
    auto model = load_model_from_args(margs);
    serve::ModelLoadOptions o = lo;
    apply_kv_args(a.kv, *model, o.engine);
    auto handle = serve::make_model_handle(source.id, std::move(model), o);
    std::fprintf(stderr, "qinfer serve: model %s: context %d tokens per sequence, %d sequences at once, KV pool %d tokens; chat: %s\n",
                 handle->id.c_str(), handle->engine->n_ctx(), handle->engine->max_seqs(),
                 handle->engine->kv_capacity_tokens(), handle->chat.reason.c_str());
    return handle;
  };
  auto provider = std::make_unique<serve::RegistryProvider>(ro, make_handle);
  if (!ro.model_paths.empty()) provider->acquire("");  // loaded now: errors show at start-up
  std::fprintf(stderr, "qinfer serve: models: %s\n", provider->registry().known_ids().c_str());

  a.server.max_body = size_t(a.max_body);
  serve::Server server(a.server, std::move(provider));
  const int port = server.bind();
  std::fprintf(stderr, "qinfer serve: listening on http://%s:%d (OpenAI API at /v1)\n", a.server.host.c_str(), port);
  std::fflush(stderr);

  std::atomic<bool> stopped{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (stopped) return;
    std::fprintf(stderr, "qinfer serve: %s: draining (up to %g s), new requests get 503\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", a.server.drain_timeout_s);
    server.drain();
  });
  server.run();
  stopped = true;
  pthread_kill(waiter.native_handle(), SIGUSR1);
  waiter.join();
  std::fprintf(stderr, "qinfer serve: stopped\n");
}

}  // namespace

void define_serve(CLI::App& cmd) {
  auto a = std::make_shared<ServeArgs>();
  add_model_args(cmd, a->model);
  add_load_in_arg(cmd, a->model);
  add_kv_args(cmd, a->kv);
  cmd.add_option("--host", a->server.host, "address to listen on")->capture_default_str();
  cmd.add_option("--port", a->server.port, "port to listen on (0: any free port)")->capture_default_str()->check(Allowed::ints(0, 65535));
  cmd.add_option("-c,--ctx-size", a->n_ctx, "context per sequence (default: the model's, at most 4096)")->check(Allowed::ints(1, 1 << 22));
  cmd.add_option("--parallel", a->parallel, "sequences decoded together (llama-server's -np)")
      ->capture_default_str()->check(Allowed::ints(1, 1024));
  cmd.add_option("--api-key", a->server.api_key, "require this key (Authorization: Bearer KEY) on the API")
      ->envname("QINFER_API_KEY");
  cmd.add_flag("--api-key-all", a->server.api_key_all, "require the key on /health too");
  cmd.add_option("--max-body", a->max_body, "largest request body in bytes (413 beyond)")
      ->capture_default_str()->check(Allowed::ints(64, 1 << 30));
  cmd.add_option("--timeout", a->server.timeout_s,
                 "seconds a client gets to send a whole request, and a read or write may stall, before the "
                 "connection is closed")
      ->capture_default_str()->check(Allowed::ints(1, 3600));
  cmd.add_option("--max-queue", a->server.max_queue, "requests that may wait beyond the running ones (429 beyond)")
      ->capture_default_str()->check(Allowed::ints(0, 1 << 20));
  cmd.add_option("--http-threads", a->server.http_threads, "connections served at once (0: 256)")
      ->capture_default_str()->check(Allowed::ints(0, 1 << 14));
  cmd.add_option("--drain-timeout", a->server.drain_timeout_s, "on SIGTERM, seconds running requests get to finish")
      ->capture_default_str()->check(Allowed::reals(0, 86400));
  cmd.add_option("--models-dir", a->models_dir, "also serve every .gguf file in DIR, loaded on first request (id: file name without .gguf)");
  add_placement_args(cmd, a->placement);
  cmd.get_option("--memory-budget")
      ->description("memory the resident models may use (e.g. 8G, 512M; default: RAM available at start): each is "
                    "planned as `qinfer plan --ctx C --parallel N` would; to make room the least recently used idle "
                    "model is unloaded; a model that alone does not fit is refused");
  cmd.get_option("--force")->description("load a model even when it alone does not fit --memory-budget");
  cmd.add_option("--alias", a->aliases, "NAME: the name clients use for -m's model; NAME=MODEL: another name for a model")
      ->take_all();
  cmd.add_option("--chat-template", a->chat_template_file, "Jinja chat template file to use instead of the model's");
  cmd.callback([a] { serve_main(*a); });
}

}  // namespace qinfer::cli
