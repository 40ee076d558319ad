// The results store: round trips, schema identity, refusal of files that are
// not ours (left byte-identical), SHA-256 against FIPS vectors, export.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "qinfer/core/error.h"
#include "qinfer/store/export.h"
#include "qinfer/store/results_store.h"
#include "qinfer/store/sha256.h"
#include "test_util.h"

namespace qinfer {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::filesystem::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

RunRecord sample_run(const std::string& label, double tg) {
  RunRecord r;
  r.kind = "bench";
  r.label = label;
  r.model.path = "/nonexistent/" + label + ".gguf";
  r.model.type = "llama";
  r.model.file_type = label;
  r.model.size_bytes = 1000;
  r.model.n_params = 250;
  r.model.bits_per_weight = 32.0;
  r.machine = {"Test CPU", 8, int64_t(16) << 30, "none"};
  r.engine_version = "0.1.0";
  r.params_json = R"({"threads": 2})";
  r.add(metric::kTgTps, tg, "tok/s");
  r.add(metric::kPpTps, 10 * tg, "tok/s");
  return r;
}

TEST(Sha256, FipsVectors) {
  Sha256 a;
  EXPECT_EQ(a.hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 b;
  b.update("abc", 3);
  EXPECT_EQ(b.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Two blocks, fed in odd pieces to exercise the buffering.
  const std::string s = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  Sha256 c;
  for (size_t i = 0; i < s.size(); i += 7) c.update(s.data() + i, std::min<size_t>(7, s.size() - i));
  EXPECT_EQ(c.hex(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 d;  // a million 'a'
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) d.update(chunk.data(), chunk.size());
  EXPECT_EQ(d.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(ResultStore, RecordListGetRoundTrip) {
  const auto dir = test::scratch_dir();
  const auto db_path = (dir / "r.db").string();
  const auto model = dir / "m.gguf";
  spit(model, "abc");
  int64_t id1, id2;
  {
    ResultStore db(db_path);
    RunRecord r = sample_run("Q4_0", 12.5);
    r.device_reason = "auto: no GPU backend";
    r.model.path = model.string();
    r.model.size_bytes = 0;  // filled from the file
    id1 = db.record_run(r);
    id2 = db.record_run(sample_run("Q8_0", 9.25));
  }
  ResultStore db(db_path, ResultStore::Mode::ReadOnly);
  EXPECT_EQ(db.count(), 2);
  const RunRecord a = db.get(id1);
  EXPECT_EQ(a.label, "Q4_0");
  EXPECT_EQ(a.kind, "bench");
  EXPECT_EQ(a.model.size_bytes, 3);
  EXPECT_EQ(a.model.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(a.machine.cpu, "Test CPU");
  EXPECT_EQ(a.machine.ram_bytes, int64_t(16) << 30);
  EXPECT_EQ(nlohmann::json::parse(a.params_json)["threads"], 2);
  EXPECT_EQ(a.device, "cpu");
  EXPECT_EQ(a.device_reason, "auto: no GPU backend");
  ASSERT_EQ(a.metrics.size(), 2u);
  EXPECT_EQ(a.metrics[0].name, metric::kTgTps);  // insertion order kept
  EXPECT_EQ(*a.find(metric::kTgTps), 12.5);
  EXPECT_EQ(a.metrics[0].unit, "tok/s");
  EXPECT_FALSE(a.time.empty());
  const auto all = db.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].id, id2);
  EXPECT_EQ(*all[1].find(metric::kPpTps), 92.5);
  const auto some = db.list({id2, id1});
  EXPECT_EQ(some[0].label, "Q8_0");
  EXPECT_THROW(db.get(999), InputError);
}

// A store written before runs carried their device (schema 1) is migrated in
// place on the first write: its runs read back as "cpu", new runs keep theirs.
TEST(ResultStore, SchemaOneStoresGainTheDeviceColumns) {
  const auto db_path = (test::scratch_dir() / "v1.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    const char* v1 = R"sql(
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('bench', 'eval', 'optimize')), label TEXT NOT NULL DEFAULT '',
  model_path TEXT NOT NULL DEFAULT '', model_sha256 TEXT NOT NULL DEFAULT '', model_type TEXT NOT NULL DEFAULT '',
  file_type TEXT NOT NULL DEFAULT '', size_bytes INTEGER NOT NULL DEFAULT 0, n_params INTEGER NOT NULL DEFAULT 0,
  bits_per_weight REAL NOT NULL DEFAULT 0, cpu TEXT NOT NULL DEFAULT '', cores INTEGER NOT NULL DEFAULT 0,
  ram_bytes INTEGER NOT NULL DEFAULT 0, gpu TEXT NOT NULL DEFAULT 'none', engine TEXT NOT NULL DEFAULT '',
  engine_version TEXT NOT NULL DEFAULT '', params TEXT NOT NULL DEFAULT '{}');
CREATE TABLE metrics (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
  value REAL NOT NULL, unit TEXT NOT NULL DEFAULT '', UNIQUE (run_id, name));
CREATE TABLE file_hashes (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
  sha256 TEXT NOT NULL);
INSERT INTO runs (time, kind, label) VALUES ('2026-01-01T00:00:00Z', 'bench', 'old');
PRAGMA application_id = 1363758662; PRAGMA user_version = 1;
)sql";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  ASSERT_EQ(1363758662, ResultStore::kApplicationId);
  EXPECT_THROW(ResultStore(db_path, ResultStore::Mode::ReadOnly), InputError);  // needs a migration
  ResultStore db(db_path);
  const RunRecord old = db.get(1);
  EXPECT_EQ(old.label, "old");
  EXPECT_EQ(old.device, "cpu");
  EXPECT_EQ(old.device_reason, "");
  RunRecord r = sample_run("new", 1);
  r.device = "cuda:0";
  r.device_reason = "asked for";
  const RunRecord back = db.get(db.record_run(r));
  EXPECT_EQ(back.device, "cuda:0");
  EXPECT_EQ(back.device_reason, "asked for");
}

TEST(ResultStore, InvalidRunsAreRejectedWithoutPartialWrites) {
  const auto dir = test::scratch_dir();
  ResultStore db((dir / "r.db").string());
  RunRecord bad_kind = sample_run("x", 1);
  bad_kind.kind = "benchmark";
  EXPECT_THROW(db.record_run(bad_kind), InputError);
  RunRecord dup = sample_run("x", 1);
  dup.add(metric::kTgTps, 2);
  EXPECT_THROW(db.record_run(dup), InputError);
  RunRecord nan = sample_run("x", std::nan(""));
  EXPECT_THROW(db.record_run(nan), InputError);
  RunRecord params = sample_run("x", 1);
  params.params_json = "[1,2";
  EXPECT_THROW(db.record_run(params), InputError);
  EXPECT_EQ(db.count(), 0);
}

TEST(ResultStore, SchemaIdentityAndJournal) {
  const auto dir = test::scratch_dir();
  const auto path = (dir / "r.db").string();
  { ResultStore db(path); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  auto pragma = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(raw, sql, -1, &s, nullptr);
    sqlite3_step(s);
    std::string v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
  };
  EXPECT_EQ(pragma("PRAGMA user_version"), std::to_string(ResultStore::kSchemaVersion));
  EXPECT_EQ(pragma("PRAGMA application_id"), std::to_string(ResultStore::kApplicationId));
  EXPECT_EQ(pragma("PRAGMA journal_mode"), "delete");  // readers need no -shm/-wal files
  // A newer schema than ours is refused, not downgraded.
  sqlite3_exec(raw, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  const std::string before = slurp(path);
  try {
    ResultStore db(path);
    FAIL() << "opened a newer schema";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(path), before);
}

TEST(ResultStore, ForeignFilesAreRefusedAndLeftUntouched) {
  const auto dir = test::scratch_dir();
  // Not SQLite at all.
  const auto text = dir / "notes.db";
  spit(text, "my precious notes, not a database\n");
  EXPECT_THROW(ResultStore(text.string()), InputError);
  EXPECT_EQ(slurp(text), "my precious notes, not a database\n");
  // Another application's SQLite database.
  const auto other = (dir / "other.db").string();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "CREATE TABLE contacts(name TEXT); INSERT INTO contacts VALUES ('Ada');", nullptr, nullptr,
               nullptr);
  sqlite3_close(raw);
  const std::string before = slurp(other);
  try {
    ResultStore db(other);
    FAIL() << "opened a foreign database";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("another application"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(other), before);
  // Missing file in read-only mode is an error, not a new file.
  EXPECT_THROW(ResultStore((dir / "missing.db").string(), ResultStore::Mode::ReadOnly), InputError);
  EXPECT_FALSE(std::filesystem::exists(dir / "missing.db"));
}

TEST(ResultStore, CorruptDatabaseIsRefusedAndLeftUntouched) {
  const auto dir = test::scratch_dir();
  const auto path = (dir / "r.db").string();
  {
    ResultStore db(path);
    for (int i = 0; i < 50; ++i) db.record_run(sample_run("run" + std::to_string(i), i + 1));
  }
  std::string bytes = slurp(path);
  ASSERT_GT(bytes.size(), 3 * 4096u);
  // Scribble over the second page (a b-tree page of the schema's tables).
  for (size_t i = 4096; i < 4096 + 200; ++i) bytes[i] = char(0xA5);
  spit(path, bytes);
  EXPECT_THROW(ResultStore db(path), InputError);
  EXPECT_EQ(slurp(path), bytes);
  // Truncated to half a page.
  spit(path, bytes.substr(0, 2048));
  EXPECT_THROW(ResultStore db(path), InputError);
  EXPECT_EQ(slurp(path).size(), 2048u);
}

TEST(ResultStore, EmptyFilesBecomeStoresAndReadOnlyCannotWrite) {
  const auto dir = test::scratch_dir();
  const auto path = dir / "touched.db";
  spit(path, "");  // `touch`ed: nothing to lose, so it is initialised
  { ResultStore db(path.string()); EXPECT_EQ(db.count(), 0); }
  ResultStore ro(path.string(), ResultStore::Mode::ReadOnly);
  EXPECT_THROW(ro.record_run(sample_run("x", 1)), InputError);
  EXPECT_EQ(ro.count(), 0);
}

std::vector<std::string> listing(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// qinfer 0.1 left stores in WAL mode; reading one creates nothing beside it,
// and the next write converts it.
TEST(ResultStore, ReadingAWalModeStoreCreatesNoFiles) {
  const auto dir = test::scratch_dir();
  const auto path = (dir / "r.db").string();
  {
    ResultStore db(path);
    db.record_run(sample_run("a", 1));
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  ASSERT_EQ(listing(dir), std::vector<std::string>{"r.db"});
  const std::string before = slurp(path);
  {
    ResultStore ro(path, ResultStore::Mode::ReadOnly);
    EXPECT_EQ(ro.count(), 1);
    EXPECT_EQ(ro.list().at(0).label, "a");
    EXPECT_EQ(listing(dir), std::vector<std::string>{"r.db"}) << "side files while reading";
  }
  EXPECT_EQ(listing(dir), std::vector<std::string>{"r.db"});
  EXPECT_EQ(slurp(path), before);
  {
    ResultStore rw(path);
    rw.record_run(sample_run("b", 2));
  }
  EXPECT_EQ(listing(dir), std::vector<std::string>{"r.db"});
  ResultStore ro(path, ResultStore::Mode::ReadOnly);
  EXPECT_EQ(ro.count(), 2);
}

// A foreign WAL-mode database is refused without SQLite creating -shm/-wal beside it.
TEST(ResultStore, ForeignWalDatabaseGetsNoSideFiles) {
  const auto dir = test::scratch_dir();
  const auto other = (dir / "other.db").string();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "PRAGMA application_id = 1234; PRAGMA journal_mode = WAL; CREATE TABLE t(x);", nullptr, nullptr,
               nullptr);
  sqlite3_close(raw);
  ASSERT_EQ(listing(dir), std::vector<std::string>{"other.db"});
  for (auto mode : {ResultStore::Mode::ReadOnly, ResultStore::Mode::ReadWrite}) {
    try {
      ResultStore db(other, mode);
      FAIL() << "opened a foreign database";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("another application"), std::string::npos) << e.what();
    }
    EXPECT_EQ(listing(dir), std::vector<std::string>{"other.db"});
  }
}

// An empty file is not a store to read: the message says so, not "schema version 0".
TEST(ResultStore, EmptyFileReadOnlyIsAClearError) {
  const auto dir = test::scratch_dir();
  const auto path = (dir / "empty.db").string();
  spit(path, "");
  try {
    ResultStore db(path, ResultStore::Mode::ReadOnly);
    FAIL() << "opened an empty file";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("an empty file, not a results store yet"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("schema version"), std::string::npos) << msg;
  }
  EXPECT_EQ(listing(dir), std::vector<std::string>{"empty.db"});
}

TEST(ResultStore, FileHashIsCachedByPathSizeAndMtime) {
  const auto dir = test::scratch_dir();
  ResultStore db((dir / "r.db").string());
  const auto f = dir / "model.bin";
  spit(f, "abc");
  EXPECT_EQ(db.file_sha256(f.string()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(db.file_sha256(f.string()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  spit(f, "");  // size changes: the cache must not answer
  EXPECT_EQ(db.file_sha256(f.string()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Export, CsvAndJson) {
  std::vector<RunRecord> runs = {sample_run("Q4_0", 12.5), sample_run("Q8_0, \"big\"", 9)};
  runs[0].id = 1;
  runs[1].id = 2;
  runs[1].add(metric::kPpl, 5.25);
  const std::string csv = export_csv(runs);
  std::istringstream in(csv);
  std::string header, row1, row2;
  std::getline(in, header);
  std::getline(in, row1);
  std::getline(in, row2);
  EXPECT_NE(header.find(",tg_tps [tok/s],pp_tps [tok/s],ppl"), std::string::npos) << header;
  EXPECT_EQ(row1.substr(row1.size() - 10), ",12.5,125,") << row1;
  EXPECT_NE(row2.find("\"Q8_0, \"\"big\"\"\""), std::string::npos) << row2;
  EXPECT_NE(row2.find("\"{\"\"threads\"\": 2}\""), std::string::npos) << row2;
  EXPECT_EQ(row2.substr(row2.size() - 10), ",9,90,5.25") << row2;

  const auto j = nlohmann::json::parse(export_json(runs));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["label"], "Q8_0, \"big\"");
  EXPECT_EQ(j[1]["metrics"]["ppl"]["value"], 5.25);
  EXPECT_EQ(j[0]["params"]["threads"], 2);
  EXPECT_EQ(j[0]["machine"]["cores"], 8);

  const Comparison c = compare_runs(runs);
  ASSERT_EQ(c.names.size(), 3u);
  EXPECT_FALSE(c.values[2][0].has_value());
  EXPECT_EQ(*c.values[2][1], 5.25);
}

}  // namespace
}  // namespace qinfer
