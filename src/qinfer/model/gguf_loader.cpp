// GGUF → Model: hyper-parameters from "<arch>.*" keys (gguf_hparams.h),
// tokenizer from "tokenizer.ggml.*", tensors as views into the mapped file.
#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/model/gguf_hparams.h"
#include "qinfer/model/loaders.h"
#include "qinfer/tokenizer/vocab.h"

namespace qinfer {

std::unique_ptr<Model> load_gguf_model(const std::string& path) {
  auto m = std::make_unique<Model>();
  m->path = path;
  m->format = "gguf";
  m->gguf = GgufFile::open(path);
  const GgufFile& f = *m->gguf;

  VocabData vocab = vocab_from_gguf(f);
  m->config = read_gguf_hparams(f, int(vocab.tokens.size()));
  if (m->config.n_vocab != int(vocab.tokens.size()))
    throw InputError(path + ": vocab_size " + std::to_string(m->config.n_vocab) + " does not match " +
                     std::to_string(vocab.tokens.size()) + " tokenizer tokens");
  m->tokenizer = std::make_unique<Tokenizer>(std::move(vocab));

  m->tensors.reserve(f.tensors().size());
  for (const GgufTensorInfo& ti : f.tensors()) {
    Tensor t;
    t.name = ti.name;
    t.type = ti.type;
    for (int d = 0; d < 4; ++d) t.ne[d] = ti.ne[d];
    t.n_dims = int(ti.n_dims);
    t.data = f.tensor_data(ti);
    t.nbytes = ti.nbytes;
    m->tensors.push_back(std::move(t));
  }
  bind_weights(*m);
  return m;
}

}  // namespace qinfer
