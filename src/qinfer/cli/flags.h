// One mechanism for the command line's rough edges: the allowed range of every
// numeric flag, checked on the text before CLI11 converts it so a bad value is
// one plain line naming the flag and the range ("--temp: -1 is out of range;
// allowed: 0 or more"), and plain wording for CLI11's own parse errors.
// tests/test_cli_flags.cpp walks every command and fails on a numeric flag
// defined without an Allowed check.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace qinfer::cli {

// The values a numeric flag accepts: whole numbers or reals in [lo, hi]
// (lo excluded after above()), plus optionally one special value with a
// meaning (-1 = all, -1 = random).
class Allowed {
 public:
  static constexpr double kNoLimit = std::numeric_limits<double>::infinity();

  static Allowed ints(double lo, double hi = kNoLimit) { return Allowed(true, lo, hi); }
  static Allowed reals(double lo, double hi = kNoLimit) { return Allowed(false, lo, hi); }
  // Excludes lo itself ("more than 0").
  Allowed above() const;
  Allowed or_value(int64_t value, const std::string& meaning) const;

  // "" when `text` is allowed, else why not (without the flag's name).
  std::string check(const std::string& text) const;
  // "1 to 4096", "0 or more", "more than 0", "-1 (all) or 1 or more".
  std::string describe() const;

  // The CLI11 validator; its name is kValidatorName.
  operator CLI::Validator() const;  // NOLINT: used as ->check(Allowed::ints(1))
  static constexpr const char* kValidatorName = "qinfer-allowed";

 private:
  Allowed(bool integer, double lo, double hi) : integer_(integer), lo_(lo), hi_(hi) {}
  bool integer_;
  double lo_, hi_;
  bool lo_open_ = false;
  std::optional<int64_t> special_;
  std::string special_means_;
};

// --seed N: a seed for runs that can be repeated, or -1 for a random one
// (drawn here, as llama.cpp's -1), stored into `seed`.
CLI::Option* add_seed_option(CLI::App& cmd, uint64_t& seed, const std::string& help);

// The one-line message for a CLI11 parse error, in plain words: which flag,
// what was wrong, what to do.
std::string plain_parse_error(const CLI::ParseError& e);

// When argv names no known command: "unknown command 'x'; commands: run, ...".
// Empty when the first argument is a command, an option or absent.
std::string unknown_command_message(int argc, char** argv);

}  // namespace qinfer::cli
