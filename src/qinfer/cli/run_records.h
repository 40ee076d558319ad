// What every measuring command (bench, eval, optimize) needs to record a run:
// the results store the user chose, and a RunRecord pre-filled with this
// machine, this engine and the model that was measured.
#pragma once
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "qinfer/model/model.h"
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

// general.file_type by llama-quantize's name; without one (converted files),
// the type holding most of the weight elements ("F32").
std::string file_type_of(const Model& model);

// kind, label, model (path, architecture, file type, parameters, bits per
// weight), this machine and qinfer's version.
RunRecord new_run_record(const std::string& kind, const std::string& label, const Model& model);

// "recorded as run 7 in qinfer-results.db" (nothing without a store).
void record_and_say(ResultStore* store, const RunRecord& run);

}  // namespace qinfer::cli
