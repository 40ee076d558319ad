// The results store: an embedded SQLite database (default ./qinfer-results.db)
// of runs and their metrics.
//
//   ResultStore db("qinfer-results.db");      // creates it when missing
//   RunRecord r; r.kind = "eval"; r.label = "Q4_0"; r.model.path = "m.gguf";
//   r.add(metric::kPpl, 5.10);
//   int64_t id = db.record_run(r);            // one transaction
//   for (const RunRecord& run : db.list()) ...
//
// Safety: a file that exists but is not a qinfer results database (another
// application's SQLite file, not SQLite at all, corrupt, or written by a newer
// qinfer) is refused with an InputError naming it, and never modified.
// Schema versions live in PRAGMA user_version and are migrated forward in a
// transaction; the file is recognised by PRAGMA application_id.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qinfer/store/run_record.h"

struct sqlite3;

namespace qinfer {

class ResultStore {
 public:
  static constexpr const char* kDefaultPath = "qinfer-results.db";
  static constexpr int kSchemaVersion = 2;
  static constexpr int32_t kApplicationId = 0x51494e46;  // "QINF"

  enum class Mode { ReadWrite, ReadOnly };
  // ReadWrite creates the file when it does not exist; ReadOnly requires it.
  explicit ResultStore(const std::string& path, Mode mode = Mode::ReadWrite);
  ~ResultStore();
  ResultStore(const ResultStore&) = delete;
  ResultStore& operator=(const ResultStore&) = delete;

  const std::string& path() const { return path_; }

  // Validates and stores the run with its metrics in one transaction; fills
  // time, model.size_bytes and model.sha256 when missing. Returns the new id.
  int64_t record_run(RunRecord run);
  // All runs (with metrics), oldest first; `ids` non-empty: just those, in that order.
  std::vector<RunRecord> list(const std::vector<int64_t>& ids = {}) const;
  // InputError when there is no run `id`.
  RunRecord get(int64_t id) const;
  int64_t count() const;

  // sha256 of a file, streamed; cached in the database by (path, size, mtime).
  std::string file_sha256(const std::string& file_path);

 private:
  void open_checked(Mode mode);
  void migrate();
  std::vector<Metric> metrics_of(int64_t id) const;

  std::string path_;
  sqlite3* db_ = nullptr;
};

// Where the default store is: $QINFER_DB, else ./qinfer-results.db.
std::string default_db_path();

}  // namespace qinfer
