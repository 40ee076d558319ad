#include "qinfer/serve/model_listing.h"

#include <sys/stat.h>

#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/model/model.h"

namespace qinfer::serve {

namespace {

int64_t modified_ns(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

ModelCard describe_model(const ModelStatus& status) {
  ModelCard m;
  m.id = status.source.id;
  m.aliases = status.source.aliases;
  m.path = status.source.path;
  m.size = status.source.file_bytes;
  m.modified_unix_ns = modified_ns(m.path);
  m.loaded = status.loaded;
  m.resident_bytes = status.resident_bytes;
  try {
    auto f = GgufFile::open(m.path);
    m.architecture = f->get_string("general.architecture", "");
    m.quantization = file_type_name(*f);
    for (const GgufTensorInfo& t : f->tensors()) m.parameters += t.n_elements();
    if (!m.architecture.empty()) m.context_length = int(f->get_int(m.architecture + ".context_length", 0));
  } catch (const Error& e) {
    m.error = e.what();
  }
  return m;
}

std::vector<ModelCard> describe_models(const std::vector<ModelStatus>& models) {
  std::vector<ModelCard> out;
  out.reserve(models.size());
  for (const ModelStatus& s : models) out.push_back(describe_model(s));
  return out;
}

}  // namespace qinfer::serve
