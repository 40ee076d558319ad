// `qinfer report`: stored runs → DIR/report.html (self-contained: inline CSS
// and SVG, no network), DIR/report.md and the DIR/*.svg files it shows.
//
//   auto runs = ResultStore(path, ResultStore::Mode::ReadOnly).list();
//   ReportOptions o; o.price_per_hour = 1.20;
//   ReportFiles f = write_report(runs, o, "out/report");
//
// Contents: recommendations (report/analysis.h), a table per configuration,
// cost per 1M output tokens when a price is given, charts (decode/prefill
// throughput per configuration, TTFT/TPOT percentiles, size vs quality with
// the Pareto front, output throughput vs concurrency), side-by-side generations
// (from runs whose parameters hold "samples": [{"prompt", "text"}]), the machines and runs.
// A chart without data is left out, with a note saying what would fill it.
#pragma once
#include <string>
#include <vector>

#include "qinfer/store/run_record.h"

namespace qinfer::report {

struct ReportOptions {
  std::string title = "qinfer report";
  double price_per_hour = 0;  // USD per hour of the machine; 0: no cost section
};

struct ReportFiles {
  std::string html, markdown;       // paths written
  std::vector<std::string> charts;  // the .svg paths written
};

// Creates `dir` when needed; InputError when there are no runs or a file cannot be written.
ReportFiles write_report(const std::vector<RunRecord>& runs, const ReportOptions& options, const std::string& dir);

}  // namespace qinfer::report
