// tokenizer.json (Hugging Face `tokenizers`) byte-level BPE → GGUF "gpt2" vocabulary,
// and the token table every tokenizer.json path shares.
#include <map>
#include <nlohmann/json.hpp>

#include "qinfer/convert/hf_json.h"
#include "qinfer/convert/hf_vocab.h"
#include "qinfer/core/error.h"
#include "qinfer/tokenizer/vocab.h"

namespace qinfer {

using json = nlohmann::json;

namespace {

// The Split regexes as tokenizer.json spells them.
const char* const kLlama3Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Markers for the steps that are not Split regexes.
const char* const kByteLevelRegex = "<ByteLevel use_regex>";
const char* const kDigits = "<Digits individual>";

// One pre-tokenizer step → its marker or regex; "" when it does not split (ByteLevel without regex).
std::string step_of(const json& s, const std::string& where) {
  const std::string type = s.is_object() ? s.value("type", std::string()) : std::string();
  if (type == "ByteLevel") {
    if (s.value("add_prefix_space", false))
      throw InputError(where + ": ByteLevel with add_prefix_space is not supported");
    return s.value("use_regex", true) ? kByteLevelRegex : "";
  }
  if (type == "Digits") {
    if (!s.value("individual_digits", false)) throw InputError(where + ": Digits without individual_digits is not supported");
    return kDigits;
  }
  if (type == "Split") {
    const auto pat = s.find("pattern");
    if (pat == s.end() || !pat->is_object() || !pat->contains("Regex") || !(*pat)["Regex"].is_string())
      throw InputError(where + ": Split without a Regex pattern is not supported");
    if (s.value("behavior", std::string()) != "Isolated" || s.value("invert", false))
      throw InputError(where + ": Split must be Isolated and not inverted");
    return (*pat)["Regex"].get<std::string>();
  }
  throw InputError(where + ": pre-tokenizer type '" + type + "' is not supported");
}

}  // namespace

std::string bpe_pre_name(const json& tj, const std::string& path) {
  const std::string where = path + ": pre_tokenizer";
  auto pt = tj.find("pre_tokenizer");
  if (pt == tj.end() || pt->is_null()) throw InputError(where + " is missing (byte-level BPE needs one)");
  std::vector<std::string> steps;
  if (pt->value("type", std::string()) == "Sequence") {
    auto list = pt->find("pretokenizers");
    if (list == pt->end() || !list->is_array()) throw InputError(where + ": Sequence without pretokenizers");
    for (const auto& s : *list)
      if (std::string st = step_of(s, where); !st.empty()) steps.push_back(st);
  } else if (std::string st = step_of(*pt, where); !st.empty()) {
    steps.push_back(st);
  }
  const bool ignore_merges = tj.contains("model") && tj["model"].is_object() && tj["model"].value("ignore_merges", false);
  using V = std::vector<std::string>;
  if (steps == V{kByteLevelRegex}) return "gpt-2";
  if (steps == V{kDigits, kByteLevelRegex}) return "starcoder";
  if (steps == V{kLlama3Split}) return ignore_merges ? "llama-bpe" : "smaug-bpe";
  if (steps == V{kQwen2Split}) return "qwen2";
  throw InputError(where + " is not recognised (known: GPT-2 ByteLevel, StarCoder Digits+ByteLevel, Llama-3 and " +
                   "Qwen2 Split regexes)");
}

std::vector<detail::JsonToken> detail::read_json_tokens(const json& tj, const std::string& path, const HfConfig& cfg) {
  const json& model = tj["model"];
  auto vocab_it = model.find("vocab");
  if (vocab_it == model.end() || !vocab_it->is_object() || vocab_it->empty())
    throw InputError(path + ": missing object field model.vocab");
  // id -> token; added tokens (not always in model.vocab) included, as AutoTokenizer's vocab is.
  std::map<int64_t, JsonToken> by_id;
  auto put = [&](const std::string& text, const json& id, const std::string& field) -> JsonToken& {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (int64_t(1) << 24))
      throw InputError(path + ": " + field + " id of '" + text + "' is not a valid token id");
    JsonToken& t = by_id[id.get<int64_t>()];
    t.text = text;
    t.present = true;
    return t;
  };
  for (const auto& [text, id] : vocab_it->items()) put(text, id, "model.vocab");
  if (auto at = tj.find("added_tokens"); at != tj.end() && at->is_array()) {
    for (const auto& a : *at) {
      if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("id"))
        throw InputError(path + ": added_tokens entries need content and id");
      JsonToken& t = put(a["content"], a["id"], "added_tokens");
      t.added = true;
      t.special = a.value("special", false);
    }
  }
  const int64_t max_id = by_id.rbegin()->first;
  const int64_t n = cfg.vocab_size ? *cfg.vocab_size : int64_t(by_id.size());
  if (max_id >= n)
    throw InputError(path + ": token id " + std::to_string(max_id) + " is not below vocab_size " + std::to_string(n) +
                     " (" + cfg.path + ")");
  std::vector<JsonToken> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto it = by_id.find(i);
    if (it != by_id.end()) out[size_t(i)] = std::move(it->second);
    else out[size_t(i)].text = "[PAD" + std::to_string(i) + "]";
  }
  return out;
}

HfVocab detail::read_bpe_vocab(const std::string& dir, const HfConfig& cfg) {
  const std::string path = dir + "/tokenizer.json";
  const json tj = load_json(path);
  if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object())
    throw InputError(path + ": missing object field model");
  const json& model = tj["model"];
  const std::string type = model.value("type", std::string());
  if (type != "BPE") throw InputError(path + ": model.type '" + type + "' is not supported (BPE)");
  // byte_fallback marks a SentencePiece-style BPE (Llama 2, Mistral): a "llama" vocabulary.
  if (model.value("byte_fallback", false)) return read_spm_json_vocab(tj, path, cfg);

  std::vector<JsonToken> toks = read_json_tokens(tj, path, cfg);
  HfVocab v;
  v.model = "gpt2";
  v.pre = bpe_pre_name(tj, path);
  v.tokens.resize(toks.size());
  v.types.resize(toks.size());
  for (size_t i = 0; i < toks.size(); ++i) {
    JsonToken& t = toks[i];
    if (!t.present) {
      v.types[i] = kTokUnused;
    } else if (!t.added) {
      v.types[i] = kTokNormal;
    } else if (t.special || token_looks_special(t.text)) {
      v.types[i] = kTokControl;
    } else {
      // Pre-normalize user-defined spaces ('▁' → ' ') as llama.cpp does for Gemma.
      for (size_t p = t.text.find("\xE2\x96\x81"); p != std::string::npos; p = t.text.find("\xE2\x96\x81", p + 1))
        t.text.replace(p, 3, " ");
      v.types[i] = kTokUserDefined;
    }
    v.tokens[i] = std::move(t.text);
  }

  auto merges = model.find("merges");
  if (merges == model.end() || !merges->is_array() || merges->empty())
    throw InputError(path + ": missing or empty field model.merges");
  v.merges.reserve(merges->size());
  for (const auto& m : *merges) {
    if (m.is_string()) {
      v.merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      // The list form (transformers >= 4.45) may hold spaces; llama.cpp encodes them as U+0120.
      std::string joined;
      for (int k = 0; k < 2; ++k) {
        if (k) joined += ' ';
        for (char c : m[k].get<std::string>()) {
          if (c == ' ') joined += "\xC4\xA0";
          else joined += c;
        }
      }
      v.merges.push_back(std::move(joined));
    } else {
      throw InputError(path + ": model.merges entries must be \"a b\" strings or [\"a\", \"b\"] pairs");
    }
  }
  return v;
}

}  // namespace qinfer
