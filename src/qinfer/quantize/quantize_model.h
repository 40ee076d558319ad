// quantize/ is the job (a model file in, a quantized model file out); quant/ is
// the tensor types it writes (block layouts, reference quantizers, the registry).
//
// `qinfer quantize`: a GGUF model → a GGUF model with llama-quantize's
// per-tensor types and bytes. Tensors are streamed from the mapped input to
// the output file one slab of rows at a time (never two copies of the model),
// the output appears under its final name only when complete.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "qinfer/formats/gguf.h"
#include "qinfer/quant/type_id.h"
#include "qinfer/quantize/calibrated.h"

namespace qinfer {

struct QuantizeParams {
  std::string input;
  std::string output;
  std::string type;                        // llama-quantize's name: "Q4_K_M", "Q8_0", "F16", ...
  int threads = 0;                         // 0: all hardware threads
  std::string imatrix;                     // llama.cpp imatrix.dat, optional
  std::optional<TypeId> output_type;       // --output-tensor-type
  std::optional<TypeId> token_embd_type;   // --token-embedding-type
  bool leave_output_tensor = false;        // keep output.weight as it is
  bool pure = false;                       // no mixture rules: every weight gets the base type
  bool allow_requantize = false;           // accept already-quantized input (dequantized first)
  CalibratedOptions calibrated;            // --method gptq|awq and their calibration
  float int8_threshold = 6.0f;             // INT8: activation outlier threshold stored with the tensors
};

struct QuantizedTensor {
  std::string name;
  TypeId from;
  TypeId to;
  uint64_t bytes_in = 0, bytes_out = 0;
  bool fallback = false;
  bool used_imatrix = false;
};

struct QuantizeProgress {
  int index = 0, count = 0;  // this tensor is index+1 of count
  const QuantizedTensor* tensor = nullptr;
  double seconds = 0;        // time spent on this tensor
  std::string note;          // fallback reason or imatrix remark, may be empty
};

struct QuantizeSummary {
  std::vector<QuantizedTensor> tensors;  // in output order
  uint64_t input_bytes = 0, output_bytes = 0;  // tensor data
  uint64_t output_file_bytes = 0;
  int64_t n_params = 0;
  int n_fallback = 0;
  double seconds = 0;
  // Calibrated methods: what was calibrated on and what happened.
  int n_calibrated = 0;
  std::string calibration;               // "FILE: N windows × L tokens (T tokens), seed S"
  std::vector<std::string> notes;
  double bits_per_weight() const { return n_params ? double(output_bytes) * 8.0 / double(n_params) : 0.0; }
};

using QuantizeProgressFn = std::function<void(const QuantizeProgress&)>;

// Throws InputError with a one-line message (unknown type, requantizing
// without allow_requantize, NaN/Inf weights, unwritable output, ...); the
// output path is then untouched and no temporary file is left behind.
QuantizeSummary quantize_model(const QuantizeParams& params, const QuantizeProgressFn& progress = {},
                               const CalibrationProgressFn& calibration_progress = {});

// Bytes of tensor data quantize_model would write for `type` (llama-quantize's
// name) with default options: the tensor policy's per-tensor types and the
// registry's row sizes, from the tensor infos alone (no weight is read).
uint64_t quantized_tensor_bytes(const GgufFile& in, const std::string& type);

}  // namespace qinfer
