#include "qinfer/tokenizer/pretokenize.h"

#include <map>

#include "qinfer/tokenizer/regex.h"
#include "qinfer/tokenizer/unicode.h"

namespace qinfer {

namespace {

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
constexpr const char* kGpt2 = "<gpt2>";
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
constexpr const char* kLlama3 = "<llama3>";

const char* const kGpt2Re = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Re =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Re =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kChatglm4Re =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kPoroRe = " ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+";

// The regex sets, as listed in the tokenizers' tokenizer.json / llama.cpp.
std::vector<const char*> patterns_for(PreType t) {
  switch (t) {
    case PreType::kLlama3:
    case PreType::kDbrx:
    case PreType::kSmaug:
      return {kLlama3};
    case PreType::kDeepseekLlm:
      return {
          R"([\r\n])",
          "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+",
          "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+",
          R"(\s+$)",
          "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
          R"(\p{N}+)",
      };
    case PreType::kDeepseek3:
      return {
          R"(\p{N}{1,3})",
          "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",
          R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
      };
    case PreType::kDeepseekCoder:
      return {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+", R"(\p{N})"};
    case PreType::kFalcon:
      return {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"([0-9][0-9][0-9])"};
    case PreType::kStarcoder:
    case PreType::kRefact:
    case PreType::kCommandR:
    case PreType::kSmollm:
    case PreType::kCodeshell:
    case PreType::kExaone:
    case PreType::kMinerva:
      return {R"(\p{N})", kGpt2};
    case PreType::kGpt2:
    case PreType::kMpt:
    case PreType::kOlmo:
    case PreType::kJais:
      return {kGpt2};
    case PreType::kStablelm2:
    case PreType::kQwen2:
      return {kQwen2Re};
    case PreType::kPoro:
    case PreType::kBloom:
    case PreType::kGpt3Finnish:
      return {kPoroRe};
    case PreType::kChatglm4:
      return {kChatglm4Re};
    case PreType::kViking:
      return {kPoroRe, R"(\p{N})"};
    case PreType::kTekken:
      return {
          R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
      };
    case PreType::kChameleon:
      return {
          R"(<sentinel:[0-9]+>)",
          R"((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)",
          R"(([\t\n]|    |  ))",
          R"(\p{N})",
          R"([\p{P}!-/:-@\[-`{-~])",
          kGpt2,
      };
    case PreType::kDefault:
      break;
  }
  return {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])"};
}

constexpr uint8_t kWs = unicode::kWhitespace;
constexpr uint8_t kL = unicode::kLetter;
constexpr uint8_t kN = unicode::kNumber;

// Splits cps[s, e) the way llama.cpp's hand-written GPT-2 / Llama-3 matchers do.
void split_custom(const uint32_t* cps, size_t s, size_t e, bool llama3, std::vector<size_t>& out) {
  auto in = [&](size_t p) { return p < e; };
  auto fl = [&](size_t p) -> uint8_t { return p < e ? unicode::flags(cps[p]) : 0; };
  auto is_rn = [&](size_t p) { return p < e && (cps[p] == '\r' || cps[p] == '\n'); };
  size_t prev = s;
  auto emit = [&](size_t end) {
    if (end > prev) out.push_back(end - prev);
    prev = end;
  };
  size_t pos = s;
  while (pos < e) {
    const uint32_t c = cps[pos];
    const uint8_t f = fl(pos);
    // 's|'t|'re|'ve|'m|'ll|'d (case-insensitive for llama3)
    if (c == '\'' && in(pos + 1)) {
      const uint32_t n1 = llama3 ? unicode::to_lower(cps[pos + 1]) : cps[pos + 1];
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        pos += 2;
        emit(pos);
        continue;
      }
      if (in(pos + 2)) {
        const uint32_t n2 = llama3 ? unicode::to_lower(cps[pos + 2]) : cps[pos + 2];
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          pos += 3;
          emit(pos);
          continue;
        }
      }
    }
    if (llama3) {
      // [^\r\n\p{L}\p{N}]?\p{L}+
      if (!(c == '\r' || c == '\n' || (f & kN)) && ((f & kL) || (fl(pos + 1) & kL))) {
        ++pos;
        while (fl(pos) & kL) ++pos;
        emit(pos);
        continue;
      }
      // \p{N}{1,3}
      if (f & kN) {
        size_t ini = pos;
        while (fl(pos) & kN) {
          if (++pos - ini >= 3) {
            emit(pos);
            ini = pos;
          }
        }
        emit(pos);
        continue;
      }
    } else {
      const uint8_t f2 = c == ' ' ? fl(pos + 1) : f;
      // ' ?\p{L}+' and ' ?\p{N}+'
      for (uint8_t cls : {kL, kN}) {
        if (f2 & cls) {
          if (c == ' ') ++pos;
          while (fl(pos) & cls) ++pos;
          emit(pos);
          goto next;
        }
      }
    }
    {
      // ' ?[^\s\p{L}\p{N}]+' (llama3: followed by [\r\n]*)
      const uint8_t f2 = c == ' ' ? fl(pos + 1) : f;
      const bool ok = llama3 ? true : (c != ' ' || in(pos + 1));
      if (!(f2 & (kWs | kL | kN)) && ok) {
        if (c == ' ') ++pos;
        while (in(pos) && !(fl(pos) & (kWs | kL | kN))) ++pos;
        if (llama3) while (is_rn(pos)) ++pos;
        emit(pos);
        continue;
      }
      size_t n = 0, last_rn = 0;
      while (fl(pos + n) & kWs) {
        if (llama3 && is_rn(pos + n)) last_rn = pos + n + 1;
        ++n;
      }
      if (last_rn > 0) {  // \s*[\r\n]+
        pos = last_rn;
        emit(pos);
        continue;
      }
      if (n > 1 && in(pos + n)) {  // \s+(?!\S)
        pos += n - 1;
        emit(pos);
        continue;
      }
      if (n > 0) {  // \s+
        pos += n;
        emit(pos);
        continue;
      }
      emit(++pos);  // no match: one code point
    }
  next:;
  }
}

}  // namespace

struct PreTokenizer::Step {
  enum Kind { kRegex, kGpt2Split, kLlama3Split } kind = kRegex;
  std::unique_ptr<Regex> re;
};

bool pre_type_from_name(const std::string& name, PreType* out) {
  static const std::map<std::string, PreType> kNames = {
      {"", PreType::kDefault}, {"default", PreType::kDefault},
      {"llama3", PreType::kLlama3}, {"llama-v3", PreType::kLlama3}, {"llama-bpe", PreType::kLlama3},
      {"falcon3", PreType::kLlama3},
      {"deepseek-llm", PreType::kDeepseekLlm}, {"deepseek-coder", PreType::kDeepseekCoder},
      {"deepseek-v3", PreType::kDeepseek3}, {"falcon", PreType::kFalcon}, {"mpt", PreType::kMpt},
      {"starcoder", PreType::kStarcoder},
      {"gpt-2", PreType::kGpt2}, {"phi-2", PreType::kGpt2}, {"jina-es", PreType::kGpt2},
      {"jina-de", PreType::kGpt2}, {"gigachat", PreType::kGpt2}, {"jina-v1-en", PreType::kGpt2},
      {"jina-v2-es", PreType::kGpt2}, {"jina-v2-de", PreType::kGpt2}, {"jina-v2-code", PreType::kGpt2},
      {"roberta-bpe", PreType::kGpt2},
      {"refact", PreType::kRefact}, {"command-r", PreType::kCommandR}, {"qwen2", PreType::kQwen2},
      {"megrez", PreType::kQwen2}, {"deepseek-r1-qwen", PreType::kQwen2}, {"stablelm2", PreType::kStablelm2}, {"olmo", PreType::kOlmo},
      {"dbrx", PreType::kDbrx}, {"smaug-bpe", PreType::kSmaug}, {"poro-chat", PreType::kPoro},
      {"chatglm-bpe", PreType::kChatglm4}, {"viking", PreType::kViking}, {"jais", PreType::kJais},
      {"tekken", PreType::kTekken}, {"smollm", PreType::kSmollm}, {"codeshell", PreType::kCodeshell},
      {"bloom", PreType::kBloom}, {"gpt3-finnish", PreType::kGpt3Finnish}, {"exaone", PreType::kExaone},
      {"chameleon", PreType::kChameleon}, {"minerva-7b", PreType::kMinerva},
  };
  auto it = kNames.find(name);
  if (it == kNames.end()) return false;
  *out = it->second;
  return true;
}

PreTokenizer::PreTokenizer(PreType type) {
  for (const char* p : patterns_for(type)) {
    auto step = std::make_unique<Step>();
    if (p == kGpt2) step->kind = Step::kGpt2Split;
    else if (p == kLlama3) step->kind = Step::kLlama3Split;
    else step->re = std::make_unique<Regex>(p);
    steps_.push_back(std::move(step));
  }
}

PreTokenizer::PreTokenizer(const std::vector<std::string>& regexes) {
  for (const auto& r : regexes) {
    auto step = std::make_unique<Step>();
    step->re = std::make_unique<Regex>(r);
    steps_.push_back(std::move(step));
  }
}

std::vector<std::string> pre_regexes(PreType type) {
  std::vector<std::string> out;
  for (const char* p : patterns_for(type)) {
    if (p == kGpt2) out.emplace_back(kGpt2Re);
    else if (p == kLlama3) out.emplace_back(kLlama3Re);
    else out.emplace_back(p);
  }
  return out;
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

std::vector<std::pair<size_t, size_t>> PreTokenizer::split(std::string_view text) const {
  const unicode::Decoded d = unicode::decode_utf8(text);
  const uint32_t* cps = d.cps.data();
  std::vector<size_t> lens = {d.size()};
  std::vector<size_t> next;
  for (const auto& step : steps_) {
    next.clear();
    size_t start = 0;
    for (size_t len : lens) {
      const size_t s = start, e = start + len;
      start = e;
      if (step->kind != Step::kRegex) {
        split_custom(cps, s, e, step->kind == Step::kLlama3Split, next);
        continue;
      }
      size_t last = s, pos = s, mb = 0, me = 0;
      while (pos <= e && step->re->search(cps, s, e, pos, &mb, &me)) {
        if (me == mb) {  // empty match: nothing to split off
          pos = mb + 1;
          continue;
        }
        if (mb > last) next.push_back(mb - last);
        next.push_back(me - mb);
        last = pos = me;
      }
      if (e > last) next.push_back(e - last);
    }
    lens.swap(next);
  }
  std::vector<std::pair<size_t, size_t>> words;
  words.reserve(lens.size());
  size_t start = 0;
  for (size_t len : lens) {
    if (len > 0) words.emplace_back(d.offsets[start], d.offsets[start + len]);
    start += len;
  }
  return words;
}

}  // namespace qinfer
