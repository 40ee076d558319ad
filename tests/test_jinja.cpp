// The template language against Python's jinja2: hand-written semantics
// cases (tests/data/jinja/semantics.json) and random templates
// (tests/data/jinja/random.jsonl), both with jinja2's results recorded by
// scripts/jinja_reference.py; then what only the C++ renderer has: limits
// against hostile templates, error kinds and lines, and the API.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "jinja_test_env.h"
#include "qinfer/jinja/template.h"

using nlohmann::ordered_json;
using qinfer::jinja::ErrorKind;
using qinfer::jinja::python_error_class;
using qinfer::jinja::RenderOptions;
using qinfer::jinja::Template;
using qinfer::jinja::TemplateError;
using qinfer::jinja::Value;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string data(const std::string& name) { return std::string(QINFER_TEST_DATA) + "/jinja/" + name; }

// Renders; "!Class" for an error, as the data files write it.
std::string outcome(const std::string& source, const ordered_json& vars, const RenderOptions& o = qinfer::test::golden_options()) {
  try {
    return Template(source).render(vars, o);
  } catch (const TemplateError& e) {
    return std::string("!") + python_error_class(e.kind());
  }
}

TEST(Jinja, HandWrittenSemanticsMatchJinja2) {
  const ordered_json doc = ordered_json::parse(read_file(data("semantics.json")));
  ASSERT_GT(doc["cases"].size(), 100u);
  for (const auto& c : doc["cases"]) {
    const std::string t = c["template"];
    EXPECT_EQ(outcome(t, doc["variables"]), c["expected"].get<std::string>()) << c["group"] << ": " << t;
  }
}

TEST(Jinja, RandomTemplatesMatchJinja2) {
  std::ifstream in(data("random.jsonl"));
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const ordered_json vars = ordered_json::parse(line)["variables"];
  int n = 0;
  while (std::getline(in, line)) {
    const ordered_json c = ordered_json::parse(line);
    const std::string want = c.contains("out") ? c["out"].get<std::string>() : "!" + c["error"].get<std::string>();
    EXPECT_EQ(outcome(c["template"], vars), want) << "template: " << c["template"].dump();
    ++n;
  }
  EXPECT_EQ(n, 600);
}

// ---- limits: hostile templates end in a clear error, quickly ----

ErrorKind kind_of(const std::string& source, const ordered_json& vars = ordered_json::object(), RenderOptions o = {}) {
  try {
    Template(source).render(vars, o);
  } catch (const TemplateError& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no error from " << source.substr(0, 80);
  return ErrorKind::Syntax;
}

TEST(Jinja, StepLimitStopsRunawayLoops) {
  RenderOptions o;
  o.limits.max_steps = 200000;
  EXPECT_EQ(kind_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", ordered_json::object(), o),
            ErrorKind::Limit);
  // The sandbox's own cap comes first for a single huge range, as in jinja2.
  EXPECT_EQ(kind_of("{% for i in range(10**9) %}{% endfor %}"), ErrorKind::Overflow);
}

TEST(Jinja, RecursionAndSizeLimits) {
  EXPECT_EQ(kind_of("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}"), ErrorKind::Limit);
  EXPECT_EQ(kind_of("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}"), ErrorKind::Limit);
  RenderOptions o;
  o.limits.max_output_bytes = 1 << 20;
  EXPECT_EQ(kind_of("{{ 'a' * 1000000000 }}", ordered_json::object(), o), ErrorKind::Limit);
  EXPECT_EQ(kind_of("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", ordered_json::object(), o), ErrorKind::Limit);
  EXPECT_EQ(kind_of("{% set ns = namespace(x=[]) %}{% for i in range(2000) %}{% set ns.x = [ns.x] %}{% endfor %}"),
            ErrorKind::Limit);
}

TEST(Jinja, HostileSourcesFailToParseCleanly) {
  EXPECT_EQ(kind_of("{{ " + std::string(100000, '(')), ErrorKind::Syntax);
  EXPECT_EQ(kind_of("{{ " + std::string(50000, '[') + " }}"), ErrorKind::Syntax);
  std::string nested;
  for (int i = 0; i < 5000; ++i) nested += "{% if x %}";
  EXPECT_EQ(kind_of(nested), ErrorKind::Syntax);
  EXPECT_EQ(kind_of("{{ 'a' }}\xff\xfe"), ErrorKind::Syntax);          // not UTF-8
  EXPECT_EQ(kind_of("{{ 99999999999999999999 }}"), ErrorKind::Overflow);  // Python would have a big int
  EXPECT_EQ(kind_of("{{ 2 ** 64 }}"), ErrorKind::Overflow);
  // jinja2 fails here only when Python compiles its generated code (SyntaxError).
  EXPECT_EQ(kind_of("{% break %}"), ErrorKind::Syntax);
}

TEST(Jinja, ErrorsCarryTheTemplateLine) {
  try {
    Template("line 1\n{% if true %}\n{{ x.y }}\n{% endif %}").render(ordered_json::object());
    FAIL() << "no error";
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Undefined);
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.message(), "'x' is undefined");
  }
  try {
    Template("a\nb\n{% for %}");
    FAIL() << "no error";
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Syntax);
    EXPECT_EQ(e.line(), 3);
  }
  try {
    Template("{{ raise_exception('Only user and assistant roles are supported!') }}").render(ordered_json::object());
    FAIL() << "no error";
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Raised);
    EXPECT_EQ(e.message(), "Only user and assistant roles are supported!");
  }
}

// ---- API ----

TEST(Jinja, JsonVariablesKeepKeyOrder) {
  const ordered_json vars = ordered_json::parse(R"({"m": {"z": 1, "a": {"y": [true, null, 1.5]}}})");
  EXPECT_EQ(Template("{{ m | tojson }}|{{ m }}").render(vars), R"({"z": 1, "a": {"y": [true, null, 1.5]}}|{'z': 1, 'a': {'y': [True, None, 1.5]}})");
  EXPECT_THROW(Template("x").render(ordered_json::array()), TemplateError);
}

TEST(Jinja, ValueVariables) {
  std::vector<std::pair<std::string, Value>> vars = {{"n", Value(int64_t(3))}, {"s", Value("é")}};
  EXPECT_EQ(Template("{{ s * n }}{{ n + 0.5 }}").render(vars), "ééé3.5");
}

TEST(Jinja, GenerationTagRendersItsBody) {
  // Hugging Face's AssistantTracker extension tag, for assistant-token masks.
  EXPECT_EQ(Template("a{% generation %}b{{ 1 }}{% endgeneration %}c").render(ordered_json::object()), "ab1c");
}

TEST(Jinja, OneTemplateRendersOnManyThreads) {
  const Template t("{% for m in messages %}{{ m.role }}:{{ m.content | upper }}{% if not loop.last %},{% endif %}{% endfor %}");
  const ordered_json vars = ordered_json::parse(R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})");
  std::vector<std::string> out(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < out.size(); ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k) out[i] = t.render(vars);
    });
  for (auto& th : threads) th.join();
  for (const auto& s : out) EXPECT_EQ(s, "user:HI,assistant:YO");
}

}  // namespace
