#include "qinfer/cli/flags.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <random>
#include <regex>
#include <vector>

#include "qinfer/cli/commands.h"

namespace qinfer::cli {

namespace {

std::string number_text(double v) {
  if (std::isinf(v)) return v > 0 ? "infinity" : "-infinity";
  char b[32];
  std::snprintf(b, sizeof b, "%.15g", v);
  return b;
}

std::string command_list() {
  std::string s;
  for (const CommandSpec& c : kCommands) s += (s.empty() ? "" : ", ") + std::string(c.name);
  return s;
}

// CLI11's "[-p,--prompt,-f,--file]" -> "-p/--prompt, -f/--file"
std::string readable_list(std::string s) {
  if (!s.empty() && s.front() == '[') s.erase(0, 1);
  if (!s.empty() && s.back() == ']') s.pop_back();
  std::vector<std::string> names;
  for (size_t pos = 0; pos <= s.size();) {
    const size_t comma = std::min(s.find(',', pos), s.size());
    names.push_back(s.substr(pos, comma - pos));
    pos = comma + 1;
  }
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    const bool short_then_long = names[i].rfind("--", 0) != 0 && i + 1 < names.size() && names[i + 1].rfind("--", 0) == 0;
    out += (out.empty() ? "" : ", ") + names[i];
    if (short_then_long) out += "/" + names[++i];
  }
  return out;
}

}  // namespace

Allowed Allowed::above() const {
  Allowed a = *this;
  a.lo_open_ = true;
  return a;
}

Allowed Allowed::or_value(int64_t value, const std::string& meaning) const {
  Allowed a = *this;
  a.special_ = value;
  a.special_means_ = meaning;
  return a;
}

std::string Allowed::describe() const {
  std::string range;
  const bool no_hi = std::isinf(hi_);
  if (lo_open_) range = no_hi ? "more than " + number_text(lo_) : "more than " + number_text(lo_) + " up to " + number_text(hi_);
  else if (no_hi) range = number_text(lo_) + " or more";
  else range = number_text(lo_) + " to " + number_text(hi_);
  if (special_) return std::to_string(*special_) + " (" + special_means_ + ") or " + range;
  return range;
}

std::string Allowed::check(const std::string& text) const {
  const char* s = text.c_str();
  char* end = nullptr;
  errno = 0;
  double v = 0;
  if (integer_) {
    const long long i = std::strtoll(s, &end, 10);
    if (end == s || *end != '\0') {
      // Tell a fraction from garbage: "1.5" is a number, just not a whole one.
      char* end2 = nullptr;
      const double d = std::strtod(s, &end2);
      if (end2 != s && *end2 == '\0' && std::isfinite(d)) return "'" + text + "' is not a whole number";
      return "'" + text + "' is not a number";
    }
    if (errno == ERANGE) return text + " is out of range; allowed: " + describe();
    if (special_ && i == *special_) return {};
    v = double(i);
  } else {
    v = std::strtod(s, &end);
    if (end == s || *end != '\0' || std::isnan(v)) return "'" + text + "' is not a number";
    if (special_ && v == double(*special_)) return {};
  }
  const bool low_ok = lo_open_ ? v > lo_ : v >= lo_;
  if (!low_ok || v > hi_) return text + " is out of range; allowed: " + describe();
  return {};
}

Allowed::operator CLI::Validator() const {
  const Allowed self = *this;
  CLI::Validator v([self](std::string& text) { return self.check(text); }, describe(), kValidatorName);
  return v;
}

CLI::Option* add_seed_option(CLI::App& cmd, uint64_t& seed, const std::string& help) {
  constexpr int64_t kMaxSeed = 0xFFFFFFFEll;  // 0xFFFFFFFF is llama.cpp's "random"
  return cmd
      .add_option_function<int64_t>(
          "--seed",
          [&seed](int64_t v) {
            if (v >= 0) {
              seed = uint64_t(v);
              return;
            }
            std::random_device rd;
            seed = uint64_t(rd()) % uint64_t(kMaxSeed + 1);
          },
          help + " (-1: random)")
      ->check(Allowed::ints(0, double(kMaxSeed)).or_value(-1, "random"));
}

std::string plain_parse_error(const CLI::ParseError& e) {
  const std::string msg = e.what();
  std::smatch m;
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
    static const std::regex at_most(R"((\S+): At Most (\d+) required but received (\d+))");
    static const std::regex at_least(R"((\S+): At least (\d+) required but received (\d+))");
    static const std::regex missing(R"((\S+): (\d+) required .* missing)");
    static const std::regex exactly(R"(Expected (exactly|at least) (\d+) arguments to (\S+), got (\d+))");
    if (std::regex_match(msg, m, at_most))
      return m[2] == "1" ? m.str(1) + " was given " + m.str(3) + " times; give it once"
                         : m.str(1) + " takes at most " + m.str(2) + " values, got " + m.str(3);
    if (std::regex_match(msg, m, at_least))
      return m[3] == "0" ? m.str(1) + " needs a value" : m.str(1) + " needs at least " + m.str(2) + " values, got " + m.str(3);
    if (std::regex_match(msg, m, missing)) return m.str(1) + " needs a value";
    if (std::regex_match(msg, m, exactly))
      return m.str(3) + " takes " + m.str(1) + " " + m.str(2) + " values, got " + m.str(4);
  }
  if (dynamic_cast<const CLI::RequiredError*>(&e)) {
    static const std::regex one_of(R"(Exactly 1 option from (\[.*\])( is required)?)");
    static const std::regex too_many(R"(Exactly 1 option from (\[.*\]) is required and (\d+) were given)");
    static const std::regex at_most_one(R"(Requires at most 1 options be given from (\[.*\])( is required)?)");
    if (msg.rfind("A subcommand", 0) == 0) return "a command is needed; commands: " + command_list();
    if (std::regex_match(msg, m, too_many)) return "give only one of " + readable_list(m.str(1));
    if (std::regex_match(msg, m, one_of)) return "give one of " + readable_list(m.str(1));
    if (std::regex_match(msg, m, at_most_one)) return "give at most one of " + readable_list(m.str(1));
    return msg;
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    static const std::regex extras(R"(The following arguments? (?:was|were) not expected: (.*))");
    if (std::regex_match(msg, m, extras)) {
      const std::string what = m.str(1);
      return (what[0] == '-' ? "unknown option " + what : "unexpected argument '" + what + "'") + " (see --help)";
    }
  }
  if (dynamic_cast<const CLI::ConversionError*>(&e)) {
    static const std::regex convert(R"(Could not convert: (\S+) = (.*))");
    static const std::regex flag(R"((\S+): Should be true/false or a number)");
    if (std::regex_match(msg, m, convert)) return m.str(1) + ": '" + m.str(2) + "' is not a valid value";
    if (std::regex_match(msg, m, flag)) return m.str(1) + " is a switch and takes no value";
  }
  if (dynamic_cast<const CLI::ExcludesError*>(&e)) {
    static const std::regex excludes(R"((\S+) excludes (\S+))");
    if (std::regex_match(msg, m, excludes)) return m.str(1) + " and " + m.str(2) + " cannot be used together";
  }
  return msg;
}

std::string unknown_command_message(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return {};
  for (const CommandSpec& c : kCommands)
    if (std::string(argv[1]) == c.name) return {};
  return "unknown command '" + std::string(argv[1]) + "'; commands: " + command_list();
}

}  // namespace qinfer::cli
