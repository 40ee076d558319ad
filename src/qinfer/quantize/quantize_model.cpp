#include "qinfer/quantize/quantize_model.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <numeric>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "qinfer/core/error.h"
#include "qinfer/core/thread_pool.h"
#include "qinfer/core/threads.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/formats/gguf_writer.h"
#include "qinfer/model/gguf_hparams.h"
#include "qinfer/model/model.h"
#include "qinfer/model/weight_names.h"
#include "qinfer/quant/bnb4.h"
#include "qinfer/quant/int8_rows.h"
#include "qinfer/quantize/imatrix_file.h"
#include "qinfer/quant/quant_common.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/tensor_policy.h"

namespace qinfer {

namespace {

using Clock = std::chrono::steady_clock;

// Rows are converted in slabs of about this many floats (16 MiB), so memory
// stays bounded by the slab, not the tensor or the model.
constexpr int64_t kSlabElements = int64_t(1) << 22;

// Input pages already converted are dropped from this process (they stay in
// the page cache): the resident set then holds one slab of the input, not
// the whole mapped model. Only whole pages inside [p, p + n) are released.
void release_input(const uint8_t* p, size_t n) {
  static const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (uintptr_t(p) + page - 1) & ~(page - 1);
  const uintptr_t end = (uintptr_t(p) + n) & ~(page - 1);
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// What the policy's rules read, through the loader's codec (model/gguf_hparams):
// check_before_quantizing has loaded the model, so its keys are known good.
ModelShape read_shape(const GgufFile& f) {
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  const ModelConfig c = read_gguf_hparams(f, tokens ? int(tokens->arr.size()) : 0);
  if (f.get_int(c.arch + ".expert_count", 0) > 1)
    throw InputError(f.path() + ": quantizing mixture-of-experts models is not supported");
  return ModelShape{c.arch, c.n_layer, c.n_head, c.n_head_kv};
}

// Everything that would make the output useless or destroy the input is
// refused before any work: the input must load as a model qinfer runs (so
// the output will too), and the output must be a new file name, not the
// input itself (also through a symlink or hard link) nor a directory.
void check_before_quantizing(const QuantizeParams& qp) {
  struct stat in_st{}, out_st{};
  if (::stat(qp.input.c_str(), &in_st) != 0)
    throw InputError(qp.input + ": cannot open: " + std::strerror(errno));
  if (::stat(qp.output.c_str(), &out_st) == 0) {
    if (S_ISDIR(out_st.st_mode)) throw InputError(qp.output + ": is a directory; give the output file's name");
    if (out_st.st_dev == in_st.st_dev && out_st.st_ino == in_st.st_ino)
      throw InputError(qp.output + ": is the input file itself; write the quantized model to another file");
  }
  const std::filesystem::path dir = std::filesystem::path(qp.output).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    throw InputError(qp.output + ": directory " + dir.string() + " does not exist");
  try {
    load_model(qp.input);
  } catch (const InputError& e) {
    throw InputError(std::string(e.what()) + " (not quantizing: nothing could run the output)");
  }
}

struct PlannedTensor {
  const GgufTensorInfo* info;
  TensorChoice choice;
  const std::vector<float>* imatrix = nullptr;
  std::string note;
  float int8_threshold = kInt8DefaultThreshold;
};

// Converts one tensor slab by slab and streams the bytes to `write`.
void convert_tensor(const GgufFile& in, const PlannedTensor& p, ThreadPool& pool, const GgufWriteFn& write) {
  const GgufTensorInfo& t = *p.info;
  const TypeInfo& src = type_info(t.type);
  const TypeInfo& dst = type_info(p.choice.type);
  const int64_t n = t.ne[0];
  const int64_t rows = t.n_elements() / n;
  const int64_t rows_per_matrix = t.ne[1];
  const size_t src_row = row_size(t.type, n), dst_row = row_size(p.choice.type, n);
  const int64_t slab = std::clamp<int64_t>(kSlabElements / n, 1, rows);
  std::vector<float> f32(t.type == TypeId::F32 ? 0 : size_t(slab * n));
  std::vector<uint8_t> out(size_t(slab) * dst_row);
  const uint8_t* base = in.tensor_data(t);

  for (int64_t r0 = 0; r0 < rows; r0 += slab) {
    const int64_t nr = std::min(slab, rows - r0);
    std::atomic<int64_t> bad_row{INT64_MAX};
    pool.parallel_for(nr, [&](int64_t a, int64_t b) {
      const float* x = t.type == TypeId::F32 ? reinterpret_cast<const float*>(base + size_t(r0) * src_row) : f32.data();
      for (int64_t r = a; r < b; ++r) {
        if (t.type != TypeId::F32) src.to_float(base + size_t(r0 + r) * src_row, f32.data() + r * n, n);
        if (row_has_nonfinite(x + r * n, n)) {
          int64_t cur = bad_row.load();
          while (r0 + r < cur && !bad_row.compare_exchange_weak(cur, r0 + r)) {}
          return;
        }
      }
      // Each matrix of a 3-D tensor has its own slice of the importance matrix.
      for (int64_t r = a; r < b;) {
        const int64_t m = (r0 + r) / rows_per_matrix;
        const int64_t end = std::min(b, (m + 1) * rows_per_matrix - r0);
        const float* imat = p.imatrix ? p.imatrix->data() + m * n : nullptr;
        if (dst.id == TypeId::INT8)
          quantize_int8_rows(x + r * n, out.data() + size_t(r) * dst_row, end - r, n, p.int8_threshold);
        else
          dst.quantize(x + r * n, out.data() + size_t(r) * dst_row, end - r, n, imat);
        r = end;
      }
    });
    if (bad_row.load() != INT64_MAX) {
      const int64_t r = bad_row.load();
      const int64_t col = t.type == TypeId::F32
                              ? find_nonfinite(reinterpret_cast<const float*>(base + size_t(r) * src_row), n)
                              : find_nonfinite(f32.data() + (r - r0) * n, n);
      throw InputError(in.path() + ": tensor " + t.name + " has a NaN or Inf weight (row " + std::to_string(r) +
                       ", column " + std::to_string(col) + "); refusing to quantize it");
    }
    write(out.data(), size_t(nr) * dst_row);
    release_input(base + size_t(r0) * src_row, size_t(nr) * src_row);
  }
}

std::vector<PlannedTensor> plan(const GgufFile& in, const QuantizeParams& qp, const FileTypeInfo& ft,
                                const ImatrixFile* imatrix, int* n_fallback) {
  std::vector<const GgufTensorInfo*> order;
  for (const GgufTensorInfo& t : in.tensors()) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(),
                   [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return llama_tensor_less(a->name, b->name); });
  std::vector<std::string> names;
  for (const GgufTensorInfo* t : order) names.push_back(t->name);

  PolicyOptions po;
  po.output_type = qp.output_type;
  po.token_embd_type = qp.token_embd_type;
  po.quantize_output = !qp.leave_output_tensor;
  po.pure = qp.pure;
  po.has_imatrix = imatrix && !imatrix->entries.empty();
  TensorPolicy policy(ft, read_shape(in), po, names);

  std::vector<PlannedTensor> out;
  for (const GgufTensorInfo* t : order) {
    PolicyTensor pt{t->name, {t->ne[0], t->ne[1], t->ne[2], t->ne[3]}, t->type};
    PlannedTensor p{t, policy.choose(pt), nullptr, {}};
    p.note = p.choice.note;
    p.int8_threshold = qp.int8_threshold;
    if (p.choice.convert) {
      const TypeInfo& src = type_info(t->type);
      const TypeInfo& dst = type_info(p.choice.type);
      if (src.quantized && !qp.allow_requantize)
        throw InputError(in.path() + ": tensor " + t->name + " is already " + src.name +
                         "; requantizing is disabled (pass --allow-requantize to dequantize and quantize again)");
      if (!src.to_float) throw InputError(in.path() + ": cannot convert tensor " + t->name + " of type " + src.name);
      if (!dst.quantize && !is_double_quant(dst.id))
        throw InputError(std::string("quantizing to ") + dst.name + " is not supported");
      if (imatrix && po.has_imatrix) {
        p.imatrix = imatrix->find(t->name);
        if (!p.imatrix) {
          if (!p.note.empty()) p.note += "; ";
          p.note += "no importance matrix entry";
        } else if (int64_t(p.imatrix->size()) != t->ne[0] * t->ne[2]) {
          // llama-quantize tolerates this only for token_embd.weight.
          if (t->name != names::token_embd)
            throw InputError(qp.imatrix + ": entry " + t->name + " has " + std::to_string(p.imatrix->size()) +
                             " values, the tensor needs " + std::to_string(t->ne[0] * t->ne[2]));
          p.imatrix = nullptr;
        }
      }
    }
    out.push_back(std::move(p));
  }
  *n_fallback = policy.n_fallback();
  return out;
}

void set_last(GgufWriter& w, const std::string& key, GgufValue v) {
  // gguf_set_val_* in llama.cpp removes the key and appends it: same order here.
  w.remove(key);
  w.set(key, std::move(v));
}

}  // namespace

uint64_t quantized_tensor_bytes(const GgufFile& in, const std::string& type) {
  QuantizeParams qp;
  qp.type = type;
  qp.allow_requantize = true;  // sizes only: what the types would be
  int n_fallback = 0;
  uint64_t bytes = 0;
  for (const PlannedTensor& p : plan(in, qp, parse_file_type(type), nullptr, &n_fallback)) {
    const GgufTensorInfo& t = *p.info;
    bytes += p.choice.convert ? row_size(p.choice.type, t.ne[0]) * uint64_t(t.n_elements() / t.ne[0]) : t.nbytes;
  }
  return bytes;
}

QuantizeSummary quantize_model(const QuantizeParams& qp, const QuantizeProgressFn& progress,
                               const CalibrationProgressFn& calibration_progress) {
  const auto t_start = Clock::now();
  const FileTypeInfo& ft = parse_file_type(qp.type);
  if (qp.output.empty()) throw InputError("no output file given");
  check_before_quantizing(qp);
  check_calibrated_options(qp.calibrated, ft.base);
  auto in = GgufFile::open(qp.input);
  std::optional<ImatrixFile> imatrix;
  if (!qp.imatrix.empty()) imatrix = read_imatrix_file(qp.imatrix);

  QuantizeSummary sum;
  std::vector<PlannedTensor> planned = plan(*in, qp, ft, imatrix ? &*imatrix : nullptr, &sum.n_fallback);

  const int n_threads = resolve_thread_count(qp.threads);
  CalibrationOutcome calibrated;
  const QuantMethod method = qp.calibrated.method;
  if (method != QuantMethod::Rtn) {
    std::map<std::string, TypeId> targets;
    for (const PlannedTensor& p : planned)
      if (p.choice.convert) targets[p.info->name] = p.choice.type;
    calibrated = run_calibrated_quantization(qp.input, targets, ft.base, qp.calibrated, n_threads, calibration_progress);
    sum.n_calibrated = calibrated.n_calibrated;
    sum.notes = calibrated.notes;
    sum.calibration = calibrated.source + ": " + std::to_string(calibrated.n_windows) + " windows of " +
                      std::to_string(calibrated.window) + " tokens (of " + std::to_string(calibrated.text_tokens) +
                      "), seed " + std::to_string(qp.calibrated.calib.seed);
  }

  // Double-quantized tensors need the whole tensor at once (one offset and
  // nested absmax per tensor): computed here, with their companion state.
  std::map<std::string, std::vector<float>> dq_states;
  for (const PlannedTensor& p : planned) {
    if (!p.choice.convert || !is_double_quant(p.choice.type)) continue;
    const GgufTensorInfo& t = *p.info;
    const int64_t n = t.ne[0], rows = t.n_elements() / n;
    std::vector<float> f(size_t(rows * n));
    const size_t src_row = row_size(t.type, n);
    for (int64_t r = 0; r < rows; ++r) type_info(t.type).to_float(in->tensor_data(t) + size_t(r) * src_row, &f[size_t(r * n)], n);
    if (row_has_nonfinite(f.data(), int64_t(f.size())))
      throw InputError(in->path() + ": tensor " + t.name + " has a NaN or Inf weight; refusing to quantize it");
    DoubleQuantTensor dq = double_quantize_tensor(f.data(), rows, n, p.choice.type);
    calibrated.tensors[t.name] = {p.choice.type, std::move(dq.blocks)};
    dq_states[t.name] = std::move(dq.state);
  }

  GgufWriter w;
  w.copy_metadata(*in);
  for (const char* key : {"split.no", "split.count", "split.tensors.count"}) w.remove(key);
  set_last(w, "general.quantization_version", gguf_scalar(uint32_t(2)));
  set_last(w, "general.file_type", gguf_scalar(uint32_t(ft.ftype)));
  if (imatrix && !imatrix->entries.empty()) {
    set_last(w, "quantize.imatrix.file", gguf_scalar(qp.imatrix));
    if (!imatrix->dataset.empty()) set_last(w, "quantize.imatrix.dataset", gguf_scalar(imatrix->dataset));
    set_last(w, "quantize.imatrix.entries_count", gguf_scalar(int32_t(imatrix->entries.size())));
    if (imatrix->last_call > 0) set_last(w, "quantize.imatrix.chunks_count", gguf_scalar(int32_t(imatrix->last_call)));
  }

  if (type_info(ft.base).id == TypeId::INT8) set_last(w, "qinfer.int8.threshold", gguf_scalar(qp.int8_threshold));
  if (method != QuantMethod::Rtn) {
    const CalibratedOptions& co = qp.calibrated;
    set_last(w, "qinfer.quantize.method", gguf_scalar(std::string(quant_method_name(method))));
    set_last(w, "qinfer.quantize.calibration", gguf_scalar(sum.calibration));
    if (method == QuantMethod::Gptq) {
      set_last(w, "qinfer.quantize.gptq.damp", gguf_scalar(float(co.damp)));
      set_last(w, "qinfer.quantize.gptq.act_order", gguf_scalar(co.act_order));
      set_last(w, "qinfer.quantize.gptq.group_size", gguf_scalar(int32_t(co.group_size)));
      set_last(w, "qinfer.quantize.gptq.embedding", gguf_scalar(co.calibrate_embedding));
    } else {
      set_last(w, "qinfer.quantize.awq.grid", gguf_scalar(int32_t(co.awq_grid)));
      set_last(w, "qinfer.quantize.awq.clip", gguf_scalar(co.awq_clip));
    }
  }
  ThreadPool pool(n_threads);
  sum.tensors.resize(planned.size());
  for (size_t i = 0; i < planned.size(); ++i) {
    const PlannedTensor& p = planned[i];
    const GgufTensorInfo& t = *p.info;
    QuantizedTensor& q = sum.tensors[i];
    const auto over = calibrated.tensors.find(t.name);
    const CalibratedTensor* ct = over == calibrated.tensors.end() ? nullptr : &over->second;
    // The folding check writes every tensor it did not fold as it was.
    const TypeId out_type = ct ? ct->type : qp.calibrated.awq_fold_only ? t.type : p.choice.type;
    q = {t.name, t.type, out_type, t.nbytes, 0, p.choice.fallback, p.imatrix != nullptr};
    const std::vector<int64_t> ne(t.ne, t.ne + std::max<uint32_t>(t.n_dims, 1));
    q.bytes_out = GgufWriter::tensor_nbytes(out_type, ne);
    if (ct && ct->bytes.size() != q.bytes_out) throw Error(t.name + ": calibrated tensor has the wrong size");
    sum.input_bytes += t.nbytes;
    sum.output_bytes += q.bytes_out;
    sum.n_params += t.n_elements();
    w.add_tensor(t.name, out_type, ne, [&, i, ct](const GgufWriteFn& write) {
      const auto t0 = Clock::now();
      if (ct)
        write(ct->bytes.data(), ct->bytes.size());
      else if (p.choice.convert && !qp.calibrated.awq_fold_only)
        convert_tensor(*in, p, pool, write);
      else {
        write(in->tensor_data(t), size_t(t.nbytes));
        release_input(in->tensor_data(t), size_t(t.nbytes));
      }
      if (progress) progress({int(i), int(planned.size()), &sum.tensors[i], seconds_since(t0), p.note});
    });
    const auto dq = dq_states.find(t.name);
    if (dq != dq_states.end()) {
      const std::vector<float>& st = dq->second;
      sum.output_bytes += st.size() * sizeof(float);
      w.add_tensor(double_quant_state_name(t.name), TypeId::F32, {int64_t(st.size())},
                   [&st](const GgufWriteFn& write) { write(st.data(), st.size() * sizeof(float)); });
    }
  }
  w.write(qp.output);
  std::error_code ec;
  sum.output_file_bytes = std::filesystem::file_size(qp.output, ec);
  sum.seconds = seconds_since(t_start);
  return sum;
}

}  // namespace qinfer
