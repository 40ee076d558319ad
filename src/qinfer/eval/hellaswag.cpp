#include "qinfer/eval/hellaswag.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "qinfer/core/error.h"
#include "qinfer/runtime/context.h"
#include "qinfer/runtime/ops.h"
#include "qinfer/tokenizer/tokenizer.h"

namespace qinfer {

std::string hellaswag_preprocess(const std::string& text) {
  const size_t b = text.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  std::string s = text.substr(b, text.find_last_not_of(" \t\r\n") - b + 1);
  for (size_t p; (p = s.find(" [title]")) != std::string::npos;) s.replace(p, 8, ". ");
  // re.sub("\[.*?\]", "", s): drop every shortest [...] span.
  std::string t;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[') {
      const size_t close = s.find(']', i + 1);
      if (close != std::string::npos) {
        i = close;
        continue;
      }
    }
    t += s[i];
  }
  // str.replace("  ", " "): one pass, non-overlapping, as Python does.
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    out += t[i];
    if (t[i] == ' ' && i + 1 < t.size() && t[i + 1] == ' ') ++i;
  }
  return out;
}

std::vector<HellaswagTask> parse_hellaswag_jsonl(const std::string& text, const std::string& name) {
  std::vector<HellaswagTask> tasks;
  std::istringstream in(text);
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = name + ":" + std::to_string(lineno);
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw InputError(where + ": not a JSON object");
    if (!j.contains("ctx") || !j["ctx"].is_string()) throw InputError(where + ": field \"ctx\" must be a string");
    const auto& e = j.contains("endings") ? j["endings"] : nlohmann::json();
    if (!e.is_array() || e.size() != 4) throw InputError(where + ": field \"endings\" must be an array of 4 strings");
    HellaswagTask t;
    for (size_t k = 0; k < 4; ++k) {
      if (!e[k].is_string()) throw InputError(where + ": field \"endings\" must be an array of 4 strings");
      t.endings[k] = hellaswag_preprocess(e[k].get<std::string>());
    }
    int label = -1;
    if (j.contains("label") && j["label"].is_number_integer()) label = j["label"].get<int>();
    if (j.contains("label") && j["label"].is_string()) {
      const std::string l = j["label"].get<std::string>();
      if (l.size() == 1 && l[0] >= '0' && l[0] <= '9') label = l[0] - '0';
    }
    if (label < 0 || label > 3) throw InputError(where + ": field \"label\" must be 0, 1, 2 or 3");
    t.label = label;
    std::string ctx = j["ctx"].get<std::string>();
    if (j.contains("activity_label") && j["activity_label"].is_string())
      ctx = j["activity_label"].get<std::string>() + ": " + ctx;
    t.context = hellaswag_preprocess(ctx);
    tasks.push_back(std::move(t));
  }
  if (tasks.empty()) throw InputError(name + ": no tasks");
  return tasks;
}

std::vector<HellaswagTask> load_hellaswag_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the task file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_hellaswag_jsonl(ss.str(), path);
}

SequenceScorer context_scorer(Context& ctx, const Tokenizer& tokenizer) {
  SequenceScorer s;
  s.tokenize = [&tokenizer](const std::string& text) { return tokenizer.encode(text, true, false); };
  s.log_probs = [&ctx](const std::vector<int32_t>& tokens, size_t first) {
    if (int64_t(tokens.size()) > ctx.n_ctx())
      throw InputError("a HellaSwag sequence has " + std::to_string(tokens.size()) +
                       " tokens, more than the context of " + std::to_string(ctx.n_ctx()) + "; raise -c");
    ctx.reset();
    ctx.eval(tokens.data(), int(tokens.size()), true);
    const int n_vocab = ctx.model().config.n_vocab;
    std::vector<double> out;
    for (size_t i = first; i < tokens.size(); ++i)
      out.push_back(ops::log_softmax_at(ctx.logits(int(i - 1)), n_vocab, tokens[i]));
    return out;
  };
  return s;
}

double HellaswagResult::accuracy() const { return tasks.empty() ? 0 : double(n_correct) / double(tasks.size()); }

double HellaswagResult::accuracy_err() const {
  if (tasks.size() < 2) return 0;
  const double p = accuracy();
  return std::sqrt(p * (1 - p) / double(tasks.size() - 1));
}

HellaswagResult hellaswag(const std::vector<HellaswagTask>& tasks, const SequenceScorer& scorer, int max_tasks,
                          const std::function<void(int, int, double)>& on_task) {
  const int n = max_tasks < 0 ? int(tasks.size()) : std::min(max_tasks, int(tasks.size()));
  HellaswagResult res;
  for (int t = 0; t < n; ++t) {
    const HellaswagTask& task = tasks[size_t(t)];
    std::array<std::vector<int32_t>, 4> seq;
    size_t min_len = SIZE_MAX;
    for (int e = 0; e < 4; ++e) {
      seq[e] = scorer.tokenize(task.context + " " + task.endings[e]);
      min_len = std::min(min_len, seq[e].size());
    }
    if (min_len < 2)
      throw InputError("HellaSwag task " + std::to_string(t + 1) + ": a sequence tokenizes to fewer than 2 tokens");
    size_t cp = 0;
    while (cp < min_len && seq[0][cp] == seq[1][cp] && seq[0][cp] == seq[2][cp] && seq[0][cp] == seq[3][cp]) ++cp;
    // Every ending scores at least one token, and the first token has no
    // prediction to score (BOS makes cp ≥ 1 for models that add it).
    cp = std::max<size_t>(1, std::min(cp, min_len - 1));
    HellaswagTaskResult r;
    r.label = task.label;
    for (int e = 0; e < 4; ++e) {
      const std::vector<double> lp = scorer.log_probs(seq[e], cp);
      double sum = 0;
      for (double v : lp) sum += v;
      r.score[e] = sum / double(seq[e].size() - cp);
    }
    for (int e = 1; e < 4; ++e)
      if (r.score[e] > r.score[r.predicted]) r.predicted = e;
    if (r.predicted == r.label) ++res.n_correct;
    res.tasks.push_back(r);
    if (on_task) on_task(t, n, res.accuracy());
  }
  return res;
}

}  // namespace qinfer
