// ISA selection and the public kernel entry points: one table of function
// pointers per ISA, built once; the active one is picked at start-up from the
// CPU's features (or QINFER_ISA) and read lock-free on every call. The ISAs of
// this build's architecture are rows of kIsas; adding a path is one row.
#include <atomic>
#include <cstdlib>
#include <string>

#include "qinfer/core/arm_features.h"
#include "qinfer/core/error.h"
#include "qinfer/core/x86_features.h"
#include "qinfer/kernels/kernel_table.h"
#include "qinfer/kernels/kernel_types.h"
#include "qinfer/kernels/kernels_bnb.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/kernels/packed.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer::kernels {

namespace {

constexpr const char* kIsaNames[kIsaCount] = {"scalar", "avx2", "avx512", "neon", "neon_dot"};

struct IsaSpec {
  Isa isa;
  Isa base;                           // whose table this one starts from
  bool (*cpu_has)();                  // the CPU (and OS) support it
  void (*fill)(KernelTable&);         // its kernels over the base's
};

bool always() { return true; }
void fill_scalar(KernelTable& t) {
  fill_table_generic(t);
  fill_table_bnb_generic(t);
  fill_attention_generic(t);
}

#if defined(__x86_64__)
bool has_avx2() {
  const X86Features& x = x86_features();
  return x.avx2 && x.fma && x.f16c && x.bmi2;
}
bool has_avx512() {
  const X86Features& x = x86_features();
  return has_avx2() && x.avx512f && x.avx512bw && x.avx512vl && x.avx512dq;
}
void fill_avx2(KernelTable& t) {
  fill_table_avx2(t);
  fill_table_bnb_avx2(t);
  fill_attention_avx2(t);
}
// The avx512 path uses VNNI's dot instructions for the int8 block types and
// AVX-512 BF16's for BF16 weights when present.
void fill_avx512(KernelTable& t) {
  fill_table_avx512(t);
  fill_table_bnb_avx512(t);
  fill_attention_avx512(t);
  if (x86_features().avx512vnni) {
    fill_table_avx512vnni(t);
    fill_packed_kx16_avx512vnni(t);
  }
  if (x86_features().avx512bf16) fill_table_avx512bf16(t);
}
const IsaSpec kIsas[] = {
    {Isa::Scalar, Isa::Scalar, always, fill_scalar},
    {Isa::Avx2, Isa::Scalar, has_avx2, fill_avx2},
    {Isa::Avx512, Isa::Avx2, has_avx512, fill_avx512},
};
#elif defined(__aarch64__)
// FP16<->FP32 conversion (FCVTL/FCVTN) is baseline ARMv8-A, so the F16 kernels
// need no extension; SDOT/UDOT (HWCAP asimddp) selects neon_dot.
bool has_neon() { return arm_features().asimd; }
bool has_neon_dot() { return has_neon() && arm_features().dotprod; }
void fill_neon(KernelTable& t) {
  fill_table_neon(t);
  fill_table_bnb_neon(t);
  fill_attention_neon(t);
}
const IsaSpec kIsas[] = {
    {Isa::Scalar, Isa::Scalar, always, fill_scalar},
    {Isa::Neon, Isa::Scalar, has_neon, fill_neon},
    {Isa::NeonDot, Isa::Neon, has_neon_dot, fill_table_neon_dot},
};
#else
const IsaSpec kIsas[] = {
    {Isa::Scalar, Isa::Scalar, always, fill_scalar},
};
#endif

const IsaSpec* spec(Isa isa) {
  for (const IsaSpec& s : kIsas)
    if (s.isa == isa) return &s;
  return nullptr;
}

struct Tables {
  KernelTable t[kIsaCount];
  Tables() {
    for (const IsaSpec& s : kIsas) {  // bases come first in kIsas
      if (!s.cpu_has()) continue;
      if (s.isa != s.base) t[int(s.isa)] = t[int(s.base)];
      s.fill(t[int(s.isa)]);
    }
  }
};

const Tables& tables() {
  static const Tables tables;
  return tables;
}

// "scalar, avx2, avx512": this build's paths; only those this CPU runs when `supported_only`.
std::string isa_list(bool supported_only) {
  std::string s;
  for (const IsaSpec& i : kIsas)
    if (!supported_only || i.cpu_has()) s += (s.empty() ? "" : ", ") + std::string(kIsaNames[int(i.isa)]);
  return s;
}

// The best path, or the one QINFER_ISA names; a name that is unknown or that
// this CPU cannot run is an error rather than a silent fallback, so that a
// pinned benchmark never measures another path than it says.
Isa initial_isa() {
  const char* env = std::getenv("QINFER_ISA");
  if (!env || !*env) return best_supported_isa();
  const std::string want = env;
  for (const IsaSpec& i : kIsas) {
    if (want != kIsaNames[int(i.isa)]) continue;
    if (!i.cpu_has())
      throw InputError("QINFER_ISA=" + want + ": this CPU cannot run that kernel path (it runs: " + isa_list(true) + ")");
    return i.isa;
  }
  throw InputError("QINFER_ISA=" + want + ": unknown kernel path (known: " + isa_list(false) + ")");
}

struct Active {
  std::atomic<Isa> isa;
  std::atomic<const KernelTable*> table;
  Active() : isa(initial_isa()), table(&tables().t[int(isa.load())]) {}
};

Active& active() {
  static Active a;
  return a;
}

const KernelTable& table() { return *active().table.load(std::memory_order_acquire); }

[[noreturn]] void no_kernel(const char* what, TypeId type) {
  const TypeInfo* info = find_type(type);
  throw Error(std::string("no ") + what + " kernel for tensor type " +
              (info ? info->name : std::to_string(uint32_t(type))));
}

}  // namespace

const char* isa_name(Isa isa) {
  const int i = int(isa);
  return i >= 0 && i < kIsaCount ? kIsaNames[i] : "?";
}

const std::vector<Isa>& all_isas() {
  static const std::vector<Isa> isas = [] {
    std::vector<Isa> v;
    for (const IsaSpec& s : kIsas) v.push_back(s.isa);
    return v;
  }();
  return isas;
}

bool isa_supported(Isa isa) {
  const IsaSpec* s = spec(isa);
  return s && s->cpu_has();
}

Isa best_supported_isa() {
  Isa best = Isa::Scalar;
  for (const IsaSpec& s : kIsas)
    if (s.cpu_has()) best = s.isa;
  return best;
}

Isa active_isa() { return active().isa.load(std::memory_order_acquire); }

void set_isa(Isa isa) {
  if (!isa_supported(isa))
    throw Error(std::string("ISA ") + isa_name(isa) + " is not supported on this CPU or not in this build");
  active().table.store(&tables().t[int(isa)], std::memory_order_release);
  active().isa.store(isa, std::memory_order_release);
}

bool has_kernel(TypeId type) {
  const uint32_t slot = type_slot(type);
  return slot != kNoSlot && tables().t[0].vec_dot[slot] != nullptr && tables().t[0].matmul[slot] != nullptr;
}

std::vector<TypeId> types_with_kernels() {
  std::vector<TypeId> out;
  size_t n = 0;
  const TypeInfo* const* all = all_types(&n);
  for (size_t i = 0; i < n; ++i)
    if (has_kernel(all[i]->id)) out.push_back(all[i]->id);
  return out;
}

void convert_activations(TypeId type, const float* src, void* dst, int64_t n) {
  const uint32_t slot = type_slot(type);
  ConvertFn f = slot != kNoSlot ? table().convert[slot] : nullptr;
  if (!f) no_kernel("activation conversion", type);
  const TypeInfo& info = type_info(type);
  if (n % info.block_size != 0)
    throw Error("activation row of " + std::to_string(n) + " elements is not a multiple of the " + info.name +
                " block size " + std::to_string(info.block_size));
  f(src, dst, n);
}

float vec_dot(TypeId wtype, int64_t n, const void* w_row, const void* x_row) {
  const uint32_t slot = type_slot(wtype);
  VecDotFn f = slot != kNoSlot ? table().vec_dot[slot] : nullptr;
  if (!f) no_kernel("dot product", wtype);
  return f(n, w_row, x_row);
}

void matmul_rows(TypeId wtype, int64_t n, const void* W, size_t w_stride, int64_t r0, int64_t r1, const void* X,
                 size_t x_stride, int64_t n_tok, float* Y, int64_t ldy) {
  const uint32_t slot = type_slot(wtype);
  MatmulFn f = slot != kNoSlot ? table().matmul[slot] : nullptr;
  if (!f) no_kernel("matmul", wtype);
  if (r1 <= r0 || n_tok <= 0) return;
  f(n, W, w_stride, r0, r1, X, x_stride, n_tok, Y, ldy);
}

bool has_packed_matmul(TypeId type) {
  const uint32_t slot = type_slot(type);
  return slot != kNoSlot && table().matmul_packed[slot] != nullptr && packed_format(type) != nullptr;
}

void matmul_packed(TypeId wtype, int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X,
                   size_t x_stride, int64_t n_tok, float* Y, int64_t ldy) {
  const uint32_t slot = type_slot(wtype);
  PackedMatmulFn f = slot != kNoSlot ? table().matmul_packed[slot] : nullptr;
  if (!f) no_kernel("packed matmul", wtype);
  if (r0 < 0 || r1 > rows) throw Error("packed matmul: rows [" + std::to_string(r0) + ", " + std::to_string(r1) +
                                       ") outside the matrix's " + std::to_string(rows));
  if (r1 <= r0 || n_tok <= 0) return;
  f(n, P, rows, r0, r1, X, x_stride, n_tok, Y, ldy);
}

void attention(const KvHeadView& kv, const AttentionRows& rows, void* scratch, size_t scratch_bytes) {
  const char* pk = kv_type_problem(kv.k_type, kv.head_dim);
  const char* pv = kv_type_problem(kv.v_type, kv.head_dim);
  if (*pk || *pv) throw Error(std::string("attention: ") + (*pk ? pk : pv));
  if (kv.block_size <= 0 || kv.block_size % kKeyTile != 0)
    throw Error("attention: KV block size " + std::to_string(kv.block_size) + " is not a multiple of " +
                std::to_string(kKeyTile));
  table().attention(kv, rows, scratch, scratch_bytes);
}

}  // namespace qinfer::kernels
