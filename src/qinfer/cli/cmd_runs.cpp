// qinfer runs: list, show, compare and export what the results store holds.
#include <cmath>
#include <cstdio>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/core/atomic_file.h"
#include "qinfer/core/error.h"
#include "qinfer/store/export.h"
#include "qinfer/store/results_store.h"

namespace qinfer::cli {

namespace {

struct RunsArgs {
  std::string db;
  std::vector<int64_t> ids;
  std::string format = "csv";
  std::string out;
};

ResultStore open_store(const RunsArgs& a) {
  return ResultStore(a.db.empty() ? default_db_path() : a.db, ResultStore::Mode::ReadOnly);
}

std::string num(double v) {
  char buf[40];
  const double x = std::fabs(v);
  std::snprintf(buf, sizeof buf, x != 0 && (x < 1e-3 || x >= 1e9) ? "%.6g" : "%.6f", v);
  std::string s = buf;
  if (s.find('.') != std::string::npos && s.find('e') == std::string::npos) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

// The metrics that say most in one line of a listing.
std::string headline(const RunRecord& r) {
  std::string s;
  for (const char* name : {metric::kTgTps, metric::kPpTps, metric::kOutputThroughput, metric::kPpl, metric::kKldMean,
                           metric::kSameTopPct, metric::kHellaswagAcc}) {
    if (const auto v = r.find(name)) s += std::string(s.empty() ? "" : "  ") + name + "=" + num(*v);
  }
  return s;
}

void list_cmd(const RunsArgs& a) {
  const auto runs = open_store(a).list();
  std::printf("%5s  %-20s  %-8s  %-24s  %s\n", "id", "time", "kind", "label", "metrics");
  for (const RunRecord& r : runs)
    std::printf("%5lld  %-20s  %-8s  %-24s  %s\n", (long long)r.id, r.time.c_str(), r.kind.c_str(), r.label.c_str(),
                headline(r).c_str());
  if (runs.empty()) std::printf("(no runs)\n");
}

void show_cmd(const RunsArgs& a) {
  if (a.ids.size() != 1) throw InputError("runs show takes one run id");
  const RunRecord r = open_store(a).get(a.ids[0]);
  std::printf("run %lld (%s) at %s\n", (long long)r.id, r.kind.c_str(), r.time.c_str());
  std::printf("  label:   %s\n", r.label.c_str());
  std::printf("  model:   %s\n", r.model.path.c_str());
  std::printf("           sha256 %s\n", r.model.sha256.empty() ? "-" : r.model.sha256.c_str());
  std::printf("           %s %s, %lld bytes, %lld params, %.2f bits/weight\n", r.model.type.c_str(),
              r.model.file_type.c_str(), (long long)r.model.size_bytes, (long long)r.model.n_params,
              r.model.bits_per_weight);
  std::printf("  machine: %s, %d cores, %.1f GiB RAM, GPU: %s\n", r.machine.cpu.c_str(), r.machine.cores,
              double(r.machine.ram_bytes) / double(1 << 30), r.machine.gpu.c_str());
  std::printf("  engine:  %s %s\n", r.engine.c_str(), r.engine_version.c_str());
  std::printf("  device:  %s%s%s\n", r.device.c_str(), r.device_reason.empty() ? "" : " — ", r.device_reason.c_str());
  std::printf("  params:  %s\n", r.params_json.c_str());
  std::printf("  metrics:\n");
  for (const Metric& m : r.metrics) std::printf("    %-22s %16s %s\n", m.name.c_str(), num(m.value).c_str(), m.unit.c_str());
}

void compare_cmd(const RunsArgs& a) {
  if (a.ids.size() < 2) throw InputError("runs compare takes two or more run ids");
  const auto runs = open_store(a).list(a.ids);
  const Comparison c = compare_runs(runs);
  std::printf("%-22s", "metric");
  for (const RunRecord& r : runs) std::printf("  %16s", ("#" + std::to_string(r.id) + " " + r.label).substr(0, 16).c_str());
  std::printf("  %12s\n", "last/first");
  for (size_t i = 0; i < c.names.size(); ++i) {
    std::printf("%-22s", (c.names[i] + (c.units[i].empty() ? "" : " [" + c.units[i] + "]")).c_str());
    for (const auto& v : c.values[i]) std::printf("  %16s", v ? num(*v).c_str() : "-");
    const auto& first = c.values[i].front();
    const auto& last = c.values[i].back();
    if (first && last && *first != 0)
      std::printf("  %12s\n", (num(*last / *first) + "x").c_str());
    else
      std::printf("  %12s\n", "-");
  }
}

void export_cmd(const RunsArgs& a) {
  if (a.format != "csv" && a.format != "json") throw InputError("--format must be csv or json, not " + a.format);
  const auto runs = open_store(a).list(a.ids);
  const std::string text = a.format == "csv" ? export_csv(runs) : export_json(runs);
  if (a.out.empty() || a.out == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  write_file_atomically(a.out, text);
  std::fprintf(stderr, "%zu runs written to %s\n", runs.size(), a.out.c_str());
}

}  // namespace

void define_runs(CLI::App& cmd) {
  auto a = std::make_shared<RunsArgs>();
  cmd.add_option("--db", a->db, "results database (default: $QINFER_DB or ./qinfer-results.db)");
  cmd.require_subcommand(1);
  auto* list = cmd.add_subcommand("list", "every stored run, one line each");
  list->callback([a] { list_cmd(*a); });
  auto* show = cmd.add_subcommand("show", "one run with all its fields and metrics");
  show->add_option("id", a->ids, "run id")->required()->check(Allowed::ints(1));
  show->callback([a] { show_cmd(*a); });
  auto* cmp = cmd.add_subcommand("compare", "metrics of several runs side by side");
  cmp->add_option("ids", a->ids, "run ids")->required()->check(Allowed::ints(1));
  cmp->callback([a] { compare_cmd(*a); });
  auto* exp = cmd.add_subcommand("export", "runs as CSV (one column per metric) or JSON");
  exp->add_option("--format", a->format, "csv or json")->capture_default_str();
  exp->add_option("-o,--output", a->out, "file (default: standard output)");
  exp->add_option("ids", a->ids, "only these run ids")->check(Allowed::ints(1));
  exp->callback([a] { export_cmd(*a); });
  for (auto* sub : {list, show, cmp, exp}) sub->add_option("--db", a->db, "results database");
}

}  // namespace qinfer::cli
