// The model registry: --models-dir scan, ids and aliases, lazy loading, LRU
// eviction under --memory-budget that never takes a model a request holds,
// and the errors a server turns into 404 / 503. The loader here builds a
// stand-in of a known size (the registry never looks inside it); the server's
// real loader is exercised by the serve tests.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "qinfer/serve/model_listing.h"
#include "qinfer/serve/model_registry.h"
#include "test_util.h"

namespace qinfer::serve {
namespace {

namespace fs = std::filesystem;

struct Sized : ServedModel {
  explicit Sized(uint64_t b, std::string p) : bytes(b), path(std::move(p)) {}
  uint64_t resident_bytes() const override { return bytes; }
  uint64_t bytes;
  std::string path;
};

struct Fixture {
  fs::path dir;
  std::map<std::string, int> loads;  // by id
  std::vector<std::string> evicted;
  std::mutex mu;
  std::map<std::string, uint64_t> size;  // resident bytes by id (default 100)

  void file(const std::string& name) { std::ofstream(dir / name) << "x"; }
  ModelRegistryOptions options(uint64_t budget = 0) {
    ModelRegistryOptions o;
    o.models_dir = dir.string();
    o.memory_budget = budget;
    o.load = [this](const ModelSource& s) {
      std::lock_guard lock(mu);
      ++loads[s.id];
      uint64_t b = size.count(s.id) ? size[s.id] : 100;
      return std::make_shared<Sized>(b, s.path);
    };
    o.estimate_bytes = [this](const ModelSource& s) {
      std::lock_guard lock(mu);
      return size.count(s.id) ? size[s.id] : uint64_t(100);
    };
    o.on_evict = [this](const ModelSource& s) {
      std::lock_guard lock(mu);
      evicted.push_back(s.id);
    };
    return o;
  }
};

std::vector<std::string> loaded_ids(ModelRegistry& r) {
  std::vector<std::string> out;
  for (const ModelStatus& s : r.list())
    if (s.loaded) out.push_back(s.source.id);
  return out;
}

TEST(ServeModels, ScanIsLazyAndIdsAreFileStems) {
  Fixture f;
  f.dir = test::scratch_dir();
  f.file("b-q4_0.gguf");
  f.file("a.gguf");
  f.file("notes.txt");
  fs::create_directory(f.dir / "sub.gguf");  // a directory is not a model
  ModelRegistry r(f.options());
  auto list = r.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].source.id, "a");
  EXPECT_EQ(list[1].source.id, "b-q4_0");
  EXPECT_EQ(list[1].source.file_bytes, 1u);
  EXPECT_FALSE(list[0].loaded);
  EXPECT_TRUE(f.loads.empty()) << "nothing loads before a request names it";
  auto lease = r.acquire("b-q4_0");
  EXPECT_EQ(lease.as<Sized>().path, (f.dir / "b-q4_0.gguf").string());
  auto again = r.acquire("b-q4_0");
  EXPECT_EQ(&again.model(), &lease.model());
  EXPECT_EQ(f.loads["b-q4_0"], 1);
  EXPECT_EQ(loaded_ids(r), std::vector<std::string>{"b-q4_0"});
  EXPECT_EQ(r.list()[1].leases, 2);
}

TEST(ServeModels, UnknownModelListsTheKnownOnes) {
  Fixture f;
  f.dir = test::scratch_dir();
  f.file("alpha.gguf");
  f.file("beta.gguf");
  ModelRegistry r(f.options());
  try {
    r.acquire("gamma");
    FAIL() << "no error";
  } catch (const ModelNotFound& e) {
    EXPECT_STREQ(e.what(), "model 'gamma' not found; known models: alpha, beta");
  }
  // Two models and no -m: an empty name picks none.
  EXPECT_THROW(r.acquire(""), ModelNotFound);
  // A file added while serving is found by the request that names it.
  f.file("gamma.gguf");
  EXPECT_EQ(r.acquire("gamma").source().id, "gamma");
}

TEST(ServeModels, DefaultModelAndAliases) {
  Fixture f;
  f.dir = test::scratch_dir();
  fs::create_directory(f.dir / "elsewhere");
  std::ofstream(f.dir / "elsewhere" / "main-model.gguf") << "xyz";
  f.file("other.gguf");
  ModelRegistryOptions o = f.options();
  o.model_paths = {(f.dir / "elsewhere" / "main-model.gguf").string()};
  o.aliases = {"chat", "fast=other"};
  ModelRegistry r(o);
  // -m's model is the default, renamed by the bare alias; its stem still answers.
  EXPECT_EQ(r.acquire("").source().id, "chat");
  EXPECT_EQ(r.acquire("main-model").source().id, "chat");
  EXPECT_EQ(r.acquire("fast").source().id, "other");
  EXPECT_EQ(f.loads["chat"], 1);
  auto list = r.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].source.aliases, std::vector<std::string>{"main-model"});
  EXPECT_EQ(list[1].source.aliases, std::vector<std::string>{"fast"});

  // With a single model in the directory and no -m, "" means that one.
  Fixture g;
  g.dir = test::scratch_dir() / "single";
  fs::create_directories(g.dir);
  g.file("only.gguf");
  ModelRegistry single(g.options());
  EXPECT_EQ(single.acquire("").source().id, "only");
}

TEST(ServeModels, BadSourcesAreInputErrors) {
  Fixture f;
  f.dir = test::scratch_dir();
  f.file("m.gguf");
  auto make = [&](auto edit) {
    ModelRegistryOptions o = f.options();
    edit(o);
    ModelRegistry r(o);
  };
  EXPECT_THROW(make([&](auto& o) { o.model_paths = {(f.dir / "missing.gguf").string()}; }), InputError);
  EXPECT_THROW(make([&](auto& o) { o.models_dir = (f.dir / "m.gguf").string(); }), InputError);
  EXPECT_THROW(make([&](auto& o) { o.aliases = {"x=nothing"}; }), InputError);
  EXPECT_THROW(make([&](auto& o) { o.aliases = {"chat"}; }), InputError);  // no -m to name
  EXPECT_THROW(make([&](auto& o) { o.aliases = {"=m"}; }), InputError);
  f.file("other.gguf");
  EXPECT_THROW(make([&](auto& o) {  // the name is a model of the directory
                 o.model_paths = {(f.dir / "m.gguf").string()};
                 o.aliases = {"other"};
               }),
               InputError);
  EXPECT_THROW(make([&](auto& o) { o.aliases = {"other=m"}; }), InputError);
  EXPECT_NO_THROW(make([&](auto& o) {  // -m's file is also in the directory: one model, renamed
                    o.model_paths = {(f.dir / "m.gguf").string()};
                    o.aliases = {"main", "m-too=main"};
                  }));
  fs::path empty = f.dir / "empty";
  fs::create_directory(empty);
  EXPECT_THROW(make([&](auto& o) { o.models_dir = empty.string(); }), InputError);
}

TEST(ServeModels, EvictsTheLeastRecentlyUsedIdleModel) {
  Fixture f;
  f.dir = test::scratch_dir();
  for (const char* n : {"a.gguf", "b.gguf", "c.gguf"}) f.file(n);
  ModelRegistry r(f.options(250));  // two models of 100 fit, three do not
  r.acquire("a");
  r.acquire("b");
  r.acquire("a");  // a is now more recent than b
  r.acquire("c");
  EXPECT_EQ(loaded_ids(r), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(f.evicted, std::vector<std::string>{"b"});
  EXPECT_EQ(r.resident_bytes(), 200u);
  r.acquire("b");  // reloads, evicting a (least recent)
  EXPECT_EQ(loaded_ids(r), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(f.loads["b"], 2);
  auto list = r.list();
  EXPECT_EQ(list[1].loads, 2);
}

TEST(ServeModels, NeverEvictsAModelARequestHolds) {
  Fixture f;
  f.dir = test::scratch_dir();
  for (const char* n : {"a.gguf", "b.gguf", "c.gguf"}) f.file(n);
  ModelRegistry r(f.options(250));
  auto held_a = r.acquire("a");
  r.acquire("b");
  auto held_c = r.acquire("c");  // a is older but held: b goes
  EXPECT_EQ(loaded_ids(r), (std::vector<std::string>{"a", "c"}));
  // Both resident models are held: no room for b, and nothing was evicted.
  try {
    r.acquire("b");
    FAIL() << "no error";
  } catch (const ModelUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("held by models with running requests"), std::string::npos) << e.what();
  }
  EXPECT_EQ(loaded_ids(r), (std::vector<std::string>{"a", "c"}));
  held_a = {};  // the request finished
  EXPECT_EQ(r.acquire("b").source().id, "b");
  EXPECT_EQ(loaded_ids(r), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(&held_c.model(), &r.acquire("c").model()) << "the held model stayed resident";
}

TEST(ServeModels, TooLargeForTheBudgetAndLoaderFailures) {
  Fixture f;
  f.dir = test::scratch_dir();
  f.file("big.gguf");
  f.file("flaky.gguf");
  f.size["big"] = 1000;
  ModelRegistryOptions o = f.options(500);
  int flaky_calls = 0;
  auto base = o.load;
  o.load = [&](const ModelSource& s) -> std::shared_ptr<ServedModel> {
    if (s.id == "flaky" && flaky_calls++ == 0) throw InputError("flaky.gguf: truncated");
    return base(s);
  };
  ModelRegistry r(o);
  try {
    r.acquire("big");
    FAIL() << "no error";
  } catch (const ModelTooLarge& e) {
    EXPECT_NE(std::string(e.what()).find("more than --memory-budget"), std::string::npos) << e.what();
  }
  EXPECT_THROW(r.acquire("flaky"), InputError);
  EXPECT_EQ(r.resident_bytes(), 0u) << "a failed load holds no budget";
  EXPECT_EQ(r.acquire("flaky").source().id, "flaky") << "the next request tries again";
}

TEST(ServeModels, ALargerThanEstimatedModelStillEvictsOthers) {
  Fixture f;
  f.dir = test::scratch_dir();
  f.file("a.gguf");
  f.file("b.gguf");
  ModelRegistryOptions o = f.options(250);
  o.estimate_bytes = [](const ModelSource&) { return uint64_t(50); };  // b really takes 200
  f.size["b"] = 200;
  ModelRegistry r(o);
  r.acquire("a");
  r.acquire("b");
  EXPECT_EQ(loaded_ids(r), std::vector<std::string>{"b"});
  EXPECT_EQ(r.resident_bytes(), 200u);
}

// A model counts what its plan predicted when that is more than it holds.
TEST(ServeModels, AModelCountsTheLargerOfItsEstimateAndWhatItHolds) {
  Fixture f;
  f.dir = test::scratch_dir();
  f.file("a.gguf");
  ModelRegistryOptions o = f.options(1000);
  o.estimate_bytes = [](const ModelSource&) { return uint64_t(300); };  // a holds 100
  ModelRegistry r(o);
  r.acquire("a");
  EXPECT_EQ(r.resident_bytes(), 300u);
}

// --force: a model larger than the whole budget loads once every idle model is gone.
TEST(ServeModels, ForceLoadsAModelLargerThanTheBudget) {
  Fixture f;
  f.dir = test::scratch_dir();
  for (const char* n : {"a.gguf", "b.gguf", "big.gguf"}) f.file(n);
  f.size["big"] = 1000;
  ModelRegistryOptions o = f.options(250);
  o.force = true;
  ModelRegistry r(o);
  r.acquire("a");
  auto held_b = r.acquire("b");
  EXPECT_THROW(r.acquire("big"), ModelUnavailable) << "b's request holds part of the budget";
  held_b = {};
  EXPECT_EQ(r.acquire("big").source().id, "big");
  EXPECT_EQ(loaded_ids(r), std::vector<std::string>{"big"});
  EXPECT_EQ(r.resident_bytes(), 1000u);
}

TEST(ServeModels, ConcurrentRequestsLoadOnce) {
  Fixture f;
  f.dir = test::scratch_dir();
  f.file("a.gguf");
  f.file("b.gguf");
  ModelRegistryOptions o = f.options(1000);
  auto base = o.load;
  o.load = [&](const ModelSource& s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // a slow load others wait for
    return base(s);
  };
  ModelRegistry r(o);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      auto lease = r.acquire(i % 2 ? "a" : "b");
      if (lease) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(f.loads["a"], 1);
  EXPECT_EQ(f.loads["b"], 1);
}

TEST(ServeModels, ListingReadsTheGgufHeader) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  Fixture f;
  f.dir = test::scratch_dir();
  fs::create_symlink(test::data_path("models/stories260K/stories260K.gguf"), f.dir / "stories.gguf");
  f.file("broken.gguf");
  ModelRegistry r(f.options());
  auto listing = describe_models(r.list());
  ASSERT_EQ(listing.size(), 2u);
  EXPECT_EQ(listing[0].id, "broken");
  EXPECT_FALSE(listing[0].error.empty()) << "a bad file is listed with why";
  EXPECT_EQ(listing[1].id, "stories");
  EXPECT_EQ(listing[1].architecture, "llama");
  EXPECT_FALSE(listing[1].quantization.empty());
  EXPECT_GT(listing[1].parameters, 200000);
  EXPECT_LT(listing[1].parameters, 300000);
  EXPECT_GT(listing[1].context_length, 0);
  EXPECT_EQ(listing[1].size, fs::file_size(test::data_path("models/stories260K/stories260K.gguf")));
}

}  // namespace
}  // namespace qinfer::serve
