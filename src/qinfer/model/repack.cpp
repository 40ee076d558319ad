#include "qinfer/model/repack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "qinfer/core/huge_buffer.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/kernels/packed.h"
#include "qinfer/model/model.h"

namespace qinfer {

namespace {

constexpr int64_t kGroupsPerSlice = 64;  // 1024 rows of Q4_0: 1.1 MiB at TinyLlama's 2048 columns

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

uint64_t repack_slice_bytes(TypeId type, int64_t n, int64_t rows) {
  const kernels::PackedFormat* f = kernels::packed_format(type);
  if (!f) return 0;
  const int64_t slice = std::min<int64_t>(rows, int64_t(f->rows_per_group) * (kGroupsPerSlice + 1));
  return uint64_t(slice) * row_size(type, n);
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
  // Every packed matrix in one huge-page arena (core/huge_buffer.h), each at a
  // 64-byte boundary: one mapping and at most one partly used huge page.
  // The matrices without a packed layout (F16, BF16, F32, ...) are copied
  // there as they are, for the same pages (F16 tg 1 thread +55 % at load 7).
  std::vector<Tensor*> chosen, moved;
  size_t total = 0;
  for (const Tensor* ct : targets) {
    if (!ct || ct->packed || !m.gguf->maps(ct->data, ct->nbytes)) continue;
    if (std::find(chosen.begin(), chosen.end(), ct) != chosen.end() ||
        std::find(moved.begin(), moved.end(), ct) != moved.end())
      continue;
    if (repacks(ct->type, ct->ne[0], ct->rows())) {
      chosen.push_back(const_cast<Tensor*>(ct));
      total += (kernels::packed_format(ct->type)->bytes(ct->ne[0], ct->rows()) + 63) / 64 * 64;
    } else if (repack_allowed_by_env()) {
      moved.push_back(const_cast<Tensor*>(ct));
      total += (ct->nbytes + 63) / 64 * 64;
    }
  }
  if (chosen.empty() && moved.empty()) return s;
  HugeBuffer& arena = m.packed_arenas.emplace_back(total);
  s.huge_pages = arena.huge();
  size_t offset = 0;
  std::vector<std::pair<const uint8_t*, size_t>> moved_from;  // their file bytes, dropped once more at the end
  for (Tensor* t : moved) {
    moved_from.emplace_back(t->data, t->nbytes);
    uint8_t* dst = arena.data() + offset;
    offset += (t->nbytes + 63) / 64 * 64;
    // 8 MiB at a time, each piece's file pages dropped once copied (one copy resident).
    constexpr size_t kPiece = size_t(8) << 20;
    for (size_t o = 0; o < t->nbytes; o += kPiece) {
      const size_t len = std::min(kPiece, t->nbytes - o);
      std::memcpy(dst + o, t->data + o, len);
      drop_pages(t->data + o, len);
    }
    t->data = dst;
    ++s.copied;
    s.copied_bytes += t->nbytes;
  }
  std::vector<const Tensor*> done;
  for (Tensor* tp : chosen) {
    Tensor& t = *tp;
    const kernels::PackedFormat& f = *kernels::packed_format(t.type);
    const size_t bytes = f.bytes(t.ne[0], t.rows());
    uint8_t* dst = arena.data() + offset;
    offset += (bytes + 63) / 64 * 64;
    // A slice of whole groups at a time, each slice's file pages dropped as
    // soon as it is packed: the file's copy and the packed one overlap by one
    // slice, not by a whole tensor (the 36 MiB classifier of TinyLlama).
    const int64_t rows = t.rows(), n = t.ne[0];
    const int64_t slice = int64_t(f.rows_per_group) * kGroupsPerSlice;
    for (int64_t r = 0; r < rows; r += slice) {
      // The last slice takes the tail.
      const int64_t take = rows - r <= slice + f.rows_per_group - 1 ? rows - r : slice;
      f.pack(n, take, t.data + size_t(r) * t.row_bytes(), t.row_bytes(), dst + f.bytes(n, r));
      drop_pages(t.data + size_t(r) * t.row_bytes(), size_t(take) * t.row_bytes());
      if (take != slice) break;
    }
    t.packed = dst;
    done.push_back(&t);
    ++s.tensors;
    s.bytes += bytes;
    s.file_bytes += t.nbytes;
    s.largest_slice_bytes = std::max<uint64_t>(s.largest_slice_bytes, repack_slice_bytes(t.type, t.ne[0], t.rows()));
  }
  // Reading a tensor's first pages maps cached neighbours (fault-around),
  // some of them an earlier tensor's: drop them all once more.
  for (const Tensor* t : done) drop_pages(t->data, t->nbytes);
  for (const auto& [p, n] : moved_from) drop_pages(p, n);
  return s;
}

std::string describe_weight_memory(const Model& m) {
  const RepackSummary& s = m.repack;
  if (s.tensors == 0 && s.copied == 0) return "weights in memory: the file's pages (nothing repacked)";
  const double mib = 1024.0 * 1024.0;
  char buf[256];
  std::string what;
  if (s.tensors > 0) {
    std::snprintf(buf, sizeof buf, "%d matrices repacked (%.1f MiB)", s.tensors, double(s.bytes) / mib);
    what = buf;
  }
  if (s.copied > 0) {
    std::snprintf(buf, sizeof buf, "%s%d copied as they are (%.1f MiB)", what.empty() ? "" : ", ", s.copied,
                  double(s.copied_bytes) / mib);
    what += buf;
  }
  size_t huge = 0, total = 0;
  for (const HugeBuffer& a : m.packed_arenas) {
    huge += a.huge_page_bytes();
    total += a.size();
  }
  std::snprintf(buf, sizeof buf, "; %.1f of %.1f MiB in 2 MiB pages%s", double(std::min(huge, total)) / mib,
                double(total) / mib, s.huge_pages || huge > 0 ? "" : " (huge pages off)");
  return "weights in memory: " + what + buf;
}

}  // namespace qinfer
