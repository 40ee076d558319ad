// `qinfer quantize IN --export hf DIR`: a float GGUF model → a Hugging Face
// checkpoint directory in the layouts vLLM and transformers load:
//   gptq — AutoGPTQ's v1 checkpoint: qweight int32 [K/pack, N] packed along
//          the input, qzeros int32 [K/G, N/pack] (stored zero − 1), scales fp16
//          [K/G, N], g_idx int32 [K]; quantize_config.json. GPTQ runs through
//          qinfer's engine (sequential calibration) onto the integer grid.
//   awq  — AutoAWQ's GEMM layout: qweight/qzeros int32 [K, N/8] and [K/G, N/8]
//          with the interleaved nibble order, scales fp16 [K/G, N]. (RTN grid
//          here; AWQ's scale search for this grid is not done yet.)
//   nf4 / fp4 — bitsandbytes' Params4bit: packed uint8 weight, absmax, quant_map
//          and the quant_state JSON (double quant: nested_absmax, nested_quant_map).
// Plus config.json (LlamaForCausalLM / Qwen2ForCausalLM) with its
// quantization_config and model.safetensors holding every tensor (the
// unquantized ones as fp16). REFERENCE.md §5.3–5.5 has the layouts.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "qinfer/quantize/calibrated.h"
#include "qinfer/quantize/int_grid.h"

namespace qinfer {

enum class HfFormat { Gptq, Awq, Nf4, Fp4 };
// "gptq", "awq", "nf4", "fp4" (the --method names); InputError otherwise.
HfFormat parse_hf_format(const std::string& method);
const char* hf_format_name(HfFormat f);

struct HfExportOptions {
  std::string input;               // float GGUF
  std::string dir;                 // output directory (created)
  HfFormat format = HfFormat::Gptq;
  int bits = 4;                    // gptq: 2, 4 or 8; awq: 4
  int64_t group = 128;             // gptq/awq group size
  bool sym = false;                // gptq: symmetric grid
  bool double_quant = false;       // nf4/fp4
  CalibratedOptions calibrated;    // gptq: calibration text and GPTQ's options (method is set here)
  int threads = 0;
  bool keep_dequantized = false;   // fill HfExportSummary::dequantized (tests)
};

struct HfExportSummary {
  std::vector<std::string> files;            // written, in DIR
  int n_quantized = 0;
  std::vector<std::string> skipped;          // linear weights left fp16, with the reason
  std::vector<std::string> notes;            // calibration notes
  std::string calibration;                   // gptq: what was calibrated on
  uint64_t bytes = 0;                        // model.safetensors
  // GGUF tensor name → the weights the export stands for, GGUF order (rows =
  // output channels as the GGUF holds them), when keep_dequantized.
  std::map<std::string, std::vector<float>> dequantized;
};

// Throws InputError (one line) for a quantized input, an unsupported bits /
// group / architecture, too little calibration text; nothing is written then.
HfExportSummary export_hf(const HfExportOptions& options, const CalibrationProgressFn& progress = {});

// Hugging Face row r of a weight whose rows GGUF stores permuted for the NORM
// rope (llama's q and k), in `heads` heads of rows/heads rows: the GGUF row it is.
int64_t hf_row_to_gguf(int64_t r, int64_t rows, int64_t heads);

// AutoAWQ's GEMM packing: nibble i of a word holds column 8·word + kAwqOrder[i].
inline constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

}  // namespace qinfer
