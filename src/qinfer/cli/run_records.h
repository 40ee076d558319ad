// The results store a measuring command (bench, eval, optimize) records into:
// --db/--no-db, opened before the work starts, and the line saying where a
// run went. How results become runs is optimize/run_records.h.
#pragma once
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "qinfer/optimize/run_records.h"
#include "qinfer/store/results_store.h"

namespace qinfer::cli {

struct StoreArgs {
  std::string db;
  bool no_db = false;
};

// --db and --no-db.
void add_store_args(CLI::App& cmd, StoreArgs& args);

// Opens the store (nullptr with --no-db). Commands open it before they start
// measuring, so that a bad database fails before minutes of work.
std::unique_ptr<ResultStore> open_results_store(const StoreArgs& args);

// "recorded as run 7 in qinfer-results.db" (nothing without a store).
void record_and_say(ResultStore* store, const RunRecord& run);

}  // namespace qinfer::cli
