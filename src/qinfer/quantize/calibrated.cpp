#include "qinfer/quantize/calibrated.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "qinfer/core/error.h"
#include "qinfer/core/thread_pool.h"
#include "qinfer/model/model.h"
#include "qinfer/quant/code_grid.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/awq.h"
#include "qinfer/quantize/float_target.h"
#include "qinfer/quantize/gptq.h"
#include "qinfer/quantize/layer_inputs.h"
#include "qinfer/quantize/refit.h"

namespace qinfer {

QuantMethod parse_quant_method(const std::string& name) {
  if (name.empty() || name == "rtn") return QuantMethod::Rtn;
  if (name == "gptq") return QuantMethod::Gptq;
  if (name == "awq") return QuantMethod::Awq;
  throw InputError("--method: unknown method '" + name + "'; valid: rtn gptq awq");
}

const char* quant_method_name(QuantMethod m) {
  switch (m) {
    case QuantMethod::Rtn: return "rtn";
    case QuantMethod::Gptq: return "gptq";
    case QuantMethod::Awq: return "awq";
  }
  return "?";
}

void check_calibrated_options(const CalibratedOptions& o, TypeId base) {
  const TypeInfo& info = type_info(base);
  if (o.method == QuantMethod::Rtn) return;
  if (o.sink) {
    if (o.method == QuantMethod::Awq) return;
    if (!(o.damp >= 0.0 && o.damp <= 1.0)) throw InputError("--damp must be between 0 and 1");
    return;
  }
  if (!info.quantized)
    throw InputError(std::string("--method ") + quant_method_name(o.method) + " needs a quantized type; " + info.name +
                     " keeps the weights as floats");
  if (o.float_target && o.method != QuantMethod::Gptq) throw InputError("--float-target applies to GPTQ");
  if (o.method == QuantMethod::Gptq) {
    if (!find_code_grid(base))
      throw InputError(std::string("--method gptq cannot produce ") + info.name +
                       ": GPTQ rounds onto a scale·code + offset grid, and " + info.name +
                       "'s values are a codebook (use Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 or a k-quant)");
    if (o.group_size < 0 || (o.group_size > 0 && o.group_size % info.block_size != 0))
      throw InputError("--group-size " + std::to_string(o.group_size) + " does not fit " + info.name + ": its " +
                       std::to_string(info.block_size) + "-weight blocks each carry their own parameters, so a group "
                       "must be a whole number of blocks (" + std::to_string(info.block_size) + ", " +
                       std::to_string(2 * info.block_size) + ", ...)");
    if (!(o.damp >= 0.0 && o.damp <= 1.0)) throw InputError("--damp must be between 0 and 1");
  } else {
    if (o.group_size != 0)
      throw InputError("--group-size applies to GPTQ; AWQ's groups are the blocks of the type");
    if (o.awq_grid < 1 || o.awq_grid > 1000) throw InputError("--awq-grid must be between 1 and 1000");
  }
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct FloatWeight {
  int64_t rows = 0, cols = 0;
  std::vector<float> w;
};

FloatWeight to_floats(const Tensor& t) {
  FloatWeight f{t.rows(), t.ne[0], {}};
  f.w.resize(size_t(f.rows * f.cols));
  const TypeInfo& info = type_info(t.type);
  for (int64_t r = 0; r < f.rows; ++r) info.to_float(t.row(r), &f.w[size_t(r * f.cols)], f.cols);
  return f;
}

CalibratedTensor quantize_rtn(const float* w, int64_t rows, int64_t cols, TypeId type) {
  CalibratedTensor ct{type, std::vector<uint8_t>(size_t(rows) * row_size(type, cols))};
  type_info(type).quantize(w, ct.bytes.data(), rows, cols, nullptr);
  return ct;
}

CalibratedTensor f32_bytes(const std::vector<float>& v) {
  CalibratedTensor ct{TypeId::F32, std::vector<uint8_t>(v.size() * 4)};
  std::memcpy(ct.bytes.data(), v.data(), ct.bytes.size());
  return ct;
}

class Driver {
 public:
  Driver(Model& m, const std::map<std::string, TypeId>& targets, const CalibratedOptions& o, int threads,
         const CalibrationProgressFn& progress, CalibrationSet set)
      : m_(m), targets_(targets), o_(o), threads_(threads), progress_(progress), set_(std::move(set)),
        pool_(threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()))) {}

  CalibrationOutcome run() {
    const int L = m_.config.n_layer;
    const int64_t W = int64_t(set_.windows.size());
    const bool output = o_.method == QuantMethod::Gptq && gptq_target("output.weight");
    const bool embedding = embedding_calibrated();
    if (o_.float_target && o_.rerun_from_embeddings) throw Error("calibration: a float target needs the kept inputs");
    if (o_.float_target && o_.method == QuantMethod::Gptq && !o_.sink) {
      float_states_ = std::make_unique<LayerStates>(m_, set_, threads_);
      // The quantized model's stream starts from the file's token embedding.
      if (m_.tok_embd != m_.output && target(m_.tok_embd->name)) install_rtn(m_.tok_embd);
    }
    if (!o_.rerun_from_embeddings) {
      states_ = std::make_unique<LayerStates>(m_, set_, threads_);
      if (verbose_)
        std::fprintf(stderr, "  layer inputs kept: %.1f MiB\n", double(states_->bytes()) / (1024.0 * 1024.0));
    }
    // Work units: one window through one layer (a stage's partial pass counts as one).
    for (int l = 0; l < L; ++l) {
      int passes = 1;
      if (o_.method == QuantMethod::Gptq) {
        passes = 0;
        for (const auto& stage : gptq_stages(l))
          for (const Tensor* t : stage) {
            if (!gptq_target(t->name) && !float_fallback(t)) continue;
            ++passes;
            break;
          }
      }
      total_ += states_ ? int64_t(passes + (l + 1 < L || output ? 1 : 0)) * W : int64_t(passes) * W * (l + 1);
    }
    if (output) total_ += states_ ? W : W * L;
    for (int l = 0; l < L; ++l) {
      if (o_.method == QuantMethod::Gptq)
        gptq_layer(l);
      else
        awq_layer(l);
      if (states_ && (l + 1 < L || output)) advance(l);
    }
    if (output) gptq_output();
    if (embedding) gptq_embedding();
    out_.source = set_.source;
    out_.n_windows = int(W);
    out_.window = W ? int(set_.windows.front().size()) : 0;
    out_.text_tokens = set_.text_tokens;
    return std::move(out_);
  }

 private:
  std::string layer_label(int l) const { return "layer " + std::to_string(l + 1) + "/" + std::to_string(m_.config.n_layer); }

  const TypeId* target(const std::string& name) const {
    const auto it = targets_.find(name);
    return it == targets_.end() ? nullptr : &it->second;
  }
  // A weight the file keeps as floats (a fallback type), which a float target also fits.
  bool float_fallback(const Tensor* t) const {
    const TypeId* type = target(t->name);
    return float_states_ && type && !type_info(*type).quantized;
  }
  bool gptq_target(const std::string& name) const {
    const TypeId* t = target(name);
    if (o_.sink) return t && m_.find(name);
    return t && find_code_grid(*t) && m_.find(name) && m_.find(name)->ne[0] % type_info(*t).block_size == 0;
  }

  // Runs every window through layer l (n_layer: the classifier), feeding the
  // collector: from the kept input of layer l, or (rerun_from_embeddings)
  // through layers 0..l.
  // With a float target, `paired`'s input in the float model goes into the
  // collector's cross sums too.
  void pass(int l, InputCollector& c, bool all_logits, const std::string& stage, const Tensor* paired = nullptr,
            InputStats* float_stats = nullptr) {
    const int64_t per_window = states_ ? 1 : std::min(l + 1, m_.config.n_layer);
    if (progress_) progress_({done_, total_, stage});
    const auto on_window = [&](int) {
      done_ += per_window;
      if (progress_) progress_({done_, total_, stage});
    };
    if (!states_) return run_calibration_pass(m_, set_, threads_, c, all_logits, on_window);
    if (states_->layer() != l) throw Error("calibration: layer " + std::to_string(l) + " asked, the kept inputs are "
                                           "layer " + std::to_string(states_->layer()) + "'s");
    if (!float_states_ || !paired) return states_->observe(c, all_logits, on_window);
    std::vector<float> x_float;
    InputCollector fc;
    fc.capture(paired, &x_float);
    if (float_stats) fc.watch(paired, float_stats);
    fc.stop_after(paired);
    c.pair(paired, &x_float);
    for (size_t i = 0; i < states_->n_windows(); ++i) {
      {
        FloatWeights f(*this);
        float_states_->observe_window(i, fc, all_logits);
      }
      states_->observe_window(i, c, all_logits);
      on_window(int(i));
    }
  }

  // The float model's weights while it lives (every tensor install replaced).
  class FloatWeights {
   public:
    explicit FloatWeights(Driver& d) : d_(d) { swap(); }
    ~FloatWeights() { swap(); }

   private:
    void swap() {
      for (auto& [t, v] : d_.originals_) {
        Tensor& mt = const_cast<Tensor&>(*t);
        std::swap(mt.type, v.type);
        std::swap(mt.data, v.data);
        std::swap(mt.nbytes, v.nbytes);
      }
    }
    Driver& d_;
  };

  // Layer l is final: its output on every window becomes the kept input.
  void advance(int l) {
    const std::string stage = layer_label(l) + " output";
    if (progress_) progress_({done_, total_, stage});
    for (size_t i = 0; i < states_->n_windows(); ++i) {
      states_->advance_window(i);
      if (float_states_) {
        FloatWeights f(*this);
        float_states_->advance_window(i);
      }
      ++done_;
      if (progress_) progress_({done_, total_, stage});
    }
    states_->next_layer();
    if (float_states_) float_states_->next_layer();
  }

  // The output file gets `ct` for this tensor, and the model uses it from now on.
  void install(const Tensor* t, CalibratedTensor ct) {
    CalibratedTensor& slot = out_.tensors[t->name] = std::move(ct);
    Tensor& mt = const_cast<Tensor&>(*t);
    originals_.emplace(t, Original{mt.type, mt.data, mt.nbytes});
    mt.type = slot.type;
    mt.data = slot.bytes.data();
    mt.nbytes = slot.bytes.size();
  }

  // A tensor GPTQ/AWQ does not handle but the writer converts: rounded here
  // so that later layers are calibrated on what the file will hold.
  void install_rtn(const Tensor* t) {
    const TypeId* type = target(t->name);
    if (!type || out_.tensors.count(t->name)) return;
    const FloatWeight f = to_floats(*t);
    install(t, quantize_rtn(f.w.data(), f.rows, f.cols, *type));
  }

  // GPTQ onto the sink's grid; the model goes on with the dequantized weights.
  void gptq_sink_tensor(const Tensor* t, const std::vector<double>& h) {
    const FloatWeight f = to_floats(*t);
    std::unique_ptr<GroupRounder> rounder = o_.sink->make(t->name, f.rows, f.cols);
    if (!rounder) return;
    GptqOptions go;
    go.damp = o_.damp;
    go.act_order = o_.act_order;
    go.name = t->name;
    go.importance = false;
    const GptqStats st = gptq_quantize(f.w.data(), f.rows, f.cols, h, *rounder, go, pool_);
    if (verbose_) std::fprintf(stderr, "  %s: GPTQ loss %.4g (damp %g)\n", t->name.c_str(), st.loss, st.damp);
    if (st.damp_raises > 0)
      out_.notes.push_back(t->name + ": the Hessian was not positive definite; damping raised from " +
                           std::to_string(o_.damp) + " to " + std::to_string(st.damp));
    install(t, f32_bytes(o_.sink->finish(t->name, *rounder)));
    ++out_.n_calibrated;
  }

  void gptq_tensor(const Tensor* t, const std::vector<double>& h, const std::vector<double>& cross = {},
                   const std::vector<double>& h_float = {}) {
    if (o_.sink) return gptq_sink_tensor(t, h);
    FloatWeight f = to_floats(*t);
    if (!cross.empty() && !fit_to_float_output(f.w.data(), f.rows, f.cols, h, cross, h_float, o_.damp, pool_))
      out_.notes.push_back(t->name + ": no float target (the damped Hessian is not positive definite)");
    install(t, gptq_floats(t, f, h));
    ++out_.n_calibrated;
  }

  // GPTQ of `f` (t's weights, possibly rescaled or refitted) onto t's target type, then the refit.
  CalibratedTensor gptq_floats(const Tensor* t, const FloatWeight& f, const std::vector<double>& h) {
    const TypeId type = *target(t->name);
    const TypeInfo& info = type_info(type);
    int64_t group = o_.group_size > 0 ? o_.group_size : info.block_size;
    if (group % info.block_size != 0 || f.cols % group != 0) {
      out_.notes.push_back(t->name + ": group " + std::to_string(group) + " does not fit its " + info.name +
                           " rows of " + std::to_string(f.cols) + "; using the block of " +
                           std::to_string(info.block_size));
      group = info.block_size;
    }
    BlockTypeRounder rounder(type, f.rows, f.cols, group);
    GptqOptions go;
    go.damp = o_.damp;
    go.act_order = o_.act_order;
    go.name = t->name;
    go.importance = o_.importance;
    go.clip_candidates = o_.clip_candidates;
    const auto t0 = std::chrono::steady_clock::now();
    const GptqStats st = gptq_quantize(f.w.data(), f.rows, f.cols, h, rounder, go, pool_);
    if (verbose_)
      std::fprintf(stderr, "  %s: GPTQ loss %.4g (group %lld, damp %g), %.1f s\n", t->name.c_str(), st.loss,
                   (long long)group, st.damp, seconds_since(t0));
    if (st.damp_raises > 0)
      out_.notes.push_back(t->name + ": the Hessian was not positive definite; damping raised from " +
                           std::to_string(o_.damp) + " to " + std::to_string(st.damp));
    CalibratedTensor ct{type, rounder.finish()};
    refit(t, ct, f.w.data(), f.rows, f.cols, h, st.damp);
    return ct;
  }

  // The block parameters refitted to the chosen codes (see refit.h).
  void refit(const Tensor* t, CalibratedTensor& ct, const float* w, int64_t rows, int64_t cols,
             const std::vector<double>& h, double damp) {
    if (!o_.refit || !find_code_grid(ct.type)) return;
    const auto t0 = std::chrono::steady_clock::now();
    const RefitStats rs = refit_block_params(ct.type, ct.bytes.data(), rows, cols, w, h, damp, true, pool_);
    if (verbose_)
      std::fprintf(stderr, "  %s: refit output loss %.4g -> %.4g (%lld rows kept), %.1f s\n", t->name.c_str(),
                   rs.loss_before, rs.loss_after, (long long)rs.rows_kept, seconds_since(t0));
  }

  // Weights sharing one input: one pass collects it, then each is quantized.
  void gptq_stage(int l, const std::vector<const Tensor*>& ws, const std::string& what) {
    // With a float target, a weight the file keeps as floats (a fallback type)
    // takes it too: it is stored as W'.
    std::vector<const Tensor*> todo, kept_float;
    for (const Tensor* t : ws)
      if (gptq_target(t->name))
        todo.push_back(t);
      else if (float_fallback(t))
        kept_float.push_back(t);
    if (!todo.empty() || !kept_float.empty()) {
      InputStats stats(ws.front()->ne[0]);
      InputCollector c;
      c.watch(ws.front(), &stats);
      c.stop_after(ws.front());
      InputStats fstats(float_states_ ? ws.front()->ne[0] : 0);
      pass(l, c, false, layer_label(l) + " gptq " + what, ws.front(), float_states_ ? &fstats : nullptr);
      const std::vector<double> h = stats.hessian();
      const std::vector<double> h_float = fstats.hessian();
      for (const Tensor* t : todo) gptq_tensor(t, h, stats.cross, h_float);
      for (const Tensor* t : kept_float) {
        FloatWeight f = to_floats(*t);
        if (stats.cross.empty() || !fit_to_float_output(f.w.data(), f.rows, f.cols, h, stats.cross, h_float, o_.damp, pool_))
          continue;
        install(t, quantize_rtn(f.w.data(), f.rows, f.cols, *target(t->name)));
      }
    }
    if (!o_.sink)
      for (const Tensor* t : ws) install_rtn(t);
  }

  // True-sequential: each group of weights sharing an input sees the outputs
  // of the groups quantized before it.
  std::vector<std::vector<const Tensor*>> gptq_stages(int l) const {
    const LayerWeights& L = m_.layers[size_t(l)];
    return {{L.wq, L.wk, L.wv}, {L.wo}, {L.ffn_gate, L.ffn_up}, {L.ffn_down}};
  }

  void gptq_layer(int l) {
    for (const auto& stage : gptq_stages(l)) {
      std::string what;
      for (const Tensor* t : stage) {
        const std::string& n = t->name;
        const size_t a = n.find('.', 4), b = n.rfind('.');
        what += (what.empty() ? "" : ",") + n.substr(a + 1, b - a - 1);
      }
      gptq_stage(l, stage, what);
    }
  }

  // The token embedding, rounded with a searched block scale and refitted
  // (least squares, output energy kept) instead of round-to-nearest: the
  // refit of the matmul weights (refit.h) with the embedding's own error,
  // ‖e − ê‖², as the loss (a lookup has no inputs to weigh it by). Weighing
  // it instead by the first-order error the norms and weights reading the
  // residual stream make of it (Σ E[1/rms²]·diag(g)·WᵀW·diag(g), with GPTQ's
  // feedback) measured no better on stories260K (README). Last, so the layers
  // are calibrated on the float embedding's stream, as before (calibrating
  // them on the rounded one measured worse).
  bool embedding_calibrated() const {
    const Tensor* e = m_.tok_embd;
    return o_.method == QuantMethod::Gptq && o_.calibrate_embedding && !o_.sink && e && e != m_.output &&
           gptq_target(e->name);
  }
  void gptq_embedding() {
    const Tensor* e = m_.tok_embd;
    const int64_t n = e->ne[0];
    std::vector<double> h(size_t(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i) h[size_t(i * n + i)] = 1.0;
    if (progress_) progress_({done_, total_, "token_embd"});
    // From the float embedding, also where a float target installed its round-to-nearest copy.
    Tensor original = *e;
    if (const auto it = originals_.find(e); it != originals_.end()) {
      original.type = it->second.type;
      original.data = it->second.data;
      original.nbytes = it->second.nbytes;
      original.packed = nullptr;
    }
    install(e, gptq_floats(e, to_floats(original), h));
    ++out_.n_calibrated;
  }

  void gptq_output() {
    const Tensor* out = m_.output;
    InputStats stats(out->ne[0]);
    InputCollector c;
    c.watch(out, &stats);
    c.stop_after(out);
    InputStats fstats(float_states_ ? out->ne[0] : 0);
    pass(m_.config.n_layer, c, true, "output gptq", out, float_states_ ? &fstats : nullptr);
    gptq_tensor(out, stats.hessian(), stats.cross, fstats.hessian());
  }

  // The final rounding under AWQ: the type's quantizer, weighted by the
  // (rescaled) inputs' second moments where the type has a weighted search.
  CalibratedTensor quantize_awq(const std::vector<float>& w, int64_t rows, int64_t cols, TypeId type,
                                const std::vector<double>& h) const {
    if (!o_.importance || !lossy(type)) return quantize_rtn(w.data(), rows, cols, type);
    std::vector<float> imp(static_cast<size_t>(cols));
    for (int64_t j = 0; j < cols; ++j) imp[size_t(j)] = float(h[size_t(j * cols + j)]);
    CalibratedTensor ct{type, std::vector<uint8_t>(size_t(rows) * row_size(type, cols))};
    type_info(type).quantize(w.data(), ct.bytes.data(), rows, cols, imp.data());
    return ct;
  }

  // The type a weight is searched and stored with under AWQ.
  TypeId awq_type(const Tensor* t) const {
    const TypeId* type = target(t->name);
    return type ? *type : t->type;
  }
  bool lossy(TypeId t) const { return type_info(t).quantized; }
  // What AWQ rounds `t` onto: its target type, or the sink's rounder (null: stays float).
  AwqWeight awq_weight(const Tensor* t, FloatWeight& f) {
    if (!o_.sink) return {f.w.data(), f.rows, awq_type(t), nullptr};
    auto it = awq_rounders_.find(t->name);
    if (it == awq_rounders_.end() && target(t->name))
      it = awq_rounders_.emplace(t->name, o_.sink->make(t->name, f.rows, f.cols)).first;
    return {f.w.data(), f.rows, TypeId::F32, it == awq_rounders_.end() ? nullptr : it->second.get()};
  }
  static bool rounds(const AwqWeight& w) { return w.rounder || type_info(w.type).quantized; }

  void awq_search(std::vector<FloatWeight*> ws, std::vector<const Tensor*> ts, InputStats& in, const char* what,
                  int l, std::vector<double>& h, std::vector<double>& mean_abs, std::vector<float>& scale,
                  const std::vector<int64_t>* tie = nullptr) {
    std::vector<AwqWeight> aw;
    for (size_t i = 0; i < ws.size(); ++i)
      if (const AwqWeight a = awq_weight(ts[i], *ws[i]); rounds(a)) aw.push_back(a);
    const int64_t cols = in.cols;
    scale.assign(size_t(cols), 1.0f);
    if (aw.empty()) return;
    if (verbose_) {
      std::vector<double> v(mean_abs);
      std::sort(v.begin(), v.end());
      std::fprintf(stderr, "  %s %s: mean|x| min %.3g median %.3g max %.3g\n", layer_label(l).c_str(), what, v.front(),
                   v[v.size() / 2], v.back());
    }
    const AwqScales s = awq_search_scales(aw, cols, h, mean_abs, o_.awq_grid, o_.awq_duo, o_.importance, pool_, tie);
    scale = s.scale;
    if (verbose_)
      std::fprintf(stderr, "  %s %s: alpha %.2f, loss %.4g -> %.4g\n", layer_label(l).c_str(), what, s.alpha,
                   s.loss_plain, s.loss);
    for (FloatWeight* w : ws) scale_columns(w->w.data(), w->rows, w->cols, scale.data());
    rescale_input_stats(h, mean_abs, scale.data());
    ++out_.n_calibrated;
  }

  void awq_layer(int l) {
    const LayerWeights& L = m_.layers[size_t(l)];
    const ModelConfig& cfg = m_.config;
    InputStats s_attn(L.wq->ne[0]), s_o(L.wo->ne[0]), s_ffn(L.ffn_gate->ne[0]), s_down(L.ffn_down->ne[0]);
    InputCollector c;
    c.watch(L.wq, &s_attn);
    c.watch(L.wo, &s_o);
    c.watch(L.ffn_gate, &s_ffn);
    c.watch(L.ffn_down, &s_down);
    c.stop_after(L.ffn_down);
    pass(l, c, false, layer_label(l) + " awq");

    FloatWeight q = to_floats(*L.wq), k = to_floats(*L.wk), v = to_floats(*L.wv), o = to_floats(*L.wo);
    FloatWeight gate = to_floats(*L.ffn_gate), up = to_floats(*L.ffn_up), down = to_floats(*L.ffn_down);
    std::vector<float> attn_norm = to_floats(*L.attn_norm).w, ffn_norm = to_floats(*L.ffn_norm).w;
    std::vector<float> bv = L.bv ? to_floats(*L.bv).w : std::vector<float>();

    std::vector<double> h_attn = s_attn.hessian(), m_attn = s_attn.mean_abs();
    std::vector<double> h_o = s_o.hessian(), m_o = s_o.mean_abs();
    std::vector<double> h_ffn = s_ffn.hessian(), m_ffn = s_ffn.mean_abs();
    std::vector<double> h_down = s_down.hessian(), m_down = s_down.mean_abs();
    std::vector<float> s;

    // q, k, v read the attention norm's output: the norm weight takes 1/s.
    awq_search({&q, &k, &v}, {L.wq, L.wk, L.wv}, s_attn, "attn_q,attn_k,attn_v", l, h_attn, m_attn, s);
    divide_rows(attn_norm.data(), int64_t(attn_norm.size()), 1, s.data());
    // attn_output reads softmax·V: V's rows take 1/s. Heads sharing a V head (GQA) share its scales.
    std::vector<int64_t> tie(size_t(o.cols));
    const int group = cfg.n_head / cfg.n_head_kv, hd = cfg.head_dim;
    for (int64_t j = 0; j < o.cols; ++j) tie[size_t(j)] = (j / hd) / group * hd + j % hd;
    awq_search({&o}, {L.wo}, s_o, "attn_output", l, h_o, m_o, s, &tie);
    std::vector<float> sv(size_t(v.rows), 1.0f);
    for (int64_t j = 0; j < o.cols; ++j) sv[size_t(tie[size_t(j)])] = s[size_t(j)];
    divide_rows(v.w.data(), v.rows, v.cols, sv.data());
    if (!bv.empty()) divide_rows(bv.data(), int64_t(bv.size()), 1, sv.data());
    // gate and up read the FFN norm's output.
    awq_search({&gate, &up}, {L.ffn_gate, L.ffn_up}, s_ffn, "ffn_gate,ffn_up", l, h_ffn, m_ffn, s);
    divide_rows(ffn_norm.data(), int64_t(ffn_norm.size()), 1, s.data());
    // ffn_down reads silu(gate)·up: up's rows take 1/s.
    awq_search({&down}, {L.ffn_down}, s_down, "ffn_down", l, h_down, m_down, s);
    divide_rows(up.w.data(), up.rows, up.cols, s.data());

    // Clipping (not q and k: their errors are amplified by the attention scores).
    struct Item { const Tensor* t; FloatWeight* f; const std::vector<double>* h; bool clip; };
    const Item items[] = {{L.wq, &q, &h_attn, false}, {L.wk, &k, &h_attn, false}, {L.wv, &v, &h_attn, true},
                          {L.wo, &o, &h_o, true},     {L.ffn_gate, &gate, &h_ffn, true},
                          {L.ffn_up, &up, &h_ffn, true}, {L.ffn_down, &down, &h_down, true}};
    for (const Item& it : items) {
      const AwqWeight aw = awq_weight(it.t, *it.f);
      if (o_.awq_fold_only) {
        install(it.t, f32_bytes(it.f->w));
        continue;
      }
      const std::vector<float> unclipped = it.f->w;  // what the rounding stands for
      if (it.clip && o_.awq_clip && rounds(aw)) awq_clip(aw, it.f->cols, *it.h, 20, 0.5, o_.importance, pool_);
      if (aw.rounder) {
        // The export's grid: rounded to nearest per group, the sink keeps the codes.
        std::vector<float> deq(static_cast<size_t>(it.f->cols));
        for (int64_t r = 0; r < it.f->rows; ++r)
          awq_round_row(aw, r, &it.f->w[size_t(r * it.f->cols)], deq.data(), it.f->cols, nullptr);
        install(it.t, f32_bytes(o_.sink->finish(it.t->name, *aw.rounder)));
        continue;
      }
      CalibratedTensor ct = quantize_awq(it.f->w, it.f->rows, it.f->cols, aw.type, *it.h);
      if (lossy(aw.type)) refit(it.t, ct, unclipped.data(), it.f->rows, it.f->cols, *it.h, o_.damp);
      install(it.t, std::move(ct));
    }
    install(L.attn_norm, f32_bytes(attn_norm));
    install(L.ffn_norm, f32_bytes(ffn_norm));
    if (L.bv) install(L.bv, f32_bytes(bv));
  }

  Model& m_;
  const std::map<std::string, TypeId>& targets_;
  const CalibratedOptions& o_;
  int threads_;
  CalibrationProgressFn progress_;
  CalibrationSet set_;
  ThreadPool pool_;
  CalibrationOutcome out_;
  int64_t done_ = 0, total_ = 0;
  bool verbose_ = o_.verbose;
  std::map<std::string, std::unique_ptr<GroupRounder>> awq_rounders_;  // sink only (null: the grid cannot take it)
  std::unique_ptr<LayerStates> states_;  // null: rerun_from_embeddings
  std::unique_ptr<LayerStates> float_states_;  // the float model's, with a float target
  struct Original {
    TypeId type;
    const uint8_t* data;
    size_t nbytes;
  };
  std::map<const Tensor*, Original> originals_;  // what install replaced
};

}  // namespace

CalibrationOutcome run_calibrated_quantization(const std::string& model_path, const std::map<std::string, TypeId>& targets,
                                               TypeId base_type, const CalibratedOptions& o, int threads,
                                               const CalibrationProgressFn& progress) {
  check_calibrated_options(o, base_type);
  std::unique_ptr<Model> model = load_model(model_path);
  for (const LayerWeights& L : model->layers)
    for (const Tensor* t : {L.wq, L.wk, L.wv, L.wo, L.ffn_gate, L.ffn_up, L.ffn_down})
      if (type_info(t->type).quantized)
        throw InputError(model_path + ": tensor " + t->name + " is already " + type_info(t->type).name + "; --method " +
                         quant_method_name(o.method) + " calibrates an unquantized (F32/F16/BF16) model");
  std::string text, source;
  if (!o.calib.file.empty()) {
    text = read_calibration_text(o.calib.file);
    source = o.calib.file;
  } else {
    if (o.default_text.empty()) throw InputError("no calibration text: pass --calib FILE");
    const TextSplit split = split_eval_text(read_calibration_text(o.default_text));
    text = split.calibration;
    source = o.default_text + " (first " + std::to_string(split.cut) + " bytes)";
  }
  CalibrationSet set = make_calibration_set(*model->tokenizer, text, source, o.calib);
  Driver d(*model, targets, o, threads, progress, std::move(set));
  return d.run();
}

}  // namespace qinfer
