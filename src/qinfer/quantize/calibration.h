// Calibration data for the calibrated quantizers (GPTQ, AWQ, LLM.int8's
// outlier columns): a text or JSONL file, cut into random token windows with a
// fixed seed. The default source is the evaluation text's first part; the
// rest of that text is what perplexity is measured on, never calibrated on.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qinfer {

class Tokenizer;

// The evaluation text split: calibration = the first kCalibrationFraction of
// the bytes, cut at the next paragraph break (blank line) or line break;
// evaluation = everything after it.
constexpr double kCalibrationFraction = 0.10;
struct TextSplit {
  std::string calibration;
  std::string evaluation;
  size_t cut = 0;  // byte offset where the evaluation part starts
};
TextSplit split_eval_text(const std::string& text);

struct CalibrationParams {
  std::string file;          // text or JSONL; empty: the default eval text's calibration part
  int n_samples = 128;       // windows
  int window = 128;          // tokens per window (the first one is BOS)
  uint64_t seed = 0;
};

// The file's text: a .jsonl (or a file whose first non-blank byte is '{')
// holds one JSON object per line with a "text" string (records are joined by
// blank lines); anything else is plain text. InputError naming the file and
// line for bad JSON or a record without "text".
std::string read_calibration_text(const std::string& path);

struct CalibrationSet {
  std::vector<std::vector<int32_t>> windows;
  std::string source;        // for messages and the output file's metadata
  int64_t text_tokens = 0;   // tokens of the whole calibration text
};

// n_samples distinct, non-overlapping windows of `window` tokens drawn with
// the seed from the tokenized text (BOS first in each, as perplexity chunks).
// InputError when the text has fewer tokens than n_samples × window.
CalibrationSet make_calibration_set(const Tokenizer& tokenizer, const std::string& text, const std::string& source,
                                    const CalibrationParams& params);

}  // namespace qinfer
