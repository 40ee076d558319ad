// Where the server's models come from. A ModelHandle is one loaded model with
// its engine and chat plan; requests hold it (shared_ptr) while they run, so
// a registry can tell which models are busy. SingleModel serves one model
// loaded at start-up; a registry over a models directory (lazy loading,
// eviction under a memory budget, aliases) implements the same interface.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qinfer/model/model.h"
#include "qinfer/runtime/chat_template.h"
#include "qinfer/runtime/engine.h"

namespace qinfer::serve {

struct ModelHandle {
  std::string id;                  // the name clients use ("model" field)
  std::unique_ptr<Model> model;
  std::unique_ptr<Engine> engine;  // started: steps while there is work
  ChatPlan chat;
  int64_t created = 0;             // unix seconds it was loaded
  std::atomic<int> in_flight{0};   // requests submitted and not yet finished

  ModelHandle() = default;
  ModelHandle(const ModelHandle&) = delete;
  ModelHandle& operator=(const ModelHandle&) = delete;
  ~ModelHandle();  // the engine goes before the model it points into
};

struct ModelListing {
  std::string id;
  int64_t created = 0;
  bool loaded = false;
};

class ModelProvider {
 public:
  virtual ~ModelProvider() = default;
  // The model a request names ("" = the default). Throws ApiError 404 naming
  // the known models for any other name.
  virtual std::shared_ptr<ModelHandle> acquire(const std::string& name) = 0;
  virtual std::vector<ModelListing> list() const = 0;
  // Every model now loaded (for health, metrics and draining).
  virtual std::vector<std::shared_ptr<ModelHandle>> loaded() const = 0;
};

// How a model file becomes a handle: its engine and chat template.
struct ModelLoadOptions {
  int threads = 0;
  EngineParams engine;                // n_threads is set from threads
  std::string chat_template_source;   // "" = the model's own
  std::string chat_template_origin;
};
std::shared_ptr<ModelHandle> make_model_handle(std::string id, std::unique_ptr<Model> model, const ModelLoadOptions& options);
// The id a model file gets: its file name without .gguf / .bin.
std::string model_id_from_path(const std::string& path);

class SingleModel final : public ModelProvider {
 public:
  explicit SingleModel(std::shared_ptr<ModelHandle> model) : model_(std::move(model)) {}
  std::shared_ptr<ModelHandle> acquire(const std::string& name) override;
  std::vector<ModelListing> list() const override;
  std::vector<std::shared_ptr<ModelHandle>> loaded() const override { return {model_}; }

 private:
  std::shared_ptr<ModelHandle> model_;
};

}  // namespace qinfer::serve
