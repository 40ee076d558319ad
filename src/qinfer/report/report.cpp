#include "qinfer/report/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "qinfer/core/atomic_file.h"
#include "qinfer/core/error.h"
#include "qinfer/core/format.h"
#include "qinfer/report/analysis.h"
#include "qinfer/report/charts.h"

namespace qinfer::report {

namespace {

const std::string kDash = "–";

std::string fmt(double v, int prec) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

// Significant digits for numbers of any magnitude (KLD 0.000675, tg 1234.5).
std::string sig(double v) {
  const double a = std::fabs(v);
  if (a == 0) return "0";
  if (a >= 100) return fmt(v, 1);
  if (a >= 1) return fmt(v, 3);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// value ± err with two significant digits in the error and the value to match.
std::string with_err(double v, double err) {
  if (!(err > 0) || !std::isfinite(err)) return sig(v);
  const int decimals = std::clamp(1 - int(std::floor(std::log10(err))), 0, 9);
  return fmt(v, decimals) + " ± " + fmt(err, decimals);
}

std::string opt(const std::optional<double>& v, const std::function<std::string(double)>& f) {
  return v ? f(*v) : kDash;
}

std::string machine_text(const MachineInfo& m) {
  std::string s = m.cpu.empty() ? "unknown CPU" : m.cpu;
  if (m.cores > 0) s += ", " + std::to_string(m.cores) + " cores";
  if (m.ram_bytes > 0) s += ", " + format_bytes(double(m.ram_bytes)) + " RAM";
  s += ", GPU: " + (m.gpu.empty() ? std::string("none") : m.gpu);
  return s;
}

std::string quality_name(const std::string& metric_name) {
  return metric_name == metric::kPpl ? "perplexity" : "mean KL-divergence";
}

// A table as rows of cells; rendered to both HTML and Markdown.
struct Table {
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> numeric;  // right-aligned columns
};

// Drops the columns no configuration has a value in (e.g. HellaSwag when never run).
Table without_empty_columns(const Table& t) {
  Table out;
  for (size_t c = 0; c < t.head.size(); ++c) {
    bool any = c == 0;
    for (const auto& r : t.rows) any = any || r[c] != kDash;
    if (!any) continue;
    out.head.push_back(t.head[c]);
    out.numeric.push_back(t.numeric[c]);
  }
  out.rows.resize(t.rows.size());
  for (size_t c = 0, k = 0; c < t.head.size(); ++c) {
    if (k >= out.head.size() || t.head[c] != out.head[k]) continue;
    for (size_t r = 0; r < t.rows.size(); ++r) out.rows[r].push_back(t.rows[r][c]);
    ++k;
  }
  return out;
}

std::string html_table(const Table& t) {
  std::string s = "<div class=\"tw\"><table>\n<thead><tr>";
  for (size_t i = 0; i < t.head.size(); ++i)
    s += std::string("<th") + (t.numeric[i] ? " class=\"num\"" : "") + ">" + xml_escape(t.head[i]) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& r : t.rows) {
    s += "<tr>";
    for (size_t i = 0; i < r.size(); ++i)
      s += std::string("<td") + (t.numeric[i] ? " class=\"num\"" : "") + ">" + xml_escape(r[i]) + "</td>";
    s += "</tr>\n";
  }
  return s + "</tbody>\n</table></div>\n";
}

// Markdown cells: pipes and newlines would break the table; < > & are escaped
// so that a hostile name cannot inject HTML into a Markdown renderer.
std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

std::string md_table(const Table& t) {
  auto row = [](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (const auto& c : cells) {
      s += ' ';
      s += md_cell(c);
      s += " |";
    }
    return s + "\n";
  };
  std::string s = row(t.head) + "|";
  for (bool n : t.numeric) s += n ? "---:|" : "---|";
  s += "\n";
  for (const auto& r : t.rows) s += row(r);
  return s;
}

struct Chart {
  std::string file, title;
  Svg svg;
};

struct Finding {
  std::string heading, label, detail;
};

std::vector<Chart> build_charts(const std::vector<Configuration>& cs, const std::vector<RunRecord>& runs,
                                const Recommendations& rec, std::vector<std::string>& missing) {
  std::vector<Chart> charts;
  std::vector<std::string> names;
  for (const auto& c : cs) names.push_back(c.label);
  auto series = [&](const std::string& name) {
    std::vector<double> v;
    bool any = false;
    for (const auto& c : cs) {
      const auto x = c.get(name);
      v.push_back(x ? *x : NAN);
      any = any || x.has_value();
    }
    return std::make_pair(v, any);
  };
  for (const auto& [key, label] : {std::pair<std::string, std::string>{metric::kTgTps, "Decode throughput (tg)"},
                                   {metric::kPpTps, "Prefill throughput (pp)"}}) {
    auto [v, any] = series(key);
    if (!any) {
      missing.push_back(label + ": no run has " + key + " (qinfer bench -m MODEL)");
      continue;
    }
    BarChart b{label + " per configuration", "tokens/s", names, {{key == metric::kTgTps ? "tg" : "pp", v}}};
    charts.push_back({key == metric::kTgTps ? "throughput-tg.svg" : "throughput-pp.svg", b.title, bar_chart(b)});
  }
  for (const auto& [what, label] : {std::pair<std::string, std::string>{"ttft", "Time to first token (TTFT)"},
                                    {"tpot", "Time per output token (TPOT)"}}) {
    BarChart b{label + " percentiles", "milliseconds", names, {}};
    bool any = false;
    for (const char* stat : {"mean", "median", "p90", "p99"}) {
      auto [v, has] = series(metric::latency(what, stat));
      any = any || has;
      b.series.push_back({stat, v});
    }
    if (!any) {
      missing.push_back(label + ": no serving run (qinfer bench --concurrency N)");
      continue;
    }
    charts.push_back({"latency-" + what + ".svg", b.title, bar_chart(b)});
  }
  if (!rec.quality_metric.empty()) {
    const std::set<size_t> front(rec.front.begin(), rec.front.end());
    double largest = 0;
    for (const auto& c : cs) largest = std::max(largest, c.size_bytes().value_or(0));
    const ByteUnit unit = byte_unit(largest);  // the largest unit the biggest model reaches
    ScatterChart s{"Model size vs " + quality_name(rec.quality_metric),
                   std::string("model size (") + unit.name + ")",
                   rec.quality_metric == metric::kPpl ? "perplexity (lower is better)" : "mean KLD (nats)", {}};
    for (size_t i = 0; i < cs.size(); ++i) {
      const auto size = cs[i].size_bytes();
      const auto q = cs[i].get(rec.quality_metric);
      if (size && q) s.points.push_back({cs[i].label, *size / unit.size, *q, front.count(i) > 0});
    }
    if (!s.points.empty()) charts.push_back({"pareto.svg", s.title, scatter_chart(s)});
  } else {
    missing.push_back("Size vs quality: no run has a perplexity or KL-divergence (qinfer eval)");
  }
  // Batch scaling: every run with a concurrency, per label; the latest run wins a repeated level.
  std::map<std::string, std::map<double, double>> scaling;
  std::vector<std::string> order;
  for (const RunRecord& r : runs) {
    const auto c = r.find(metric::kConcurrency), t = r.find(metric::kOutputThroughput);
    if (!c || !t) continue;
    const std::string label = r.label.empty() ? std::filesystem::path(r.model.path).filename().string() : r.label;
    if (!scaling.count(label)) order.push_back(label);
    scaling[label][*c] = *t;
  }
  if (!scaling.empty()) {
    LineChart l{"Output throughput vs concurrency", "concurrent requests", "output tokens/s", {}};
    for (const auto& label : order) l.series.push_back({label, {scaling[label].begin(), scaling[label].end()}});
    charts.push_back({"scaling.svg", l.title, line_chart(l)});
  } else {
    missing.push_back("Batch scaling: no serving runs at several concurrency levels (qinfer bench --concurrency 1,2,4,8)");
  }
  return charts;
}

std::vector<Finding> findings(const std::vector<Configuration>& cs, const Recommendations& rec) {
  std::vector<Finding> f;
  if (rec.fastest) {
    const auto& c = cs[*rec.fastest];
    f.push_back({"Fastest", c.label, sig(*c.get(metric::kTgTps)) + " tokens/s decode, on " + machine_text(c.machine)});
  }
  if (rec.smallest) {
    const auto& c = cs[*rec.smallest];
    f.push_back({"Smallest", c.label, format_bytes(*c.size_bytes()) +
                                          (c.model.bits_per_weight > 0 ? ", " + fmt(c.model.bits_per_weight, 2) + " bits/weight" : "")});
  }
  if (rec.best_quality) {
    const auto& c = cs[*rec.best_quality];
    const auto err = c.get(rec.quality_metric == metric::kPpl ? metric::kPplErr : metric::kKldMeanErr);
    const double v = *c.get(rec.quality_metric);
    const std::string d = quality_name(rec.quality_metric) + " " + (err ? with_err(v, *err) : sig(v));
    f.push_back({"Best quality", c.label, d});
  }
  if (rec.balanced) {
    const auto& c = cs[*rec.balanced];
    f.push_back({"Best balanced", c.label,
                 "score " + fmt(rec.scores.front().score, 3) + " (0 = smallest, fastest and best at once)"});
  }
  return f;
}

std::string balanced_explanation(const std::string& quality_metric) {
  return "Balanced score: over the configurations that have a size, a decode throughput and a " +
         quality_name(quality_metric) +
         ", each axis is scaled to 0..1 between the best and the worst value among them "
         "(size_n = (size - min)/(max - min), speed_n = (max tg - tg)/(max tg - min tg), quality_n = (" +
         quality_metric + " - min)/(max - min)); score = sqrt((size_n² + speed_n² + quality_n²)/3), the distance "
         "to the ideal point that is smallest, fastest and best at once. Lowest wins; that point always lies on "
         "the Pareto front. An axis on which all candidates are equal contributes 0.";
}

const char* kCss = R"css(
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;background:#f4f6f8;color:#1d2329}
main{max-width:1120px;margin:0 auto;padding:28px 32px 60px}
h1{font-size:28px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 12px;border-bottom:2px solid #dde3e9;padding-bottom:6px}
p.meta{color:#5c6770;margin:0 0 20px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:14px}
.card{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 3px rgba(0,0,0,.12);border-top:4px solid #4C78A8}
.card:nth-child(2){border-top-color:#54A24B}.card:nth-child(3){border-top-color:#B279A2}.card:nth-child(4){border-top-color:#E45756}
.card h3{margin:0;font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:#5c6770}
.card .label{font-size:22px;font-weight:700;margin:6px 0;word-break:break-word}.card .detail{font-size:14px;color:#333}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{padding:7px 10px;border-bottom:1px solid #e6eaee;text-align:left}th{background:#eef2f5;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}tr:nth-child(even) td{background:#fafbfc}
figure{background:#fff;margin:0 0 18px;padding:12px;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.12);overflow-x:auto}
figure svg{max-width:100%;height:auto}.tw{overflow-x:auto}p.note{color:#5c6770;font-size:14px}
)css";

// Side-by-side generations: runs may carry {"samples": [{"prompt", "text"}]}
// in their parameters (qinfer optimize does). One table per prompt, a row per
// configuration (its latest run with that prompt).
std::vector<std::pair<std::string, Table>> side_by_side(const std::vector<Configuration>& cs,
                                                        const std::vector<RunRecord>& runs) {
  std::map<int64_t, const RunRecord*> by_id;
  for (const RunRecord& r : runs) by_id[r.id] = &r;
  std::vector<std::pair<std::string, Table>> out;
  auto table_for = [&](const std::string& prompt) -> Table& {
    for (auto& [p, t] : out)
      if (p == prompt) return t;
    out.push_back({prompt, Table{{"configuration", "greedy continuation"}, {}, {false, false}}});
    return out.back().second;
  };
  for (const Configuration& c : cs) {
    std::vector<std::pair<std::string, std::string>> text_of;  // (prompt, latest text), prompts in order
    auto set_text = [&](const std::string& prompt, const std::string& text) {
      for (auto& [p, t] : text_of)
        if (p == prompt) return void(t = text);
      text_of.push_back({prompt, text});
    };
    for (int64_t id : c.run_ids) {
      const auto it = by_id.find(id);
      if (it == by_id.end()) continue;
      const nlohmann::json params = nlohmann::json::parse(it->second->params_json, nullptr, false);
      if (!params.is_object() || !params.contains("samples") || !params["samples"].is_array()) continue;
      for (const auto& s : params["samples"])
        if (s.is_object() && s.value("prompt", nlohmann::json()).is_string() &&
            s.value("text", nlohmann::json()).is_string())
          set_text(s["prompt"].get<std::string>(), s["text"].get<std::string>());
    }
    for (const auto& [prompt, text] : text_of) table_for(prompt).rows.push_back({c.label, text});
  }
  return out;
}

}  // namespace

ReportFiles write_report(const std::vector<RunRecord>& runs, const ReportOptions& o, const std::string& dir) {
  if (runs.empty()) throw InputError("no runs to report: record some with qinfer bench, eval or optimize");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir)) throw InputError(dir + ": cannot create the report directory");

  const std::vector<Configuration> cs = group_configurations(runs);
  const Recommendations rec = recommend(cs);
  std::vector<std::string> missing;
  const std::vector<Chart> charts = build_charts(cs, runs, rec, missing);
  const std::vector<Finding> finds = findings(cs, rec);
  const auto samples = side_by_side(cs, runs);

  Table conf{{"configuration", "type", "size", "bits/weight", "pp tok/s", "tg tok/s", "peak RSS", "PPL", "ΔPPL",
              "mean KLD", "same top %", "HellaSwag %"},
             {},
             {false, false, true, true, true, true, true, true, true, true, true, true}};
  for (const auto& c : cs) {
    auto pm = [&](const char* v, const char* e) {
      const auto x = c.get(v);
      if (!x) return kDash;
      const auto err = c.get(e);
      return err ? with_err(*x, *err) : sig(*x);
    };
    conf.rows.push_back({c.label, c.model.file_type.empty() ? kDash : c.model.file_type,
                         opt(c.size_bytes(), format_bytes),
                         c.model.bits_per_weight > 0 ? fmt(c.model.bits_per_weight, 2) : kDash,
                         opt(c.get(metric::kPpTps), sig), opt(c.get(metric::kTgTps), sig),
                         opt(c.get(metric::kPeakRssBytes), format_bytes), pm(metric::kPpl, metric::kPplErr),
                         pm(metric::kDeltaPpl, metric::kDeltaPplErr), pm(metric::kKldMean, metric::kKldMeanErr),
                         pm(metric::kSameTopPct, metric::kSameTopPctErr),
                         pm(metric::kHellaswagAcc, metric::kHellaswagAccErr)});
  }
  conf = without_empty_columns(conf);
  Table cost{{"configuration", "tg tok/s", "USD per 1M output tokens", "measured on"}, {}, {false, true, true, false}};
  if (o.price_per_hour > 0)
    for (const auto& c : cs)
      if (const auto tg = c.get(metric::kTgTps))
        cost.rows.push_back({c.label, sig(*tg), fmt(cost_per_million_tokens(o.price_per_hour, *tg), 4),
                             machine_text(c.machine)});
  Table scores{{"configuration", "size_n", "speed_n", "quality_n", "score"}, {}, {false, true, true, true, true}};
  for (const auto& b : rec.scores)
    scores.rows.push_back({cs[b.config].label, fmt(b.size_n, 3), fmt(b.speed_n, 3), fmt(b.quality_n, 3),
                           fmt(b.score, 3)});
  Table run_table{{"id", "time", "kind", "configuration", "model sha256", "engine", "machine"},
                  {},
                  {true, false, false, false, false, false, false}};
  for (const RunRecord& r : runs)
    run_table.rows.push_back({std::to_string(r.id), r.time, r.kind, r.label, r.model.sha256.substr(0, 12),
                              r.engine + (r.engine_version.empty() ? "" : " " + r.engine_version),
                              machine_text(r.machine)});

  char when[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
  const std::string meta = std::to_string(runs.size()) + " runs, " + std::to_string(cs.size()) +
                           " configurations; generated " + when + " by qinfer";
  const std::string cost_note =
      o.price_per_hour > 0
          ? "Cost per 1M output tokens = price per hour / (3600 · tg tok/s) · 1e6, at USD " + fmt(o.price_per_hour, 4) +
                " per hour of the machine each configuration was measured on; one request at a time, so batching "
                "would lower it."
          : "Pass --price-per-hour USD to see the cost per 1M output tokens.";
  const std::string no_tg = o.price_per_hour > 0 && !rec.fastest
                                ? " No run has a decode throughput (tg_tps) yet: run qinfer bench to measure one."
                                : "";

  // HTML
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                  xml_escape(o.title) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n<main>\n<h1>" +
                  xml_escape(o.title) + "</h1>\n<p class=\"meta\">" + xml_escape(meta) + "</p>\n";
  h += "<h2>Recommendations</h2>\n<div class=\"cards\">\n";
  for (const auto& f : finds)
    h += "<div class=\"card\"><h3>" + xml_escape(f.heading) + "</h3><div class=\"label\">" + xml_escape(f.label) +
         "</div><div class=\"detail\">" + xml_escape(f.detail) + "</div></div>\n";
  h += "</div>\n";
  if (finds.empty()) h += "<p class=\"note\">No run has throughput, size or quality numbers yet.</p>\n";
  if (!rec.quality_metric.empty() && rec.balanced)
    h += "<p class=\"note\">" + xml_escape(balanced_explanation(rec.quality_metric)) + "</p>\n";
  h += "<h2>Configurations</h2>\n" + html_table(conf);
  h += "<h2>Cost</h2>\n<p class=\"note\">" + xml_escape(cost_note + no_tg) + "</p>\n";
  if (!cost.rows.empty()) h += html_table(cost);
  h += "<h2>Charts</h2>\n";
  for (const auto& c : charts) h += "<figure>\n" + c.svg.str(false) + "</figure>\n";
  for (const auto& m : missing) h += "<p class=\"note\">" + xml_escape(m) + "</p>\n";
  if (!scores.rows.empty()) h += "<h2>Balanced score</h2>\n" + html_table(scores);
  if (!samples.empty()) h += "<h2>Side-by-side generations</h2>\n";
  for (const auto& [prompt, t] : samples)
    h += "<h3>" + xml_escape(prompt) + "</h3>\n" + html_table(t);
  h += "<h2>Runs</h2>\n" + html_table(run_table) + "</main>\n</body>\n</html>\n";

  // Markdown
  std::string md = "# " + md_cell(o.title) + "\n\n" + md_cell(meta) + "\n\n## Recommendations\n\n";
  for (const auto& f : finds) md += "- **" + f.heading + ":** " + md_cell(f.label) + " — " + md_cell(f.detail) + "\n";
  if (finds.empty()) md += "No run has throughput, size or quality numbers yet.\n";
  if (!rec.quality_metric.empty() && rec.balanced) md += "\n" + md_cell(balanced_explanation(rec.quality_metric)) + "\n";
  md += "\n## Configurations\n\n" + md_table(conf) + "\n## Cost\n\n" + md_cell(cost_note + no_tg) + "\n\n";
  if (!cost.rows.empty()) md += md_table(cost) + "\n";
  md += "## Charts\n\n";
  for (const auto& c : charts) md += "![" + md_cell(c.title) + "](" + c.file + ")\n\n";
  for (const auto& m : missing) md += "- " + md_cell(m) + "\n";
  if (!scores.rows.empty()) md += "\n## Balanced score\n\n" + md_table(scores);
  if (!samples.empty()) md += "\n## Side-by-side generations\n";
  for (const auto& [prompt, t] : samples) md += "\n### " + md_cell(prompt) + "\n\n" + md_table(t);
  md += "\n## Runs\n\n" + md_table(run_table);

  ReportFiles files;
  const std::filesystem::path d(dir);
  for (const auto& c : charts) {
    write_file_atomically((d / c.file).string(), c.svg.str(true));
    files.charts.push_back((d / c.file).string());
  }
  files.html = (d / "report.html").string();
  files.markdown = (d / "report.md").string();
  write_file_atomically(files.html, h);
  write_file_atomically(files.markdown, md);
  return files;
}

}  // namespace qinfer::report
