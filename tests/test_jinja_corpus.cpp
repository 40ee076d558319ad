// Every chat template in ../shared/data/templates rendered for the four
// conversations of ../shared/data/golden/templates must equal Python jinja2's
// rendering byte for byte, or fail where jinja2 failed: with the same message
// when the template raised it (raise_exception), else with the same class.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "jinja_test_env.h"
#include "qinfer/jinja/template.h"
#include "test_util.h"

using nlohmann::ordered_json;
using qinfer::jinja::python_error_class;
using qinfer::jinja::Template;
using qinfer::jinja::TemplateError;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string first_difference(const std::string& got, const std::string& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  auto around = [&](const std::string& s) { return s.substr(i < 40 ? 0 : i - 40, 100); };
  return "first difference at byte " + std::to_string(i) + "\n  got:  " + around(got) + "\n  want: " + around(want);
}

TEST(JinjaCorpus, MatchesPythonJinja2OnEveryTemplateAndConversation) {
  QINFER_REQUIRE_DATA("golden/templates/index.json");
  const std::string golden = qinfer::test::data_path("golden/templates");
  const ordered_json index = ordered_json::parse(read_file(golden + "/index.json"));
  const ordered_json cases = ordered_json::parse(read_file(golden + "/conversations.json"))["cases"];
  int checked = 0, errors = 0;
  for (auto it = index.begin(); it != index.end(); ++it) {
    const std::string name = it.key();
    const std::string source = read_file(qinfer::test::data_path("templates/" + name + ".jinja"));
    ASSERT_FALSE(source.empty()) << name;
    std::unique_ptr<Template> t;
    try {
      t = std::make_unique<Template>(source);
    } catch (const TemplateError& e) {
      ADD_FAILURE() << name << ": does not parse: " << e.what();
      continue;
    }
    for (auto c = it.value()["cases"].begin(); c != it.value()["cases"].end(); ++c) {
      const ordered_json& conv = cases[c.key()];
      ordered_json vars = {{"messages", conv["messages"]},
                           {"tools", nullptr},
                           {"documents", nullptr},
                           {"add_generation_prompt", conv["add_generation_prompt"]},
                           {"bos_token", it.value()["bos_token"]},
                           {"eos_token", it.value()["eos_token"]}};
      const ordered_json& want = c.value();
      const std::string label = name + " case " + c.key();
      ++checked;
      try {
        const std::string got = t->render(vars, qinfer::test::golden_options());
        ASSERT_EQ(want["status"], "ok") << label << ": rendered, but jinja2 raised " << want["exception"];
        const std::string expected = read_file(golden + "/" + name + "." + c.key() + ".txt");
        EXPECT_EQ(got, expected) << label << ": " << first_difference(got, expected);
      } catch (const TemplateError& e) {
        ++errors;
        ASSERT_EQ(want["status"], "error") << label << ": raised " << python_error_class(e.kind()) << ": " << e.message();
        const std::string cls = want["exception"].get<std::string>();
        EXPECT_EQ(cls.substr(cls.rfind('.') + 1), python_error_class(e.kind())) << label << ": " << e.message();
        if (e.kind() == qinfer::jinja::ErrorKind::Raised) {
          EXPECT_EQ(e.message(), want["message"].get<std::string>()) << label;
        }
      }
    }
  }
  EXPECT_EQ(checked, 180);
  EXPECT_EQ(errors, 12);
}

}  // namespace
