// SentencePiece vocabularies, gguf-py's SpecialVocab, and writing the keys.
#include "qinfer/convert/hf_vocab.h"

#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "qinfer/convert/hf_json.h"
#include "qinfer/convert/spm_model.h"
#include "qinfer/core/error.h"
#include "qinfer/formats/gguf_writer.h"
#include "qinfer/tokenizer/vocab.h"

namespace qinfer {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using detail::kAddedScore;
using detail::kPadScore;
const char* const kSpace = "\xE2\x96\x81";  // '▁'

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

// _create_vocab_sentencepiece: SentencePiece's user-defined pieces count as normal.
int32_t spm_type_to_gguf(int32_t t) {
  switch (t) {
    case 2: return kTokUnknown;
    case 3: return kTokControl;
    case 5: return kTokUnused;
    case 6: return kTokByte;
    default: return kTokNormal;
  }
}

HfVocab read_spm_vocab(const std::string& dir, const HfConfig& cfg) {
  const std::string path = dir + "/tokenizer.model";
  const SpmModel spm = read_spm_model(path);
  const size_t n = cfg.vocab_size ? size_t(*cfg.vocab_size) : spm.pieces.size();
  if (n < spm.pieces.size())
    throw InputError(cfg.path + ": vocab_size " + std::to_string(n) + " is smaller than the " +
                     std::to_string(spm.pieces.size()) + " pieces of " + path);
  HfVocab v;
  v.model = "llama";
  v.pre = "default";
  v.tokens.resize(n);
  v.scores.assign(n, kPadScore);
  v.types.assign(n, kTokUnused);
  for (size_t i = 0; i < n; ++i) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (size_t i = 0; i < spm.pieces.size(); ++i) {
    v.tokens[i] = spm.pieces[i].piece;
    v.scores[i] = spm.pieces[i].score;
    v.types[i] = spm_type_to_gguf(spm.pieces[i].type);
  }

  const std::string added_path = dir + "/added_tokens.json";
  if (fs::exists(added_path)) {
    const json added = load_json(added_path);
    if (!added.is_object()) throw InputError(added_path + ": not a JSON object of token -> id");
    for (const auto& [text, id] : added.items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0)
        throw InputError(added_path + ": id of '" + text + "' is not a non-negative integer");
      const size_t i = size_t(id.get<int64_t>());
      if (i >= n) continue;  // llama.cpp ignores ids past vocab_size
      v.tokens[i] = text;
      v.scores[i] = kAddedScore;
      v.types[i] = kTokUserDefined;
    }
  }

  const std::string tc_path = dir + "/tokenizer_config.json";
  if (fs::exists(tc_path)) {
    const json tc = load_json(tc_path);
    auto dec = tc.is_object() ? tc.find("added_tokens_decoder") : tc.end();
    if (dec != tc.end() && !dec->is_null()) {
      if (!dec->is_object()) throw InputError(tc_path + ": added_tokens_decoder is not an object");
      for (const auto& [key, entry] : dec->items()) {
        const std::string field = tc_path + ": added_tokens_decoder." + key;
        size_t used = 0;
        int64_t id = -1;
        try {
          id = std::stoll(key, &used);
        } catch (const std::exception&) {
        }
        if (used != key.size() || id < 0) throw InputError(field + ": the key is not a token id");
        if (size_t(id) >= n) throw InputError(field + ": id is past vocab_size " + std::to_string(n));
        if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string())
          throw InputError(field + ": missing string field content");
        std::string text = entry["content"].get<std::string>();
        const bool special = entry.value("special", false);
        if (special || token_looks_special(text)) {
          v.types[size_t(id)] = kTokControl;
        } else {
          text = replace_all(text, kSpace, " ");  // user-defined tokens are pre-normalized
          v.types[size_t(id)] = kTokUserDefined;
        }
        v.scores[size_t(id)] = kAddedScore;
        v.tokens[size_t(id)] = text;
      }
    }
  }
  return v;
}

void set_special(HfVocab& v, const std::string& typ, int64_t id, std::optional<size_t> n_vocab) {
  if (n_vocab && uint64_t(id) >= *n_vocab) return;  // out of range: skipped, as SpecialVocab does
  for (const auto& [t, _] : v.special_ids)
    if (t == typ) return;  // the first source wins
  v.special_ids.emplace_back(typ, uint32_t(id));
}

// gguf-py SpecialVocab: tokenizer.json's added_tokens + tokenizer_config.json, then config.json.
void read_special_vocab(const std::string& dir, const HfConfig& cfg, HfVocab& v, std::optional<size_t> n_vocab) {
  static const char* const kTypes[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
  json added = json::array();
  const std::string tj_path = dir + "/tokenizer.json";
  if (fs::exists(tj_path)) {
    json tj = load_json(tj_path);
    if (tj.is_object() && tj.contains("added_tokens") && tj["added_tokens"].is_array()) added = tj["added_tokens"];
  }
  const std::string tc_path = dir + "/tokenizer_config.json";
  if (fs::exists(tc_path)) {
    const json tc = load_json(tc_path);
    if (!tc.is_object()) throw InputError(tc_path + ": not a JSON object");
    if (auto ct = tc.find("chat_template"); ct != tc.end() && !ct->is_null()) {
      if (ct->is_string()) {
        v.chat_template = ct->get<std::string>();
      } else if (ct->is_array()) {
        for (const auto& choice : *ct) {
          if (!choice.is_object()) throw InputError(tc_path + ": chat_template list entries must be objects");
          std::string name = choice.value("name", std::string());
          auto tmpl = choice.find("template");
          if (name.empty() || tmpl == choice.end() || !tmpl->is_string()) continue;
          for (char& c : name)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
          if (name == "default") v.chat_template = tmpl->get<std::string>();
          else v.named_chat_templates.emplace_back(name, tmpl->get<std::string>());
        }
      } else {
        throw InputError(tc_path + ": chat_template must be a string or a list of {name, template}");
      }
    }
    for (const char* typ : kTypes) {
      const std::string t = typ;
      if (auto a = tc.find("add_" + t + "_token"); a != tc.end() && a->is_boolean() && (t == "bos" || t == "eos"))
        v.add_special.emplace_back(t, a->get<bool>());
      auto e = tc.find(t + "_token");
      if (e == tc.end()) continue;
      std::string content;
      if (e->is_string()) content = e->get<std::string>();
      else if (e->is_object() && e->contains("content") && (*e)["content"].is_string()) content = (*e)["content"];
      else continue;
      for (const auto& at : added) {
        if (at.is_object() && at.value("content", std::string()) == content) {
          if (at.contains("id") && at["id"].is_number_integer() && at["id"].get<int64_t>() >= 0)
            set_special(v, t, at["id"].get<int64_t>(), n_vocab);
          break;
        }
      }
    }
  }
  for (const auto& [typ, id] : cfg.special_ids) set_special(v, typ, id, n_vocab);
}

// LlamaHfVocab: the tokenizer's special tokens (bos, eos, pad, ...) are control
// tokens even when added_tokens does not list them; <unk> stays unknown.
void mark_specials_control(HfVocab& v) {
  for (const auto& [_, id] : v.special_ids)
    if (id < v.types.size() && v.types[id] == kTokNormal) v.types[id] = kTokControl;
}

}  // namespace

bool token_looks_special(const std::string& t) {
  auto wrapped = [&](const std::string& open, const std::string& close) {
    return t.size() >= open.size() + close.size() && t.compare(0, open.size(), open) == 0 &&
           t.compare(t.size() - close.size(), close.size(), close) == 0;
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") || wrapped("<unused", ">");
}

HfVocab read_hf_vocab(const std::string& dir, const HfConfig& cfg) {
  HfVocab v;
  std::optional<size_t> n_vocab;
  const bool spm = fs::exists(dir + "/tokenizer.model");
  if (spm) {
    v = read_spm_vocab(dir, cfg);
    n_vocab = v.tokens.size();
  } else if (fs::exists(dir + "/tokenizer.json")) {
    v = detail::read_bpe_vocab(dir, cfg);
    if (v.model == "llama") n_vocab = v.tokens.size();  // _set_vocab_llama_hf bounds the special ids
  } else {
    throw InputError(dir + ": no tokenizer.model or tokenizer.json");
  }
  read_special_vocab(dir, cfg, v, n_vocab);
  if (v.model == "llama" && !spm) mark_specials_control(v);
  if (cfg.arch == HfArch::Llama) {
    const std::string tc_path = dir + "/tokenizer_config.json";
    if (fs::exists(tc_path)) {
      const json tc = load_json(tc_path);
      if (auto a = tc.find("add_prefix_space"); a != tc.end() && a->is_boolean()) v.add_space_prefix = a->get<bool>();
    }
  }
  return v;
}

void write_hf_vocab(GgufWriter& w, const HfVocab& v) {
  static const std::pair<const char*, const char*> kIdKeys[] = {
      {"bos", "bos_token_id"}, {"eos", "eos_token_id"},        {"unk", "unknown_token_id"},
      {"sep", "seperator_token_id"}, {"pad", "padding_token_id"}, {"mask", "mask_token_id"},
  };
  w.set_string("tokenizer.ggml.model", v.model);
  w.set_string("tokenizer.ggml.pre", v.pre);
  w.set_array("tokenizer.ggml.tokens", v.tokens);
  if (!v.scores.empty()) w.set_array("tokenizer.ggml.scores", v.scores);
  w.set_array("tokenizer.ggml.token_type", v.types);
  if (!v.merges.empty()) w.set_array("tokenizer.ggml.merges", v.merges);
  for (const auto& [typ, id] : v.special_ids)
    for (const auto& [t, key] : kIdKeys)
      if (typ == t) w.set_uint32(std::string("tokenizer.ggml.") + key, id);  // cls has no GGUF key
  for (const auto& [typ, add] : v.add_special) w.set_bool("tokenizer.ggml.add_" + typ + "_token", add);
  for (const auto& [name, tmpl] : v.named_chat_templates) w.set_string("tokenizer.chat_template." + name, tmpl);
  if (!v.named_chat_templates.empty()) {
    std::vector<std::string> names;
    for (const auto& [name, _] : v.named_chat_templates) names.push_back(name);
    w.set_array("tokenizer.chat_templates", names);
  }
  if (v.chat_template) w.set_string("tokenizer.chat_template", *v.chat_template);
  if (v.add_space_prefix) w.set_bool("tokenizer.ggml.add_space_prefix", *v.add_space_prefix);
}

}  // namespace qinfer
