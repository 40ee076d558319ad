// GGUF → Model: hyper-parameters from "<arch>.*" keys (gguf_hparams.h),
// tokenizer from "tokenizer.ggml.*", tensors as views into the mapped file.
#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/model/gguf_hparams.h"
#include "qinfer/model/loaders.h"
#include "qinfer/quant/bnb4.h"
#include "qinfer/tokenizer/vocab.h"

namespace qinfer {

namespace {

// Double-quantized NF4/FP4 tensors are stored with 8-bit absmax codes and a
// companion "<name>.dq" state; the kernels run NF4/FP4, so they are expanded
// here (the absmax back to float32, as bitsandbytes does before each matmul).
void expand_double_quant_tensors(Model& m) {
  for (Tensor& t : m.tensors) {
    if (!is_double_quant(t.type)) continue;
    const Tensor* st = m.find(double_quant_state_name(t.name));
    if (!st || st->type != TypeId::F32)
      throw InputError(m.path + ": tensor " + t.name + " is double-quantized but its F32 state " +
                       double_quant_state_name(t.name) + " is missing");
    const int64_t nb = t.n_elements() / kQK_BNB4;
    std::vector<uint8_t>& buf = m.owned_bytes.emplace_back(size_t(nb) * sizeof(BlockBnb4));
    expand_double_quant(reinterpret_cast<const BlockBnb4DQ*>(t.data), nb, reinterpret_cast<const float*>(st->data),
                        st->n_elements(), reinterpret_cast<BlockBnb4*>(buf.data()));
    t.type = double_quant_base(t.type);
    t.data = buf.data();
    t.nbytes = buf.size();
  }
}

}  // namespace

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
  expand_double_quant_tensors(*m);
  bind_weights(*m);
  return m;
}

}  // namespace qinfer
