#include "qinfer/cli/run_records.h"

#include <cstdio>

namespace qinfer::cli {

void add_store_args(CLI::App& cmd, StoreArgs& args) {
  cmd.add_option("--db", args.db, "results database (default: $QINFER_DB or ./qinfer-results.db)");
  cmd.add_flag("--no-db", args.no_db, "do not record the run");
}

std::unique_ptr<ResultStore> open_results_store(const StoreArgs& args) {
  if (args.no_db) return nullptr;
  return std::make_unique<ResultStore>(args.db.empty() ? default_db_path() : args.db);
}

void record_and_say(ResultStore* store, const RunRecord& run) {
  if (!store) return;
  const int64_t id = store->record_run(run);
  std::printf("recorded as run %lld in %s\n", (long long)id, store->path().c_str());
}

}  // namespace qinfer::cli
