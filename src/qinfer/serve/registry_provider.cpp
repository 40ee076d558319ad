#include "qinfer/serve/registry_provider.h"

#include "qinfer/serve/api_error.h"

namespace qinfer::serve {

namespace {

struct ResidentHandle final : ServedModel {
  std::shared_ptr<ModelHandle> handle;
  uint64_t bytes = 0;
  uint64_t resident_bytes() const override { return bytes; }
};

// The handle, owned through the lease: the registry sees it held.
std::shared_ptr<ModelHandle> handle_of(const ModelRegistry::Lease& lease) {
  return std::shared_ptr<ModelHandle>(lease.shared(), lease.as<ResidentHandle>().handle.get());
}

}  // namespace

uint64_t handle_resident_bytes(const ModelHandle& h) {
  uint64_t bytes = h.model ? h.model->weight_bytes() : 0;
  if (h.engine) bytes += h.engine->stats().bytes_total;
  return bytes;
}

RegistryProvider::RegistryProvider(ModelRegistryOptions options, MakeHandle make_handle) {
  options.load = [make_handle = std::move(make_handle)](const ModelSource& source) -> std::shared_ptr<ServedModel> {
    auto r = std::make_shared<ResidentHandle>();
    r->handle = make_handle(source);
    r->handle->id = source.id;
    r->bytes = handle_resident_bytes(*r->handle);
    return r;
  };
  registry_ = std::make_unique<ModelRegistry>(std::move(options));
}

std::shared_ptr<ModelHandle> RegistryProvider::acquire(const std::string& name) {
  try {
    return handle_of(registry_->acquire(name));
  } catch (const ModelNotFound& e) {
    throw ApiError(404, e.what(), "model", "", "model_not_found");
  } catch (const ModelTooLarge& e) {
    throw ApiError(400, e.what(), "model", "", "model_too_large");
  } catch (const ModelUnavailable& e) {
    ApiError err(503, e.what(), "model", "", "model_unavailable");
    err.retry_after_s = 5;
    throw err;
  }
}

std::vector<ModelListing> RegistryProvider::list() const {
  std::vector<ModelListing> out;
  for (const ModelStatus& s : registry_->list()) {
    ModelListing m;
    m.id = s.source.id;
    m.loaded = s.loaded;
    m.created = s.created_unix;
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::shared_ptr<ModelHandle>> RegistryProvider::loaded() const {
  std::vector<std::shared_ptr<ModelHandle>> out;
  for (const ModelRegistry::Lease& l : registry_->resident()) out.push_back(handle_of(l));
  return out;
}

}  // namespace qinfer::serve
