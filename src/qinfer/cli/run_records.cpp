#include "qinfer/cli/run_records.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>

#include "qinfer/core/version.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/quantize/file_types.h"

namespace qinfer::cli {

void add_store_args(CLI::App& cmd, StoreArgs& args) {
  cmd.add_option("--db", args.db, "results database (default: $QINFER_DB or ./qinfer-results.db)");
  cmd.add_flag("--no-db", args.no_db, "do not record the run");
}

std::unique_ptr<ResultStore> open_results_store(const StoreArgs& args) {
  if (args.no_db) return nullptr;
  return std::make_unique<ResultStore>(args.db.empty() ? default_db_path() : args.db);
}

std::string file_type_of(const Model& m) {
  const int64_t ft = m.gguf ? m.gguf->get_int("general.file_type", -1) : -1;
  for (const FileTypeInfo& info : file_types())
    if (int64_t(info.ftype) == ft) return info.name;
  std::map<TypeId, int64_t> elements;
  for (const Tensor& t : m.tensors) elements[t.type] += t.n_elements();
  const auto most = std::max_element(elements.begin(), elements.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
  if (most == elements.end()) return "";
  std::string name = type_info(most->first).name;
  for (char& c : name) c = char(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

RunRecord new_run_record(const std::string& kind, const std::string& label, const Model& model) {
  RunRecord run;
  run.kind = kind;
  run.label = label;
  run.model.path = model.path;
  run.model.type = model.config.arch;
  run.model.file_type = file_type_of(model);
  run.model.n_params = model.n_params();
  if (run.model.n_params > 0)
    run.model.bits_per_weight = 8.0 * double(model.weight_bytes()) / double(run.model.n_params);
  run.machine = detect_machine();
  run.engine_version = kVersion;
  return run;
}

void record_and_say(ResultStore* store, const RunRecord& run) {
  if (!store) return;
  const int64_t id = store->record_run(run);
  std::printf("recorded as run %lld in %s\n", (long long)id, store->path().c_str());
}

}  // namespace qinfer::cli
