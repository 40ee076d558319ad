#include "qinfer/tokenizer/vocab.h"

#include <cstring>
#include <fstream>
#include <set>

#include "qinfer/core/ascii.h"
#include "qinfer/core/error.h"
#include "qinfer/core/warn.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/tokenizer/pretokenize.h"

namespace qinfer {

namespace {

template <class F>
auto with_key(const GgufFile& g, const char* key, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const InputError&) {
    throw;
  } catch (const Error& e) {
    throw InputError(g.path() + ": metadata key " + key + ": " + e.what());
  }
}

bool is_byte_token_text(const std::string& t) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

bool contains_any(const std::string& s, std::initializer_list<const char*> parts) {
  for (const char* p : parts)
    if (s.find(p) != std::string::npos) return true;
  return false;
}

// llama.cpp's per-model token attributes (llama-vocab.cpp, "Handle per token
// attributes"): jina v2/v3 and nomic-bert-moe strip spaces before <mask>,
// modern-bert before [MASK]; phi-3 strips spaces after every special token but
// <unk>, <s> and <|endoftext|>. A token the rule names but the vocabulary
// lacks is skipped (llama.cpp warns or throws).
void set_strip_attributes(VocabData& v) {
  const int32_t n = static_cast<int32_t>(v.size());
  v.strip.assign(static_cast<size_t>(n), 0);
  const auto set = [&](const std::string& text, uint8_t bit, bool on) {
    for (int32_t id = 0; id < n; ++id) {
      if (v.tokens[id] != text) continue;
      v.strip[id] = on ? (v.strip[id] | bit) : (v.strip[id] & ~bit);
    }
  };
  const std::string name = ascii_lower(v.general_name);
  if (contains_any(v.pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
      contains_any(v.general_arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    set("<mask>", kStripLeft, true);
  } else if (contains_any(name, {"phi-3", "phi3"})) {
    for (int32_t id = 0; id < n; ++id) {
      const int32_t t = v.types[id];
      if (t == kTokControl || t == kTokUserDefined || t == kTokUnknown) v.strip[id] |= kStripRight;
    }
    set("</s>", kStripRight, true);
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, kStripRight, false);
  } else if (contains_any(name, {"modern-bert"})) {
    set("[MASK]", kStripLeft, true);
  }
}

}  // namespace

void finalize_special_tokens(VocabData& v) {
  const int32_t n = static_cast<int32_t>(v.size());
  auto make_control = [&](int32_t id) {
    if (id >= 0 && id < n) v.types[id] = kTokControl;
  };
  int32_t fim_pad = -1, fim_rep = -1, fim_sep = -1;
  for (int32_t id = 0; id < n; ++id) {
    const std::string& t = v.tokens[id];
    if (v.eot < 0 && (t == "<|eot_id|>" || t == "<|im_end|>" || t == "<|end|>" || t == "<end_of_turn>" ||
                      t == "<|endoftext|>" || t == "<EOT>" || t == "<｜end▁of▁sentence｜>")) {
      v.eot = id;
      make_control(id);
    }
    if (v.eom < 0 && t == "<|eom_id|>") {
      v.eom = id;
      make_control(id);
    }
    if (fim_pad < 0 && (t == "<|fim_pad|>" || t == "<fim-pad>" || t == "<PAD>")) fim_pad = id;
    if (fim_rep < 0 && (t == "<|fim_repo|>" || t == "<|repo_name|>" || t == "<fim-repo>" || t == "<REPO>"))
      fim_rep = id;
    if (fim_sep < 0 && t == "<|file_sep|>") fim_sep = id;
  }
  std::set<int32_t> eog;
  for (int32_t id : {fim_pad, fim_rep, fim_sep}) {
    if (id >= 0) {
      eog.insert(id);
      make_control(id);
    }
  }
  for (int32_t id = 0; id < n; ++id) {
    const std::string& t = v.tokens[id];
    if (t == "<|eot_id|>" || t == "<|im_end|>" || t == "<|end|>" || t == "<end_of_turn>" ||
        t == "<|endoftext|>" || t == "<|eom_id|>" || t == "<EOT>") {
      eog.insert(id);
      make_control(id);
    }
  }
  for (int32_t id : {v.eos, v.eot, v.eom}) {
    if (id >= 0 && id < n) eog.insert(id);
  }
  v.eog.assign(eog.begin(), eog.end());
  set_strip_attributes(v);
}

VocabData vocab_from_gguf(const GgufFile& g) {
  VocabData v;
  const std::string& path = g.path();
  if (!g.find("tokenizer.ggml.model")) throw InputError(path + ": missing metadata key tokenizer.ggml.model");
  v.model = g.get_string("tokenizer.ggml.model");
  v.pre = g.get_string("tokenizer.ggml.pre", "");

  if (v.model == "llama") {
    v.kind = VocabKind::kSpm;
    v.bos = 1; v.eos = 2; v.unk = 0;
    v.add_space_prefix = true;
    v.add_bos = true;
  } else if (v.model == "gpt2") {
    v.kind = VocabKind::kBpe;
    v.bos = 11; v.eos = 11;
    v.clean_spaces = true;
  } else if (v.model == "bert") {
    v.kind = VocabKind::kWpm;
    v.bos = 101; v.unk = 100; v.sep = 102; v.pad = 0; v.mask = 103;
    v.clean_spaces = true;
    v.add_bos = true;
  } else {
    throw InputError(path + ": tokenizer.ggml.model '" + v.model + "' is not supported (llama, gpt2, bert)");
  }

  if (v.kind == VocabKind::kBpe) {
    PreType pt;
    if (!pre_type_from_name(v.pre, &pt))
      throw InputError(path + ": tokenizer.ggml.pre '" + v.pre + "' is not a known pre-tokenizer");
    if (pt == PreType::kLlama3 || pt == PreType::kTekken) v.ignore_merges = true;
    if (pt == PreType::kLlama3 || pt == PreType::kTekken || pt == PreType::kChameleon) v.add_bos = true;
    if (pt == PreType::kChatglm4) v.bos = -1;
    static const std::set<std::string> kNoCleanSpaces = {
        "deepseek-llm", "deepseek-coder", "deepseek-v3", "command-r", "qwen2", "deepseek-r1-qwen",
        "poro-chat",    "viking",         "tekken",      "smollm",    "chameleon"};
    if (kNoCleanSpaces.count(v.pre)) v.clean_spaces = false;
  }
  v.add_space_prefix = g.get_bool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  v.remove_extra_whitespaces = g.get_bool("tokenizer.ggml.remove_extra_whitespaces", v.remove_extra_whitespaces);

  const GgufValue* toks = g.find("tokenizer.ggml.tokens");
  if (!toks) throw InputError(path + ": missing metadata key tokenizer.ggml.tokens");
  v.tokens = with_key(g, "tokenizer.ggml.tokens", [&] { return toks->as_string_array(); });
  const size_t n = v.tokens.size();
  if (n == 0) throw InputError(path + ": metadata key tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(INT32_MAX)) throw InputError(path + ": tokenizer.ggml.tokens is too large");
  for (size_t i = 0; i < n; ++i)
    if (v.tokens[i].empty()) v.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";

  if (const GgufValue* s = g.find("tokenizer.ggml.scores")) {
    v.scores = with_key(g, "tokenizer.ggml.scores", [&] { return s->as_float_array(); });
    if (v.scores.size() != n)
      throw InputError(path + ": metadata key tokenizer.ggml.scores has " + std::to_string(v.scores.size()) +
                       " entries, tokenizer.ggml.tokens has " + std::to_string(n));
  } else {
    v.scores.assign(n, 0.0f);
  }
  if (const GgufValue* t = g.find("tokenizer.ggml.token_type")) {
    v.types = with_key(g, "tokenizer.ggml.token_type", [&] { return t->as_int32_array(); });
    if (v.types.size() != n)
      throw InputError(path + ": metadata key tokenizer.ggml.token_type has " + std::to_string(v.types.size()) +
                       " entries, tokenizer.ggml.tokens has " + std::to_string(n));
    for (auto& ty : v.types)
      if (ty < kTokUndefined || ty > kTokByte) ty = kTokUndefined;
  } else {
    v.types.assign(n, kTokNormal);
  }

  if (v.kind == VocabKind::kBpe) {
    const GgufValue* m = g.find("tokenizer.ggml.merges");
    if (!m) throw InputError(path + ": missing metadata key tokenizer.ggml.merges (required for gpt2 vocabularies)");
    v.merges = with_key(g, "tokenizer.ggml.merges", [&] { return m->as_string_array(); });
  }

  struct SpecialKey { const char* key; int32_t* id; };
  const SpecialKey keys[] = {
      {"tokenizer.ggml.bos_token_id", &v.bos},       {"tokenizer.ggml.eos_token_id", &v.eos},
      {"tokenizer.ggml.eot_token_id", &v.eot},       {"tokenizer.ggml.eom_token_id", &v.eom},
      {"tokenizer.ggml.unknown_token_id", &v.unk},   {"tokenizer.ggml.seperator_token_id", &v.sep},
      {"tokenizer.ggml.padding_token_id", &v.pad},   {"tokenizer.ggml.mask_token_id", &v.mask},
  };
  for (const auto& k : keys) {
    const GgufValue* val = g.find(k.key);
    if (!val) continue;
    const int64_t id = with_key(g, k.key, [&] { return val->as_int(); });
    if (id >= 0 && static_cast<uint64_t>(id) < n) {
      *k.id = static_cast<int32_t>(id);
      continue;
    }
    // Out of range: llama.cpp keeps the default and warns, and so do we; -1
    // (0xFFFFFFFF) is the usual "none" and needs no warning.
    if (id == -1 || id == 0xFFFFFFFFll) continue;
    const bool has_default = *k.id >= 0 && static_cast<size_t>(*k.id) < n;
    warn(path + ": " + k.key + " = " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(n) +
         " tokens; using " + (has_default ? "the default " + std::to_string(*k.id) : std::string("none")));
  }
  v.add_bos = g.get_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  v.add_eos = g.get_bool("tokenizer.ggml.add_eos_token", v.add_eos);
  v.chat_template = g.get_string("tokenizer.chat_template", "");
  v.general_name = g.get_string("general.name", "");
  v.general_arch = g.get_string("general.architecture", "");

  // Out-of-range defaults (e.g. gpt2's 11 in a tiny vocab) become absent.
  for (int32_t* id : {&v.bos, &v.eos, &v.eot, &v.eom, &v.unk, &v.sep, &v.pad, &v.mask})
    if (*id >= static_cast<int64_t>(n)) *id = -1;

  finalize_special_tokens(v);
  return v;
}

VocabData vocab_from_llama2c(const std::string& path, int vocab_size) {
  if (vocab_size <= 0 || vocab_size > (1 << 24))
    throw InputError(path + ": vocab_size " + std::to_string(vocab_size) + " is out of range");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path + ": cannot open llama2.c tokenizer");
  f.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  auto read = [&](void* dst, size_t n, const char* what) {
    if (!f.read(static_cast<char*>(dst), static_cast<std::streamsize>(n)))
      throw InputError(path + ": truncated while reading " + what);
  };
  int32_t max_len = 0;
  read(&max_len, 4, "max_token_length");
  if (max_len <= 0 || max_len > (1 << 16))
    throw InputError(path + ": max_token_length " + std::to_string(max_len) + " is out of range");

  VocabData v;
  v.kind = VocabKind::kSpm;
  v.model = "llama";
  v.bos = 1; v.eos = 2; v.unk = 0;
  v.add_bos = true;
  v.add_space_prefix = true;
  v.tokens.resize(static_cast<size_t>(vocab_size));
  v.scores.resize(static_cast<size_t>(vocab_size));
  v.types.resize(static_cast<size_t>(vocab_size));
  for (int i = 0; i < vocab_size; ++i) {
    float score = 0;
    int32_t len = 0;
    read(&score, 4, "a token score");
    read(&len, 4, "a token length");
    if (len < 0 || len > max_len || static_cast<uint64_t>(f.tellg()) + static_cast<uint64_t>(len) > file_size)
      throw InputError(path + ": token " + std::to_string(i) + " has invalid length " + std::to_string(len));
    std::string t(static_cast<size_t>(len), '\0');
    if (len > 0) read(t.data(), t.size(), "token bytes");
    // llama2.c's export writes BOS/EOS as "\n<s>\n" / "\n</s>\n" and '▁' as ' '.
    if (t.size() >= 2 && t.front() == '\n' && t.back() == '\n' && t[1] == '<') t = t.substr(1, t.size() - 2);
    std::string piece;
    for (char c : t) {
      if (c == ' ') piece += "\xE2\x96\x81";
      else piece += c;
    }
    if (piece.empty()) piece = "[EMPTY_" + std::to_string(i) + "]";
    v.scores[i] = score;
    if (i == v.unk) v.types[i] = kTokUnknown;
    else if (i == v.bos || i == v.eos) v.types[i] = kTokControl;
    else if (is_byte_token_text(piece)) v.types[i] = kTokByte;
    else v.types[i] = kTokNormal;
    v.tokens[i] = std::move(piece);
  }
  finalize_special_tokens(v);
  return v;
}

}  // namespace qinfer
