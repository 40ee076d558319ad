#include "qinfer/store/results_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "qinfer/core/error.h"
#include "qinfer/store/sha256.h"

namespace qinfer {

namespace {

// Migration i takes the schema from version i to i + 1. Append only: a file
// written by this build must open in every later one.
const char* const kMigrations[] = {
    // 0 -> 1: runs, their metrics, and the cache of model-file hashes.
    R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('bench', 'eval', 'optimize')),
  label TEXT NOT NULL DEFAULT '',
  model_path TEXT NOT NULL DEFAULT '',
  model_sha256 TEXT NOT NULL DEFAULT '',
  model_type TEXT NOT NULL DEFAULT '',
  file_type TEXT NOT NULL DEFAULT '',
  size_bytes INTEGER NOT NULL DEFAULT 0,
  n_params INTEGER NOT NULL DEFAULT 0,
  bits_per_weight REAL NOT NULL DEFAULT 0,
  cpu TEXT NOT NULL DEFAULT '',
  cores INTEGER NOT NULL DEFAULT 0,
  ram_bytes INTEGER NOT NULL DEFAULT 0,
  gpu TEXT NOT NULL DEFAULT 'none',
  engine TEXT NOT NULL DEFAULT '',
  engine_version TEXT NOT NULL DEFAULT '',
  params TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL NOT NULL,
  unit TEXT NOT NULL DEFAULT '',
  UNIQUE (run_id, name)
);
CREATE TABLE file_hashes (
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  sha256 TEXT NOT NULL
);
)sql",
    // 1 -> 2: the device each run ran on and why it was chosen (--device).
    R"sql(
ALTER TABLE runs ADD COLUMN device TEXT NOT NULL DEFAULT 'cpu';
ALTER TABLE runs ADD COLUMN device_reason TEXT NOT NULL DEFAULT '';
)sql",
};
static_assert(std::size(kMigrations) == ResultStore::kSchemaVersion);

// SQLite's message, with the system's reason for an I/O error ("disk I/O
// error: File too large"), so that a full disk is not mistaken for corruption.
std::string db_error(sqlite3* db) {
  std::string msg = sqlite3_errmsg(db);
  const int code = sqlite3_extended_errcode(db) & 0xff;
  const int err = sqlite3_system_errno(db);
  if ((code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN) && err != 0)
    msg += std::string(": ") + std::strerror(err);
  return msg;
}

bool is_corruption(sqlite3* db) {
  const int code = sqlite3_extended_errcode(db) & 0xff;
  return code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
}

// The file's first 100 bytes, the SQLite header, read before SQLite opens it,
// so that a file that is not ours is refused without SQLite creating anything
// beside it. Big-endian fields: user_version at 60, application_id at 68;
// bytes 18-19 are 2 in WAL mode.
struct DbHeader {
  uint64_t size = 0;
  bool sqlite = false;
  bool wal = false;
  uint32_t user_version = 0, application_id = 0;
};

DbHeader read_header(const std::string& path, uint64_t size) {
  DbHeader h;
  h.size = size;
  if (size == 0) return h;
  unsigned char b[100] = {};
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw InputError(path + ": cannot read: " + std::strerror(errno));
  const size_t n = std::fread(b, 1, sizeof b, f);
  std::fclose(f);
  if (n < 16 || std::memcmp(b, "SQLite format 3", 16) != 0) return h;
  h.sqlite = true;
  if (n < 100) return h;  // SQLite will call it what it is
  auto be32 = [&](int at) { return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3]; };
  h.wal = b[18] == 2 && b[19] == 2;
  h.user_version = be32(60);
  h.application_id = be32(68);
  return h;
}

// "file:<path>?immutable=1", the path percent-encoded as URI filenames want.
std::string immutable_uri(const std::string& path) {
  std::string uri = "file:";
  for (unsigned char c : path) {
    if (std::isalnum(c) || std::strchr("/._-~", c)) {
      uri += char(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      uri += buf;
    }
  }
  return uri + "?immutable=1";
}

// A prepared statement that finalizes itself; errors name the database file.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail();
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  bool step() {  // true: a row is ready
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail();
    return false;
  }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(s_, c);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  double f64(int c) const { return sqlite3_column_double(s_, c); }
  [[noreturn]] void fail() const { throw InputError(path_ + ": database error: " + db_error(db_)); }

 private:
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* s_ = nullptr;
};

void exec(sqlite3* db, const std::string& path, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    if (const int e = sqlite3_system_errno(db); e != 0 && (sqlite3_extended_errcode(db) & 0xff) == SQLITE_IOERR)
      msg += std::string(": ") + std::strerror(e);
    throw InputError(path + ": database error: " + msg);
  }
}

int64_t pragma_int(sqlite3* db, const std::string& path, const char* pragma) {
  Stmt s(db, path, pragma);
  return s.step() ? s.i64(0) : 0;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

constexpr const char* kRunColumns =
    "id, time, kind, label, model_path, model_sha256, model_type, file_type, size_bytes, n_params, "
    "bits_per_weight, cpu, cores, ram_bytes, gpu, engine, engine_version, params, device, device_reason";

RunRecord read_run(const Stmt& s) {
  RunRecord r;
  r.id = s.i64(0);
  r.time = s.text(1);
  r.kind = s.text(2);
  r.label = s.text(3);
  r.model.path = s.text(4);
  r.model.sha256 = s.text(5);
  r.model.type = s.text(6);
  r.model.file_type = s.text(7);
  r.model.size_bytes = s.i64(8);
  r.model.n_params = s.i64(9);
  r.model.bits_per_weight = s.f64(10);
  r.machine.cpu = s.text(11);
  r.machine.cores = int(s.i64(12));
  r.machine.ram_bytes = s.i64(13);
  r.machine.gpu = s.text(14);
  r.engine = s.text(15);
  r.engine_version = s.text(16);
  r.params_json = s.text(17);
  r.device = s.text(18);
  r.device_reason = s.text(19);
  return r;
}

}  // namespace

std::string default_db_path() {
  const char* env = std::getenv("QINFER_DB");
  return env && *env ? env : ResultStore::kDefaultPath;
}

ResultStore::ResultStore(const std::string& path, Mode mode) : path_(path) {
  struct stat st {};
  const bool existed = ::stat(path_.c_str(), &st) == 0;
  try {
    open_checked(mode);
  } catch (...) {
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
    // A store this call was creating is not left behind half made (e.g. on a full disk).
    if (!existed) {
      std::error_code ec;
      for (const char* suffix : {"", "-journal", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix, ec);
    }
    throw;
  }
}

ResultStore::~ResultStore() {
  if (db_) sqlite3_close(db_);
}

void ResultStore::open_checked(Mode mode) {
  struct stat st {};
  const bool exists = ::stat(path_.c_str(), &st) == 0;
  if (!exists && mode == Mode::ReadOnly) throw InputError(path_ + ": no such results database");
  if (exists && !S_ISREG(st.st_mode)) throw InputError(path_ + ": not a regular file");
  // Look before SQLite does: it would treat some non-database files as empty
  // databases and write to them, and it creates -shm/-wal files beside a
  // WAL-mode file even to read it.
  const DbHeader h = exists ? read_header(path_, uint64_t(st.st_size)) : DbHeader{};
  if (exists && h.size > 0 && !h.sqlite)
    throw InputError(path_ + ": not a SQLite database, so not a qinfer results store; left untouched");
  if (h.sqlite && h.application_id != 0 && h.application_id != uint32_t(kApplicationId)) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", h.application_id);
    throw InputError(path_ + ": a SQLite database of another application (application_id " + buf +
                     "), not a qinfer results store; left untouched");
  }
  if (mode == Mode::ReadOnly && exists && h.size == 0)
    throw InputError(path_ + ": an empty file, not a results store yet; record a run into it first (qinfer bench, "
                     "eval or optimize with --db " + path_ + ")");
  std::string name = path_;
  int flags = mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (!exists) flags |= SQLITE_OPEN_CREATE;
  if (mode == Mode::ReadOnly && h.wal && ::access((path_ + "-wal").c_str(), F_OK) != 0) {
    // A WAL-mode file (qinfer 0.1 wrote them) with nothing in a WAL: read it as it is, creating nothing beside it.
    name = immutable_uri(path_);
    flags |= SQLITE_OPEN_URI;
  }
  if (sqlite3_open_v2(name.c_str(), &db_, flags, nullptr) != SQLITE_OK)
    throw InputError(path_ + ": cannot open: " + (db_ ? db_error(db_) : std::string("out of memory")));
  sqlite3_busy_timeout(db_, 5000);
  sqlite3_extended_result_codes(db_, 1);

  // Identify the file before anything writes to it.
  int64_t app_id = 0, version = 0, objects = 0;
  try {
    app_id = pragma_int(db_, path_, "PRAGMA application_id");
    version = pragma_int(db_, path_, "PRAGMA user_version");
    objects = pragma_int(db_, path_, "SELECT count(*) FROM sqlite_master");
  } catch (const InputError& e) {
    if (is_corruption(db_))
      throw InputError(path_ + ": unreadable or corrupt database (" + sqlite3_errmsg(db_) + "); left untouched");
    throw InputError(path_ + ": cannot read the results database: " + db_error(db_));
  }
  const bool fresh = app_id == 0 && version == 0 && objects == 0;
  if (!fresh && app_id != kApplicationId) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08llx", (unsigned long long)app_id);
    throw InputError(path_ + ": a SQLite database of another application (application_id " + buf +
                     "), not a qinfer results store; left untouched");
  }
  if (version > kSchemaVersion)
    throw InputError(path_ + ": results store schema version " + std::to_string(version) +
                     " is newer than this qinfer understands (" + std::to_string(kSchemaVersion) + "); upgrade qinfer");
  if (!fresh) {
    Stmt check(db_, path_, "PRAGMA quick_check");
    std::string verdict;
    try {
      verdict = check.step() ? check.text(0) : "no answer";
    } catch (const InputError&) {
      if (!is_corruption(db_)) throw InputError(path_ + ": cannot read the results database: " + db_error(db_));
      verdict = sqlite3_errmsg(db_);
    }
    for (char& c : verdict)
      if (c == '\n') c = ' ';  // one-line errors
    if (verdict != "ok") throw InputError(path_ + ": corrupt results database (" + verdict + "); left untouched");
  }
  if (mode == Mode::ReadOnly) {
    if (fresh)
      throw InputError(path_ + ": a SQLite database with no results store in it yet; record a run into it first");
    if (version < kSchemaVersion)
      throw InputError(path_ + ": results store has schema version " + std::to_string(version) + " (this qinfer: " +
                       std::to_string(kSchemaVersion) + "); record a run into it once to migrate it");
    return;
  }
  // A rollback journal, not WAL: readers then need no -shm/-wal files (a
  // read-only command creates nothing), and a full disk fails the write, not
  // the read. Transactions are one run each, so WAL's concurrency buys nothing.
  // A WAL-mode store from qinfer 0.1 converts here (best effort: another open
  // connection keeps it WAL until later).
  sqlite3_exec(db_, "PRAGMA journal_mode = DELETE", nullptr, nullptr, nullptr);
  exec(db_, path_, "PRAGMA foreign_keys = ON");
  migrate();
}

void ResultStore::migrate() {
  exec(db_, path_, "BEGIN IMMEDIATE");
  try {
    const int64_t version = pragma_int(db_, path_, "PRAGMA user_version");  // again, under the lock
    for (int64_t v = version; v < kSchemaVersion; ++v) exec(db_, path_, kMigrations[v]);
    if (version < kSchemaVersion) {
      const std::string set = "PRAGMA application_id = " + std::to_string(kApplicationId) +
                              "; PRAGMA user_version = " + std::to_string(kSchemaVersion);
      exec(db_, path_, set.c_str());
    }
    exec(db_, path_, "COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::string ResultStore::file_sha256(const std::string& file_path) {
  std::error_code ec;
  const std::string abs = std::filesystem::absolute(file_path, ec).lexically_normal().string();
  struct stat st {};
  if (::stat(file_path.c_str(), &st) != 0) throw InputError(file_path + ": cannot stat: " + std::strerror(errno));
  const int64_t mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  {
    Stmt q(db_, path_, "SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ?");
    q.bind(1, abs).bind(2, int64_t(st.st_size)).bind(3, mtime_ns);
    if (q.step()) return q.text(0);
  }
  const std::string hex = sha256_file(file_path);
  if (!sqlite3_db_readonly(db_, "main")) {
    Stmt ins(db_, path_, "INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)");
    ins.bind(1, abs).bind(2, int64_t(st.st_size)).bind(3, mtime_ns).bind(4, hex);
    ins.step();
  }
  return hex;
}

int64_t ResultStore::record_run(RunRecord r) {
  if (!valid_run_kind(r.kind)) throw InputError("run kind '" + r.kind + "' is not one of bench, eval, optimize");
  std::set<std::string> names;
  for (const Metric& m : r.metrics) {
    if (m.name.empty()) throw InputError("run '" + r.label + "': a metric has an empty name");
    if (!std::isfinite(m.value)) throw InputError("run '" + r.label + "': metric " + m.name + " is not finite");
    if (!names.insert(m.name).second) throw InputError("run '" + r.label + "': metric " + m.name + " given twice");
  }
  const auto params = nlohmann::json::parse(r.params_json, nullptr, false);
  if (params.is_discarded() || !params.is_object())
    throw InputError("run '" + r.label + "': parameters are not a JSON object: " + r.params_json);
  if (r.time.empty()) r.time = utc_now();
  if (!r.model.path.empty() && std::filesystem::is_regular_file(r.model.path)) {
    if (r.model.size_bytes == 0) r.model.size_bytes = int64_t(std::filesystem::file_size(r.model.path));
    if (r.model.sha256.empty()) r.model.sha256 = file_sha256(r.model.path);
  }
  exec(db_, path_, "BEGIN IMMEDIATE");
  try {
    Stmt ins(db_, path_,
             "INSERT INTO runs (time, kind, label, model_path, model_sha256, model_type, file_type, size_bytes, "
             "n_params, bits_per_weight, cpu, cores, ram_bytes, gpu, engine, engine_version, params, device, "
             "device_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    ins.bind(1, r.time).bind(2, r.kind).bind(3, r.label).bind(4, r.model.path).bind(5, r.model.sha256);
    ins.bind(6, r.model.type).bind(7, r.model.file_type).bind(8, r.model.size_bytes).bind(9, r.model.n_params);
    ins.bind(10, r.model.bits_per_weight).bind(11, r.machine.cpu).bind(12, int64_t(r.machine.cores));
    ins.bind(13, r.machine.ram_bytes).bind(14, r.machine.gpu).bind(15, r.engine).bind(16, r.engine_version);
    ins.bind(17, params.dump()).bind(18, r.device).bind(19, r.device_reason);
    ins.step();
    const int64_t id = sqlite3_last_insert_rowid(db_);
    for (const Metric& m : r.metrics) {
      Stmt mi(db_, path_, "INSERT INTO metrics (run_id, name, value, unit) VALUES (?, ?, ?, ?)");
      mi.bind(1, id).bind(2, m.name).bind(3, m.value).bind(4, m.unit);
      mi.step();
    }
    exec(db_, path_, "COMMIT");
    return id;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<Metric> ResultStore::metrics_of(int64_t id) const {
  // rowid order is insertion order: metrics come back as the producer listed them.
  Stmt s(db_, path_, "SELECT name, value, unit FROM metrics WHERE run_id = ? ORDER BY rowid");
  s.bind(1, id);
  std::vector<Metric> out;
  while (s.step()) out.push_back({s.text(0), s.f64(1), s.text(2)});
  return out;
}

std::vector<RunRecord> ResultStore::list(const std::vector<int64_t>& ids) const {
  std::vector<RunRecord> out;
  if (!ids.empty()) {
    for (int64_t id : ids) out.push_back(get(id));
    return out;
  }
  Stmt s(db_, path_, (std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY id").c_str());
  while (s.step()) out.push_back(read_run(s));
  for (RunRecord& r : out) r.metrics = metrics_of(r.id);
  return out;
}

RunRecord ResultStore::get(int64_t id) const {
  Stmt s(db_, path_, (std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?").c_str());
  s.bind(1, id);
  if (!s.step()) throw InputError(path_ + ": no run with id " + std::to_string(id));
  RunRecord r = read_run(s);
  r.metrics = metrics_of(id);
  return r;
}

int64_t ResultStore::count() const { return pragma_int(db_, path_, "SELECT count(*) FROM runs"); }

}  // namespace qinfer
