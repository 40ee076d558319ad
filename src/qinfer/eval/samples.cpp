#include "qinfer/eval/samples.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "qinfer/core/error.h"
#include "qinfer/runtime/context.h"
#include "qinfer/runtime/generate.h"

namespace qinfer {

std::vector<std::string> greedy_samples(const Model& model, const std::vector<std::string>& prompts, int n_tokens,
                                        int threads) {
  std::vector<std::string> texts;
  if (prompts.empty() || n_tokens <= 0) return texts;
  ContextParams cp;
  cp.n_threads = threads;
  Context ctx(model, cp);
  GenerateParams gp;
  gp.n_predict = n_tokens;
  gp.sampling.temp = 0;  // greedy: differences come from the weights, not the dice
  for (const std::string& prompt : prompts) {
    ctx.reset();
    const std::vector<int32_t> tokens = model.tokenizer->encode(prompt, true, false);
    if (int(tokens.size()) + n_tokens > ctx.n_ctx())
      throw InputError("sample prompt \"" + prompt.substr(0, 40) + "\" is longer than the context");
    std::vector<int32_t> out;
    generate(ctx, tokens, gp, [&](int32_t id) {
      out.push_back(id);
      return true;
    });
    texts.push_back(model.tokenizer->decode(out));
  }
  return texts;
}

nlohmann::json samples_json(const std::vector<std::string>& prompts, const std::vector<std::string>& texts) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < prompts.size() && i < texts.size(); ++i)
    out.push_back({{"prompt", prompts[i]}, {"text", texts[i]}});
  return out;
}

std::vector<std::string> read_prompt_lines(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path + ": cannot open the prompts file");
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  if (out.empty()) throw InputError(path + ": no prompts (one per line expected)");
  return out;
}

}  // namespace qinfer
