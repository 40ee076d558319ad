// Calibrated quantization of a whole model through qinfer's own engine:
// layer by layer, the calibration windows run through the model whose earlier
// layers are already quantized (sequential calibration, as GPTQ and AWQ do),
// a MatmulObserver collects the inputs of the layer's weights, and GPTQ or
// AWQ turns them into the layer's quantized tensors, which replace the float
// ones before the next layer is calibrated. Only one layer's input statistics
// are held at a time. The result is a set of tensors for the GGUF writer.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "qinfer/quant/type_id.h"
#include "qinfer/quantize/calibration.h"

namespace qinfer {

enum class QuantMethod { Rtn, Gptq, Awq };

// "rtn", "gptq", "awq"; InputError listing them for anything else.
QuantMethod parse_quant_method(const std::string& name);
const char* quant_method_name(QuantMethod m);

class GroupRounder;

// A rounding target outside GGUF's types (the Hugging Face export's integer
// grids): GPTQ (or AWQ, after its scales) rounds each targeted weight onto the rounder `make` returns,
// and the model is calibrated on with the weights `finish` returns (the
// dequantized result, rows × cols floats). `make` returns null for a weight
// the target cannot take (it then stays float and `finish` is not called).
class RoundingSink {
 public:
  virtual ~RoundingSink() = default;
  virtual std::unique_ptr<GroupRounder> make(const std::string& name, int64_t rows, int64_t cols) = 0;
  virtual std::vector<float> finish(const std::string& name, GroupRounder& rounder) = 0;
};

struct CalibratedOptions {
  QuantMethod method = QuantMethod::Rtn;
  CalibrationParams calib;         // calib.file empty: the first part of default_text
  std::string default_text;        // evaluation text whose calibration part is the default source
  bool importance = true;          // block parameters by the type's activation-weighted search (E[x²])
  // GPTQ
  double damp = 0.01;              // fraction of the Hessian's mean diagonal
  bool act_order = true;           // columns by decreasing activation size (free for GGUF: blocks keep their order)
  int64_t group_size = 0;          // columns sharing parameters; 0: the type's block
  // GPTQ fits each quantized layer's output to the float model's on the same
  // tokens, ‖W·X_float − Ŵ·X‖ (GPTAQ, arXiv 2504.02692), instead of to the
  // float weight on the quantized model's own inputs, ‖W·X − Ŵ·X‖: the
  // layer then also makes up for the error of what precedes it.
  bool float_target = false;
  // The token embedding (a lookup: GPTQ has no inputs for it) with a searched
  // block scale and the least-squares refit instead of round-to-nearest.
  bool calibrate_embedding = true;
  int clip_candidates = 1;         // GPTQ: clipping candidates per group (1, 0.97, ...; 1: the type's choice only)
  bool refit = true;               // GPTQ/AWQ: block parameters refitted (least squares, output energy kept) once the codes are chosen
  // AWQ
  int awq_grid = 20;               // α = 0, 1/20, …, 19/20
  bool awq_duo = false;            // AutoAWQ's duo scaling (activation and weight magnitudes) instead of the paper's
  bool awq_clip = true;
  bool awq_fold_only = false;      // write the folded float weights unrounded (equivalence checks)
  bool verbose = false;            // per-tensor losses and AWQ's chosen α on stderr
  RoundingSink* sink = nullptr;    // GPTQ/AWQ: round onto this instead of the targets' types (targets: F32)
  // Tests only: every stage re-runs the windows from the embeddings (quadratic
  // in the layers) instead of running its layer on the kept layer inputs; the
  // reference the kept inputs are checked against, byte for byte.
  bool rerun_from_embeddings = false;
};

struct CalibrationProgress {
  int64_t done = 0, total = 0;     // work units (one window through one layer)
  std::string stage;               // "layer 3/5 attn_q,attn_k,attn_v"
};
using CalibrationProgressFn = std::function<void(const CalibrationProgress&)>;

struct CalibratedTensor {
  TypeId type;
  std::vector<uint8_t> bytes;
};

struct CalibrationOutcome {
  std::map<std::string, CalibratedTensor> tensors;  // replace these tensors in the output
  std::vector<std::string> notes;                   // damping raised, tensors left to round-to-nearest, ...
  std::string source;                               // calibration text
  int n_windows = 0, window = 0;
  int64_t text_tokens = 0;
  int n_calibrated = 0;                             // tensors quantized by GPTQ / scaled by AWQ
};

// targets: every tensor the writer converts, with its output type (the
// llama-quantize policy's choice). Throws InputError (one line) for a
// quantized input model, a method the target type cannot take, a group size
// the type cannot use, too little calibration text, or a non-finite Hessian.
CalibrationOutcome run_calibrated_quantization(const std::string& model_path, const std::map<std::string, TypeId>& targets,
                                               TypeId base_type, const CalibratedOptions& options, int threads,
                                               const CalibrationProgressFn& progress);

// Fails before any work when the method cannot produce `base` (the file
// type's main tensor type) or the group size does not fit it.
void check_calibrated_options(const CalibratedOptions& options, TypeId base);

}  // namespace qinfer
