#include "qinfer/serve/model_provider.h"

#include <chrono>
#include <filesystem>

#include "qinfer/serve/api_error.h"

namespace qinfer::serve {

ModelHandle::~ModelHandle() { engine.reset(); }

std::shared_ptr<ModelHandle> make_model_handle(std::string id, std::unique_ptr<Model> model, const ModelLoadOptions& options) {
  auto h = std::make_shared<ModelHandle>();
  h->id = std::move(id);
  h->model = std::move(model);
  h->chat = plan_chat(*h->model->tokenizer, options.chat_template_source, options.chat_template_origin);
  EngineParams ep = options.engine;
  ep.n_threads = options.threads;
  h->engine = std::make_unique<Engine>(*h->model, ep);
  h->engine->start();
  h->created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return h;
}

std::string model_id_from_path(const std::string& path) {
  std::filesystem::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/"
  const std::string ext = p.extension().string();
  return ext == ".gguf" || ext == ".bin" ? p.stem().string() : p.filename().string();
}

std::shared_ptr<ModelHandle> SingleModel::acquire(const std::string& name) {
  if (name.empty() || name == model_->id) return model_;
  throw ApiError(404, "model '" + name + "' not found; this server has: " + model_->id, "model", "", "model_not_found");
}

std::vector<ModelListing> SingleModel::list() const { return {{model_->id, model_->created, true}}; }

}  // namespace qinfer::serve
