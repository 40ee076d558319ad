// tokenizer.json with a SentencePiece-style BPE (model.byte_fallback, spaces
// as '▁': Llama 2, Mistral, TinyLlama saved without tokenizer.model) → GGUF
// "llama" vocabulary that tokenizes like one converted from tokenizer.model.
//
// Scores. HF's LlamaConverter turns SentencePiece scores into merges: every
// split of a piece into two vocabulary pieces is a merge, sorted by the
// piece's score, best first. llama.cpp's SPM tokenizer (and ours) goes the
// other way: it joins the adjacent pair whose joined text has the highest
// score, ties to the leftmost pair. So the merge order is turned back into
// scores: the k-th distinct token produced by model.merges scores -k.
// llama.cpp's converter (gguf-py LlamaHfVocab) writes -1000 for every token
// instead; with all scores tied its tokenizer merges left to right, not in
// HF's order ("▁the" can come out as "▁t" "he"), so we do not follow it there.
// Types follow LlamaHfVocab except that model.unk_token is UNKNOWN.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "qinfer/convert/hf_vocab.h"
#include "qinfer/core/error.h"
#include "qinfer/tokenizer/vocab.h"

namespace qinfer {

using json = nlohmann::json;

namespace {

const char* const kSpace = "\xE2\x96\x81";  // '▁'

// A string field, "" when missing or not a string (json::value would throw a non-InputError).
std::string str_of(const json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// What normalizer + pre_tokenizer do with spaces.
struct SpaceRule {
  bool replaced = false;  // ' ' → '▁'
  int prefixes = 0;       // steps that prepend '▁' (the GGUF's add_space_prefix)
  bool split = false;     // Metaspace split: true (words split at '▁')
};

// Each step, or each step of a Sequence under `list_key`.
template <class F>
void for_steps(const json& j, const char* list_key, const std::string& where, F&& step) {
  if (j.is_null()) return;
  if (str_of(j, "type") != "Sequence") return step(j);
  auto list = j.find(list_key);
  if (list == j.end() || !list->is_array()) throw InputError(where + ": Sequence without " + list_key);
  for (const auto& s : *list) step(s);
}

void read_normalizer(const json& tj, const std::string& path, SpaceRule& r) {
  const std::string where = path + ": normalizer";
  auto n = tj.find("normalizer");
  if (n == tj.end()) return;
  for_steps(*n, "normalizers", where, [&](const json& s) {
    const std::string type = str_of(s, "type");
    if (type == "Prepend" && str_of(s, "prepend") == kSpace) {
      ++r.prefixes;
    } else if (type == "Replace" && s.contains("pattern") && str_of(s["pattern"], "String") == " " &&
               str_of(s, "content") == kSpace) {
      r.replaced = true;
    } else {
      throw InputError(where + ": step '" + type + "' is not supported for a SentencePiece-style BPE " +
                       "(Prepend '\xE2\x96\x81', Replace ' ' with '\xE2\x96\x81')");
    }
  });
}

void read_pre_tokenizer(const json& tj, const std::string& path, SpaceRule& r) {
  const std::string where = path + ": pre_tokenizer";
  auto p = tj.find("pre_tokenizer");
  if (p == tj.end()) return;
  for_steps(*p, "pretokenizers", where, [&](const json& s) {
    const std::string type = str_of(s, "type");
    if (type != "Metaspace" || str_of(s, "replacement") != kSpace)
      throw InputError(where + ": '" + type + "' is not supported for a SentencePiece-style BPE (Metaspace '" +
                       kSpace + "')");
    r.replaced = true;
    // prepend_scheme "always" / "first" / "never"; older files say add_prefix_space.
    auto flag = [&](const char* key) { return !s.contains(key) || !s[key].is_boolean() || s[key].get<bool>(); };
    const std::string scheme = str_of(s, "prepend_scheme");
    if (scheme.empty() ? flag("add_prefix_space") : scheme != "never") ++r.prefixes;
    r.split = flag("split");  // tokenizers' default
  });
}

SpaceRule read_space_rule(const json& tj, const std::string& path) {
  SpaceRule r;
  read_normalizer(tj, path, r);
  read_pre_tokenizer(tj, path, r);
  if (!r.replaced)
    throw InputError(path + ": byte_fallback BPE whose normalizer / pre_tokenizer do not turn spaces into '" +
                     kSpace + "' is not a SentencePiece-style tokenizer");
  if (r.prefixes > 1) throw InputError(path + ": normalizer and pre_tokenizer both prepend '" + kSpace + "'");
  return r;
}

// Options of HF's BPE model that a SentencePiece vocabulary cannot express.
void check_model_options(const json& model, const std::string& path) {
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (!str_of(model, key).empty())
      throw InputError(path + ": model." + key + " is not supported for a byte_fallback BPE");
}

bool is_byte_token(const std::string& t) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); };
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

// User-defined tokens are matched before the ' ' → '▁' step, so they keep
// plain spaces (as in the tokenizer.model path).
std::string unmark_spaces(const std::string& t) {
  std::string out;
  for (size_t i = 0; i < t.size();) {
    if (t.compare(i, 3, kSpace) == 0) {
      out += ' ';
      i += 3;
    } else {
      out += t[i++];
    }
  }
  return out;
}

int32_t token_type(const detail::JsonToken& t, const std::string& unk) {
  if (!t.present) return kTokUnused;
  if (!unk.empty() && t.text == unk) return kTokUnknown;
  if (is_byte_token(t.text)) return kTokByte;
  if (t.added && (t.special || token_looks_special(t.text))) return kTokControl;
  return t.added ? kTokUserDefined : kTokNormal;
}

// A merge as its two parts, in either the "a b" or the ["a", "b"] form.
std::pair<std::string, std::string> merge_parts(const json& m, size_t i, const std::string& path) {
  if (m.is_string()) {
    const std::string s = m.get<std::string>();
    const size_t sp = s.find(' ');
    if (sp != std::string::npos && sp > 0 && sp + 1 < s.size() && s.find(' ', sp + 1) == std::string::npos)
      return {s.substr(0, sp), s.substr(sp + 1)};
  } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
    return {m[0].get<std::string>(), m[1].get<std::string>()};
  }
  throw InputError(path + ": model.merges[" + std::to_string(i) +
                   "] is not an \"a b\" string or an [\"a\", \"b\"] pair");
}

// For each token, the place among merge results of its first merge (-1: no merge makes it).
// Every part and result must be a token, as HF's BPE requires.
std::vector<int32_t> merge_ranks(const json& model, const std::vector<detail::JsonToken>& toks,
                                 const std::string& path) {
  auto merges = model.find("merges");
  if (merges == model.end() || !merges->is_array()) throw InputError(path + ": missing array field model.merges");
  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < toks.size(); ++i)
    if (toks[i].present) ids.emplace(toks[i].text, int32_t(i));
  auto id_of = [&](const std::string& t, size_t i) {
    auto it = ids.find(t);
    if (it == ids.end())
      throw InputError(path + ": model.merges[" + std::to_string(i) + "] names '" + t +
                       "', which is not in model.vocab");
    return it->second;
  };
  std::vector<int32_t> rank(toks.size(), -1);
  int32_t next = 0;
  for (size_t i = 0; i < merges->size(); ++i) {
    const auto [a, b] = merge_parts((*merges)[i], i, path);
    id_of(a, i);
    id_of(b, i);
    int32_t& r = rank[size_t(id_of(a + b, i))];
    if (r < 0) r = next++;
  }
  return rank;
}

// Pieces with a '▁' after their first character: splitting words at '▁' (which
// our tokenizer does not do) would change how they tokenize.
void check_split(const SpaceRule& r, const HfVocab& v, const std::string& path) {
  if (!r.split) return;
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.types[i] == kTokNormal && v.tokens[i].find(kSpace, 1) != std::string::npos)
      throw InputError(path + ": pre_tokenizer Metaspace splits at '" + kSpace + "' (split: true), which the GGUF " +
                       "\"llama\" tokenizer cannot do, and model.vocab has '" + v.tokens[i] + "'");
}

}  // namespace

HfVocab detail::read_spm_json_vocab(const json& tj, const std::string& path, const HfConfig& cfg) {
  const json& model = tj["model"];
  check_model_options(model, path);
  const SpaceRule space = read_space_rule(tj, path);
  std::vector<JsonToken> toks = read_json_tokens(tj, path, cfg);
  const std::vector<int32_t> rank = merge_ranks(model, toks, path);
  int32_t n_ranked = 0;
  for (int32_t r : rank) n_ranked = std::max(n_ranked, r + 1);

  HfVocab v;
  v.model = "llama";
  v.pre = "default";
  const std::string unk = str_of(model, "unk_token");
  for (size_t i = 0; i < toks.size(); ++i) {
    const int32_t type = token_type(toks[i], unk);
    float score = 0.0f;  // unknown, control and byte pieces: SentencePiece's 0
    if (type == kTokNormal) {
      // Tokens no merge makes (single characters) score below every merge result.
      score = -float(rank[i] >= 0 ? rank[i] : n_ranked);
    } else if (type == kTokUserDefined) {
      score = kAddedScore;
      toks[i].text = unmark_spaces(toks[i].text);
    } else if (type == kTokUnused) {
      score = kPadScore;
    }
    v.tokens.push_back(std::move(toks[i].text));
    v.scores.push_back(score);
    v.types.push_back(type);
  }
  check_split(space, v, path);
  if (space.prefixes == 0) v.add_space_prefix = false;  // llama's default is true; write only a change
  return v;
}

}  // namespace qinfer
