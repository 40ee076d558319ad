#include "qinfer/model/repack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "qinfer/formats/gguf.h"
#include "qinfer/kernels/packed.h"
#include "qinfer/model/model.h"

namespace qinfer {

namespace {

// Drops the whole pages of [p, p + n) from this process's memory. For a
// read-only private file mapping (never written) this only unmaps the page
// cache's pages; a later read faults them back in from the file.
void drop_pages(const uint8_t* p, size_t n) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t a = (uintptr_t(p) + page - 1) / page * page;
  const uintptr_t b = (uintptr_t(p) + n) / page * page;
  if (b > a) madvise(reinterpret_cast<void*>(a), b - a, MADV_DONTNEED);
}

}  // namespace

bool repack_allowed_by_env() {
  const char* env = std::getenv("QINFER_NO_REPACK");
  return !env || !*env || std::strcmp(env, "0") == 0;
}

bool repacks(TypeId type, int64_t n, int64_t rows) {
  const kernels::PackedFormat* f = kernels::packed_format(type);
  return f && kernels::has_packed_matmul(type) && rows >= f->rows_per_group && n > 0 && repack_allowed_by_env();
}

RepackSummary repack_weights(Model& m) {
  RepackSummary s;
  if (!m.gguf) return s;
  std::vector<const Tensor*> targets;
  for (const LayerWeights& L : m.layers)
    for (const Tensor* t : {L.wq, L.wk, L.wv, L.wo, L.ffn_gate, L.ffn_up, L.ffn_down}) targets.push_back(t);
  // A classifier shared with the embedding stays: the embedding's lookups read the file's rows.
  if (m.output && m.output != m.tok_embd) targets.push_back(m.output);
  std::vector<const Tensor*> done;
  for (const Tensor* ct : targets) {
    if (!ct || ct->packed || !repacks(ct->type, ct->ne[0], ct->rows()) || !m.gguf->maps(ct->data, ct->nbytes)) continue;
    Tensor& t = const_cast<Tensor&>(*ct);
    const kernels::PackedFormat& f = *kernels::packed_format(t.type);
    const size_t bytes = f.bytes(t.ne[0], t.rows());
    std::vector<uint8_t>& buf = m.owned_bytes.emplace_back(bytes + 63);
    uint8_t* dst = buf.data() + (64 - uintptr_t(buf.data()) % 64) % 64;
    f.pack(t.ne[0], t.rows(), t.data, t.row_bytes(), dst);
    t.packed = dst;
    drop_pages(t.data, t.nbytes);
    done.push_back(&t);
    ++s.tensors;
    s.bytes += bytes;
    s.file_bytes += t.nbytes;
    if (t.nbytes > s.largest_file_bytes) s.largest_file_bytes = t.nbytes;
  }
  // Reading a tensor's first pages maps cached neighbours (fault-around),
  // some of them an earlier tensor's: drop them all once more.
  for (const Tensor* t : done) drop_pages(t->data, t->nbytes);
  return s;
}

}  // namespace qinfer
