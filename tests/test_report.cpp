// qinfer report: recommendations computed by hand for synthetic runs, SVGs
// that are well-formed XML, escaping of a hostile model name, the command
// over a real store, and the HTML rendered by headless Chromium.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <regex>

#include "cli_runner.h"
#include "qinfer/core/error.h"
#include "qinfer/report/analysis.h"
#include "qinfer/report/report.h"
#include "qinfer/report/svg.h"
#include "qinfer/store/results_store.h"
#include "test_util.h"

namespace qinfer {
namespace {

const std::string kHostile = "<script>alert(\"x\")</script> & 'q' ]]> <!--";

RunRecord run(const std::string& label, const std::string& kind, int64_t size) {
  RunRecord r;
  r.kind = kind;
  r.label = label;
  r.model.path = "/models/" + label + ".gguf";
  r.model.file_type = label;
  r.model.size_bytes = size;
  r.model.bits_per_weight = 8.0 * double(size) / 1000.0;
  r.machine = {"Synthetic CPU 9000", 16, int64_t(64) << 30, "none"};
  r.engine_version = "0.1.0";
  return r;
}

// label, size, tg tok/s, ppl. By hand (see analysis.h for the score):
//   fastest Q4_0 (30), smallest Q4_0 (300 B), best quality F32 (5.0);
//   balanced over F32, Q8_0, Q4_0, Q5_1 with size 300..1000, tg 10..30, ppl 5.0..6.2:
//     F32  (1, 1, 0)               → sqrt(2/3)                       = 0.8165
//     Q8_0 (200/700, 12/20, 0.1/1.2) → sqrt((0.08163+0.36+0.00694)/3) = 0.3867
//     Q4_0 (0, 0, 1/1.2)           → sqrt(0.69444/3)                 = 0.4811
//     Q5_1 (100/700, 14/20, 1)     → sqrt((0.02041+0.49+1)/3)        = 0.7095
//   so Q8_0; the size/ppl Pareto front is Q4_0, Q8_0, F32 (Q5_1 is beaten by Q4_0).
std::vector<RunRecord> synthetic_runs() {
  std::vector<RunRecord> runs;
  const struct {
    const char* label;
    int64_t size;
    double tg, ppl;
  } rows[] = {{"F32", 1000, 10, 5.0}, {"Q8_0", 500, 18, 5.1}, {"Q4_0", 300, 30, 6.0}, {"Q5_1", 400, 16, 6.2}};
  for (const auto& row : rows) {
    RunRecord b = run(row.label, "bench", row.size);
    b.add(metric::kTgTps, row.tg, "tok/s");
    b.add(metric::kPpTps, row.tg * 12, "tok/s");
    b.add(metric::kPeakRssBytes, double(row.size) * 3, "B");
    runs.push_back(b);
    RunRecord e = run(row.label, "eval", row.size);
    e.add(metric::kPpl, row.ppl);
    e.add(metric::kPplErr, 0.03);
    if (std::string(row.label) != "F32") e.add(metric::kKldMean, (row.ppl - 5.0) / 10, "");
    runs.push_back(e);
  }
  for (int c : {1, 2, 4}) {  // serving runs of Q4_0 at three concurrency levels
    RunRecord s = run("Q4_0", "bench", 300);
    s.add(metric::kConcurrency, c);
    s.add(metric::kOutputThroughput, 25.0 * c / (1 + 0.2 * c), "tok/s");
    for (const char* stat : {"mean", "median", "p90", "p99"}) {
      s.add(metric::latency("ttft", stat), 20 + c * (std::string(stat) == "p99" ? 9 : 4), "ms");
      s.add(metric::latency("tpot", stat), 30 + c, "ms");
    }
    runs.push_back(s);
  }
  RunRecord h = run(kHostile, "bench", 2000);  // a hostile name, throughput only
  h.add(metric::kTgTps, 5, "tok/s");
  runs.push_back(h);
  for (size_t i = 0; i < runs.size(); ++i) runs[i].id = int64_t(i + 1);
  return runs;
}

// Well-formedness of our SVG output: every tag closed in order, attributes
// quoted, only the five predefined entities or numeric references, no raw
// '<' or '&' in text. (Enough XML for what a writer emits; no DTDs.)
::testing::AssertionResult well_formed_xml(const std::string& s) {
  std::vector<std::string> stack;
  size_t i = 0;
  if (s.rfind("<?xml", 0) == 0) i = s.find("?>") + 2;
  const std::regex entity(R"(^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)");
  auto check_text = [&](const std::string& t) -> std::string {
    for (size_t k = 0; k < t.size(); ++k) {
      if (t[k] == '<') return "raw '<' in text";
      if (t[k] == '&' && !std::regex_search(t.substr(k, 12), entity)) return "bad entity at " + t.substr(k, 12);
    }
    return "";
  };
  int roots = 0;
  while (i < s.size()) {
    const size_t lt = s.find('<', i);
    const std::string text = s.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    if (auto e = check_text(text); !e.empty()) return ::testing::AssertionFailure() << e;
    if (stack.empty() && text.find_first_not_of(" \r\n\t") != std::string::npos)
      return ::testing::AssertionFailure() << "text outside the root element";
    if (lt == std::string::npos) break;
    const size_t gt = s.find('>', lt);
    if (gt == std::string::npos) return ::testing::AssertionFailure() << "unterminated tag";
    std::string tag = s.substr(lt + 1, gt - lt - 1);
    i = gt + 1;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1))
        return ::testing::AssertionFailure() << "mismatched </" << tag.substr(1) << ">";
      stack.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    if (self_closing) tag.pop_back();
    const std::string name = tag.substr(0, tag.find_first_of(" \n\t"));
    if (!std::regex_match(name, std::regex("[A-Za-z][A-Za-z0-9:_-]*")))
      return ::testing::AssertionFailure() << "bad tag name '" << name << "'";
    static const std::regex attr(R"re(\s+([A-Za-z_:][A-Za-z0-9:_.-]*)="([^"<]*)")re");
    const std::string rest = tag.substr(name.size());
    std::string leftover = std::regex_replace(rest, attr, "");
    if (leftover.find_first_not_of(" \n\t") != std::string::npos)
      return ::testing::AssertionFailure() << "malformed attributes in <" << name << ">: " << leftover;
    for (std::sregex_iterator it(rest.begin(), rest.end(), attr), end; it != end; ++it)
      if (auto e = check_text((*it)[2]); !e.empty()) return ::testing::AssertionFailure() << e << " in attribute";
    if (stack.empty()) ++roots;
    if (!self_closing) stack.push_back(name);
  }
  if (!stack.empty()) return ::testing::AssertionFailure() << "unclosed <" << stack.back() << ">";
  if (roots != 1) return ::testing::AssertionFailure() << roots << " root elements";
  return ::testing::AssertionSuccess();
}

TEST(XmlChecker, RejectsBrokenDocuments) {  // the checker itself must be able to fail
  EXPECT_TRUE(well_formed_xml("<svg a=\"1\"><g><rect/></g><text>x &amp; y</text></svg>"));
  EXPECT_FALSE(well_formed_xml("<svg><g></svg>"));
  EXPECT_FALSE(well_formed_xml("<svg><text>a < b</text></svg>"));
  EXPECT_FALSE(well_formed_xml("<svg><text>a & b</text></svg>"));
  EXPECT_FALSE(well_formed_xml("<svg a=1></svg>"));
}

TEST(Svg, EscapesAndTicks) {
  EXPECT_EQ(report::xml_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(report::nice_ticks(0, 9.3), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(report::nice_ticks(0, 0.23), (std::vector<double>{0, 0.05, 0.1, 0.15, 0.2, 0.25}));
  EXPECT_EQ(report::tick_label(0.15, 0.05), "0.15");
  report::Svg svg(100, 50, kHostile);
  svg.text(1, 2, kHostile);
  EXPECT_TRUE(well_formed_xml(svg.str(true)));
  EXPECT_EQ(svg.str(true).find("<script"), std::string::npos);
}

TEST(Analysis, ParetoFront) {
  EXPECT_EQ(report::pareto_front({{1000, 5.0}, {500, 5.1}, {300, 6.0}, {400, 6.2}, {300, 6.0}}),
            (std::vector<size_t>{2, 4, 1, 0}));
  EXPECT_EQ(report::pareto_front({}), std::vector<size_t>{});
}

TEST(Analysis, RecommendationsMatchHandComputation) {
  const auto cs = report::group_configurations(synthetic_runs());
  ASSERT_EQ(cs.size(), 5u);  // F32, Q8_0, Q4_0, Q5_1, hostile
  EXPECT_EQ(cs[2].label, "Q4_0");
  EXPECT_EQ(cs[2].run_ids.size(), 5u);
  EXPECT_EQ(*cs[2].get(metric::kPpl), 6.0);  // merged from the eval run
  const auto rec = report::recommend(cs);
  EXPECT_EQ(rec.quality_metric, metric::kPpl);
  EXPECT_EQ(cs[*rec.fastest].label, "Q4_0");
  EXPECT_EQ(cs[*rec.smallest].label, "Q4_0");
  EXPECT_EQ(cs[*rec.best_quality].label, "F32");
  EXPECT_EQ(cs[*rec.balanced].label, "Q8_0");
  ASSERT_EQ(rec.scores.size(), 4u);
  EXPECT_NEAR(rec.scores[0].score, std::sqrt((std::pow(200.0 / 700, 2) + 0.36 + std::pow(0.1 / 1.2, 2)) / 3), 1e-12);
  EXPECT_EQ(cs[rec.scores[1].config].label, "Q4_0");
  EXPECT_NEAR(rec.scores[1].score, std::sqrt(std::pow(1.0 / 1.2, 2) / 3), 1e-12);
  EXPECT_EQ(cs[rec.scores[3].config].label, "F32");
  EXPECT_NEAR(rec.scores[3].score, std::sqrt(2.0 / 3), 1e-12);
  std::vector<std::string> front;
  for (size_t i : rec.front) front.push_back(cs[i].label);
  EXPECT_EQ(front, (std::vector<std::string>{"Q4_0", "Q8_0", "F32"}));
  EXPECT_NEAR(report::cost_per_million_tokens(2.0, 30), 2.0 / (3600 * 30) * 1e6, 1e-12);
  EXPECT_NEAR(report::cost_per_million_tokens(2.0, 30), 18.518518518518519, 1e-9);
}

TEST(Report, FilesChartsRecommendationsAndEscaping) {
  const auto dir = test::scratch_dir();
  report::ReportOptions o;
  o.price_per_hour = 2.0;
  const auto files = report::write_report(synthetic_runs(), o, dir.string());
  ASSERT_TRUE(std::filesystem::exists(files.html));
  ASSERT_TRUE(std::filesystem::exists(files.markdown));
  std::vector<std::string> names;
  for (const auto& c : files.charts) names.push_back(std::filesystem::path(c).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"throughput-tg.svg", "throughput-pp.svg", "latency-ttft.svg",
                                             "latency-tpot.svg", "pareto.svg", "scaling.svg"}));
  for (const auto& c : files.charts) EXPECT_TRUE(well_formed_xml(test::slurp(c))) << c;
  const std::string html = test::slurp(files.html), md = test::slurp(files.markdown);
  // The hostile name appears only escaped.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<!--"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"), std::string::npos);
  EXPECT_EQ(md.find("<script"), std::string::npos);
  for (const auto& c : files.charts) EXPECT_EQ(test::slurp(c).find("<script"), std::string::npos);
  // No external resources: the page must render offline.
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  // Every chart is inline in the HTML and referenced by the Markdown.
  size_t svgs = 0;
  for (size_t p = 0; (p = html.find("<svg ", p)) != std::string::npos; ++p) ++svgs;
  EXPECT_EQ(svgs, files.charts.size());
  for (const auto& n : names) EXPECT_NE(md.find("(" + n + ")"), std::string::npos) << n;
  // Recommendations and cost as computed by hand.
  EXPECT_NE(md.find("- **Fastest:** Q4_0 — 30.000 tokens/s"), std::string::npos) << md;
  EXPECT_NE(md.find("- **Smallest:** Q4_0 — 300 B"), std::string::npos);
  EXPECT_NE(md.find("- **Best quality:** F32 — perplexity 5.000 ± 0.030"), std::string::npos);
  EXPECT_NE(md.find("- **Best balanced:** Q8_0 — score 0.387"), std::string::npos);
  EXPECT_NE(md.find("| Q4_0 | 30.000 | 18.5185 | Synthetic CPU 9000, 16 cores, 64.00 GiB RAM, GPU: none |"),
            std::string::npos);
  EXPECT_NE(html.find("Synthetic CPU 9000"), std::string::npos);
}

TEST(Report, NoRunsIsAnError) {
  EXPECT_THROW(report::write_report({}, {}, test::scratch_dir().string()), InputError);
}

// `qinfer runs` and `qinfer report` over a store filled through the API.
TEST(ReportCommand, RunsAndReportFromStore) {
  const auto dir = test::scratch_dir();
  const std::string db = (dir / "r.db").string();
  {
    ResultStore store(db);
    for (RunRecord r : synthetic_runs()) store.record_run(r);
  }
  const auto list = test::run_qinfer("runs --db " + db + " list");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("tg_tps=30"), std::string::npos) << list.out;
  const auto list_after = test::run_qinfer("runs list --db " + db);  // the option after the subcommand too
  ASSERT_EQ(list_after.exit_code, 0) << list_after.err;
  EXPECT_EQ(list_after.out, list.out);
  const auto show = test::run_qinfer("runs show 2 --db " + db);
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("ppl"), std::string::npos) << show.out;
  const auto cmp = test::run_qinfer("runs compare 1 5 --db " + db);
  ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
  EXPECT_NE(cmp.out.find("3x"), std::string::npos) << cmp.out;  // tg 30 vs 10
  const auto csv = test::run_qinfer("runs export --format csv --db " + db + " -o " + (dir / "r.csv").string());
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  const std::string csv_text = test::slurp((dir / "r.csv").string());
  EXPECT_EQ(std::count(csv_text.begin(), csv_text.end(), '\n'), 1 + int(synthetic_runs().size()));  // header + runs
  const auto rep = test::run_qinfer("report --db " + db + " --runs 1,2,5,6 --price-per-hour 1 -o " + (dir / "out").string());
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  const std::string md = test::slurp((dir / "out/report.md").string());
  EXPECT_NE(md.find("4 runs, 2 configurations"), std::string::npos) << md;
  const auto bad = test::run_qinfer("report --db " + (dir / "missing.db").string() + " -o " + (dir / "x").string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("no such results database"), std::string::npos) << bad.err;
}

// The page as a browser renders it: headless Chromium takes a screenshot
// (which must be a real, non-blank 1200×2000 PNG) and dumps the DOM (which
// must hold every chart's <svg>).
TEST(ReportChromium, RendersInHeadlessChromium) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "chromium is not installed (apt-get install chromium); skipping the browser check";
  const auto dir = test::scratch_dir();
  report::ReportOptions o;
  o.price_per_hour = 2.0;
  const auto files = report::write_report(synthetic_runs(), o, (dir / "report").string());
  const std::string png = (dir / "shot.png").string(), dom = (dir / "dom.html").string();
  const std::string flags = " --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir=" +
                            (dir / "profile").string() + " --window-size=1200,2000 ";
  const std::string url = "file://" + std::filesystem::absolute(files.html).string();
  ASSERT_EQ(std::system(("timeout 120 chromium" + flags + "--screenshot=" + png + " " + url + " >/dev/null 2>&1").c_str()), 0);
  ASSERT_EQ(std::system(("timeout 120 chromium" + flags + "--dump-dom " + url + " >" + dom + " 2>/dev/null").c_str()), 0);
  const std::string shot = test::slurp(png);
  ASSERT_GT(shot.size(), 24u);
  EXPECT_EQ(shot.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto be32 = [&](size_t at) {
    return uint32_t(uint8_t(shot[at])) << 24 | uint32_t(uint8_t(shot[at + 1])) << 16 |
           uint32_t(uint8_t(shot[at + 2])) << 8 | uint32_t(uint8_t(shot[at + 3]));
  };
  EXPECT_EQ(shot.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(16), 1200u);
  EXPECT_EQ(be32(20), 2000u);
  // A blank 1200×2000 page compresses to under 10 KB; this page's text, tables
  // and charts give well over 100 KB.
  EXPECT_GT(shot.size(), 60000u);
  const std::string d = test::slurp(dom);
  size_t svgs = 0;
  for (size_t p = 0; (p = d.find("<svg", p)) != std::string::npos; ++p) ++svgs;
  EXPECT_EQ(svgs, files.charts.size());
  EXPECT_NE(d.find("<polyline"), std::string::npos);
  EXPECT_EQ(d.find("<script"), std::string::npos);
  // To look at it: QINFER_KEEP_REPORT=DIR keeps the report and screenshot.
  if (const char* keep = std::getenv("QINFER_KEEP_REPORT")) {
    std::filesystem::create_directories(keep);
    std::filesystem::copy(dir / "report", keep,
                          std::filesystem::copy_options::overwrite_existing | std::filesystem::copy_options::recursive);
    std::filesystem::copy_file(png, std::filesystem::path(keep) / "screenshot.png",
                               std::filesystem::copy_options::overwrite_existing);
  }
}

}  // namespace
}  // namespace qinfer
