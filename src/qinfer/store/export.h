// Turning stored runs into tables: side-by-side comparison and CSV/JSON export.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "qinfer/store/run_record.h"

namespace qinfer {

// Every metric name that occurs in `runs` (first-seen order) against every run.
struct Comparison {
  std::vector<std::string> names;                          // metric names
  std::vector<std::string> units;                          // per name (first seen)
  std::vector<std::vector<std::optional<double>>> values;  // [name][run]; empty when the run lacks it
};
Comparison compare_runs(const std::vector<RunRecord>& runs);

// One row per run: the run's fields, then one column per metric name
// ("name [unit]"), empty where a run lacks it. RFC 4180 quoting.
std::string export_csv(const std::vector<RunRecord>& runs);

// A JSON array of runs: {"id", "time", "kind", "label", "model": {...},
// "machine": {...}, "engine", "engine_version", "params": {...},
// "metrics": {"name": {"value", "unit"}}}.
std::string export_json(const std::vector<RunRecord>& runs);

}  // namespace qinfer
