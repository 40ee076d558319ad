#include "qinfer/quantize/calibration.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <sstream>

#include "qinfer/core/error.h"
#include "qinfer/tokenizer/tokenizer.h"

namespace qinfer {

TextSplit split_eval_text(const std::string& text) {
  size_t cut = size_t(double(text.size()) * kCalibrationFraction);
  const size_t para = text.find("\n\n", cut);
  if (para != std::string::npos) {
    cut = para + 2;
  } else {
    const size_t line = text.find('\n', cut);
    cut = line == std::string::npos ? text.size() : line + 1;
  }
  return {text.substr(0, cut), text.substr(cut), cut};
}

namespace {

bool looks_like_jsonl(const std::string& path, const std::string& text) {
  if (path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0) return true;
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && text[first] == '{';
}

}  // namespace

std::string read_calibration_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path + ": cannot open the calibration file");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw InputError(path + ": read error");
  std::string text = ss.str();
  if (!looks_like_jsonl(path, text)) return text;

  std::string out;
  std::istringstream lines(text);
  std::string line;
  int lineno = 0;
  while (std::getline(lines, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      throw InputError(path + ":" + std::to_string(lineno) + ": not a JSON object (JSONL needs one per line)");
    const auto it = j.find("text");
    if (it == j.end() || !it->is_string())
      throw InputError(path + ":" + std::to_string(lineno) + ": the record has no \"text\" string");
    if (!out.empty()) out += "\n\n";
    out += it->get<std::string>();
  }
  return out;
}

CalibrationSet make_calibration_set(const Tokenizer& tokenizer, const std::string& text, const std::string& source,
                                    const CalibrationParams& p) {
  if (p.n_samples < 1) throw InputError("--calib-samples must be at least 1");
  if (p.window < 2) throw InputError("--calib-len must be at least 2 tokens");
  CalibrationSet set;
  set.source = source;
  const std::vector<int32_t> tokens = tokenizer.encode(text, true, false);
  set.text_tokens = int64_t(tokens.size());
  const int64_t need = int64_t(p.n_samples) * p.window;
  if (set.text_tokens < need)
    throw InputError(source + ": the calibration text has " + std::to_string(set.text_tokens) + " tokens; " +
                     std::to_string(p.n_samples) + " windows of " + std::to_string(p.window) + " need " +
                     std::to_string(need) + " (lower --calib-samples or --calib-len, or give a longer --calib file)");
  // Distinct slots of `window` tokens, chosen by a seeded shuffle; each slot
  // starts at a random offset inside the slack the text leaves.
  const int64_t slots = set.text_tokens / p.window;
  const int64_t slack = set.text_tokens - slots * p.window;
  std::mt19937_64 rng(p.seed);
  std::vector<int64_t> order(static_cast<size_t>(slots));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  order.resize(size_t(p.n_samples));
  std::sort(order.begin(), order.end());
  const int64_t shift = slack > 0 ? int64_t(rng() % uint64_t(slack + 1)) : 0;
  const bool bos = tokenizer.vocab().add_bos;
  for (int64_t slot : order) {
    const auto begin = tokens.begin() + slot * p.window + shift;
    std::vector<int32_t> w(begin, begin + p.window);
    if (bos) w[0] = tokenizer.bos();
    set.windows.push_back(std::move(w));
  }
  return set;
}

}  // namespace qinfer
