// Numeric flags and CLI11's parse errors: every numeric flag of every command
// carries a range check, and bad values, repeated or missing flags and unknown
// commands each give one plain line (exit code 2) naming what was wrong.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "cli_runner.h"
#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"

using namespace qinfer;
using namespace qinfer::test;

namespace {

const std::string kModel = "models/stories260K/stories260K.gguf";

// Every option of a command and of its subcommands (runs list/show/...).
void for_each_option(CLI::App& app, const std::string& path, const std::function<void(const std::string&, CLI::Option&)>& f) {
  for (CLI::Option* o : app.get_options()) f(path, *o);
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    for_each_option(*sub, path + " " + sub->get_name(), f);
}

bool is_numeric(const CLI::Option& o) {
  if (o.get_items_expected_max() == 0) return false;  // a switch
  std::string type = o.get_type_name();
  type = type.substr(0, type.find(':'));
  return type == "INT" || type == "UINT" || type == "FLOAT" || type == "NUMBER";
}

bool has_range_check(CLI::Option& o) {
  try {
    return o.get_validator(cli::Allowed::kValidatorName) != nullptr;
  } catch (const CLI::OptionNotFound&) {
    return false;
  }
}

}  // namespace

TEST(CliFlags, EveryNumericFlagHasARange) {
  CLI::App app;
  int numeric = 0;
  std::vector<std::string> unchecked;
  for (const auto& spec : cli::kCommands) {
    CLI::App& cmd = *app.add_subcommand(spec.name, spec.help);
    spec.define(cmd);
    for_each_option(cmd, spec.name, [&](const std::string& where, CLI::Option& o) {
      if (!is_numeric(o)) return;
      ++numeric;
      if (!has_range_check(o)) unchecked.push_back(where + " " + o.get_name(true, true));
    });
  }
  // The walk must see the flags it is about (run alone has a dozen).
  EXPECT_GT(numeric, 40);
  EXPECT_TRUE(unchecked.empty()) << "numeric flags without ->check(Allowed::...) (cli/flags.h): "
                                 << ::testing::PrintToString(unchecked);
}

TEST(CliFlags, AllowedChecksTextBeforeConversion) {
  const auto ctx = cli::Allowed::ints(1, 4096);
  EXPECT_EQ(ctx.check("1"), "");
  EXPECT_EQ(ctx.check("4096"), "");
  EXPECT_EQ(ctx.check("0"), "0 is out of range; allowed: 1 to 4096");
  EXPECT_EQ(ctx.check("4097"), "4097 is out of range; allowed: 1 to 4096");
  EXPECT_EQ(ctx.check("1.5"), "'1.5' is not a whole number");
  EXPECT_EQ(ctx.check("ten"), "'ten' is not a number");
  EXPECT_EQ(ctx.check(""), "'' is not a number");
  EXPECT_EQ(ctx.check("99999999999999999999999"), "99999999999999999999999 is out of range; allowed: 1 to 4096");
  const auto chunks = cli::Allowed::ints(1).or_value(-1, "all");
  EXPECT_EQ(chunks.check("-1"), "");
  EXPECT_EQ(chunks.check("0"), "0 is out of range; allowed: -1 (all) or 1 or more");
  const auto penalty = cli::Allowed::reals(0).above();
  EXPECT_EQ(penalty.check("0"), "0 is out of range; allowed: more than 0");
  EXPECT_EQ(penalty.check("1e-3"), "");
  EXPECT_EQ(penalty.check("nan"), "'nan' is not a number");
  EXPECT_EQ(cli::Allowed::reals(0, 1).check("1.0000001"), "1.0000001 is out of range; allowed: 0 to 1");
  EXPECT_EQ(cli::Allowed::reals(0).above().check("inf"), "");  // --request-rate inf
}

// The list, one plain line each naming the flag and what is allowed.
TEST(CliFlags, OutOfRangeValuesAreOneLineErrors) {
  struct Case {
    const char* args;
    const char* flag;
  };
  const Case cases[] = {
      {"run --temp -1", "--temp"},          {"run --top-p 2", "--top-p"},
      {"run --top-k -5", "--top-k"},        {"run --min-p 5", "--min-p"},
      {"run --repeat-penalty -1", "--repeat-penalty"},
      {"run -c 0", "--ctx-size"},           {"run -c -3", "--ctx-size"},
      {"run -n -5", "--n-predict"},         {"run --seed -2", "--seed"},
      {"run -t -1", "--threads"},           {"bench -p -5", "--n-prompt"},
      {"bench -n 8,-1", "--n-gen"},         {"bench -r 0", "--repetitions"},
      {"bench --timeout 0", "--timeout"},   {"perplexity -c 0", "--ctx-size"},
      {"perplexity --chunks 0", "--chunks"}, {"eval --gen-tokens 0", "--gen-tokens"},
      {"create --eps 0", "--eps"},          {"create --layers 0", "--layers"},
      {"optimize --price-per-hour -3", "--price-per-hour"},
      {"run --temp abc", "--temp"},         {"run -n 1.5", "--n-predict"},
  };
  for (const Case& c : cases) {
    const auto r = run_qinfer(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(std::string(c.flag) + ":"), std::string::npos) << c.args << ": " << r.err;
    const bool says_range = r.err.find("allowed:") != std::string::npos;
    const bool says_not_number = r.err.find("is not a") != std::string::npos;
    EXPECT_TRUE(says_range || says_not_number) << c.args << ": " << r.err;
    EXPECT_LT(r.err.size(), 160u) << c.args << ": " << r.err;
  }
}

TEST(CliFlags, ParseErrorsInPlainWords) {
  const auto twice = run_qinfer("run -p a -p b");
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_EQ(twice.err, "qinfer: error: --prompt was given 2 times; give it once\n");
  const auto both = run_qinfer("tokenize -p a -f b");
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_EQ(both.err, "qinfer: error: give only one of -p/--prompt, -f/--file\n") << both.err;
  const auto neither = run_qinfer("tokenize");
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_EQ(neither.err, "qinfer: error: give one of -p/--prompt, -f/--file\n") << neither.err;
  const auto no_value = run_qinfer("run -n");
  EXPECT_EQ(no_value.exit_code, 2);
  EXPECT_EQ(no_value.err, "qinfer: error: --n-predict needs a value\n") << no_value.err;
  const auto unknown_flag = run_qinfer("run --frobnicate");
  EXPECT_EQ(unknown_flag.exit_code, 2);
  EXPECT_EQ(unknown_flag.err, "qinfer: error: unknown option --frobnicate (see --help)\n") << unknown_flag.err;
  for (const auto& r : {twice, both, neither, no_value, unknown_flag})
    EXPECT_EQ(r.err.find("required but received"), std::string::npos) << r.err;
}

TEST(CliFlags, UnknownOrMissingCommandListsTheCommands) {
  const auto bogus = run_qinfer("bogus");
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_EQ(count_lines(bogus.err), 1) << bogus.err;
  EXPECT_NE(bogus.err.find("unknown command 'bogus'"), std::string::npos) << bogus.err;
  const auto none = run_qinfer("");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(count_lines(none.err), 1) << none.err;
  for (const auto* r : {&bogus, &none})
    for (const auto& spec : cli::kCommands) EXPECT_NE(r->err.find(spec.name), std::string::npos) << r->err;
  EXPECT_EQ(run_qinfer("--version").exit_code, 0);
  EXPECT_EQ(run_qinfer("--help").exit_code, 0);
}

// --seed -1 is a random seed, as in llama.cpp: two runs differ, and a fixed
// seed still repeats.
TEST(CliFlags, SeedMinusOneIsRandom) {
  QINFER_REQUIRE_DATA(kModel);
  const std::string args = "run -m " + data_path(kModel) + " -n 12 -t 1 --temp 1.5 --top-k 0 --top-p 1 --min-p 0 --no-stats";
  std::set<std::string> outs;
  for (int i = 0; i < 3; ++i) {
    const auto r = run_qinfer(args + " --seed -1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    outs.insert(r.out);
  }
  EXPECT_GT(outs.size(), 1u) << "three random seeds gave the same 12 tokens";
  EXPECT_EQ(run_qinfer(args + " --seed 7").out, run_qinfer(args + " --seed 7").out);
}
