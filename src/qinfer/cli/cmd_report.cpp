// qinfer report: stored runs → report.html + report.md + charts.
#include <cstdio>
#include <memory>
#include <sstream>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/core/error.h"
#include "qinfer/report/report.h"
#include "qinfer/store/results_store.h"

namespace qinfer::cli {

namespace {

struct ReportArgs {
  std::string db;
  std::string runs;
  double price = 0;
  std::string out;
  std::string title = "qinfer report";
};

std::vector<int64_t> parse_ids(const std::string& s) {
  std::vector<int64_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    int64_t id = 0;
    try {
      id = std::stoll(item, &used);
    } catch (...) {
      used = 0;
    }
    if (used != item.size() || item.empty() || id <= 0) throw InputError("--runs: '" + item + "' is not a run id");
    ids.push_back(id);
  }
  return ids;
}

void report_cmd(const ReportArgs& a) {
  ResultStore store(a.db.empty() ? default_db_path() : a.db, ResultStore::Mode::ReadOnly);
  const auto runs = store.list(a.runs.empty() ? std::vector<int64_t>{} : parse_ids(a.runs));
  report::ReportOptions o;
  o.title = a.title;
  o.price_per_hour = a.price;
  const report::ReportFiles f = report::write_report(runs, o, a.out);
  std::printf("report of %zu runs: %s\n                   %s (+%zu charts)\n", runs.size(), f.html.c_str(),
              f.markdown.c_str(), f.charts.size());
}

}  // namespace

void define_report(CLI::App& cmd) {
  auto a = std::make_shared<ReportArgs>();
  cmd.add_option("--db", a->db, "results database (default: $QINFER_DB or ./qinfer-results.db)");
  cmd.add_option("--runs", a->runs, "comma-separated run ids (default: every run)");
  cmd.add_option("--price-per-hour", a->price, "USD per hour of the machine, for the cost per 1M output tokens")
      ->check(Allowed::reals(0));
  cmd.add_option("--title", a->title, "report title")->capture_default_str();
  cmd.add_option("-o,--output,--out", a->out, "output directory")->required();
  cmd.callback([a] { report_cmd(*a); });
}

}  // namespace qinfer::cli
