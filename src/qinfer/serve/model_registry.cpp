#include "qinfer/serve/model_registry.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <sys/stat.h>

#include "qinfer/core/format.h"

namespace qinfer::serve {

namespace fs = std::filesystem;

struct ModelRegistry::Entry {
  std::shared_ptr<ModelSource> source;
  bool from_dir = false;
  std::shared_ptr<ServedModel> model;  // null when not resident
  bool loading = false;
  uint64_t bytes = 0;          // resident bytes, or the estimate while loading
  uint64_t last_used = 0;      // registry tick of the last acquire
  double load_seconds = 0;
  int64_t loads = 0;
  int64_t loaded_unix = 0;
  int leases() const { return model ? int(model.use_count()) - 1 : 0; }
};

namespace {

std::string stem_of(const fs::path& p) { return p.stem().string(); }

uint64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  uint64_t n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

}  // namespace

ModelRegistry::ModelRegistry(ModelRegistryOptions options) : options_(std::move(options)) {
  if (!options_.load) throw Error("ModelRegistry: no loader");
  for (const std::string& path : options_.model_paths) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw InputError("-m " + path + ": no such model file");
    auto e = std::make_shared<Entry>();
    e->source = std::make_shared<ModelSource>();
    e->source->id = stem_of(path);
    e->source->path = path;
    e->source->file_bytes = file_size_or_zero(path);
    if (find_locked(e->source->id))
      throw InputError("-m " + path + ": two models are named '" + e->source->id + "' (use --alias)");
    entries_.push_back(std::move(e));
  }
  if (!options_.models_dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(options_.models_dir, ec))
      throw InputError("--models-dir " + options_.models_dir + ": not a directory");
  }
  scan_locked();
  // A bare alias renames -m's first model (its id becomes the alias, as
  // llama-server's --alias; the file stem keeps answering); NAME=ID adds a
  // name to any model.
  for (const std::string& a : options_.aliases) {
    size_t eq = a.find('=');
    if (a.empty() || eq == 0 || eq + 1 == a.size()) throw InputError("--alias '" + a + "': expected NAME or NAME=MODEL");
    std::string name = a.substr(0, eq);
    if (eq == std::string::npos) {
      if (entries_.empty() || entries_.front()->from_dir)
        throw InputError("--alias " + a + ": there is no -m model to name (use NAME=MODEL)");
      Entry* taken = find_locked(name);
      if (taken && taken != entries_.front().get()) throw InputError("--alias " + a + ": the name is taken");
      ModelSource& s = *entries_.front()->source;
      if (s.id != name) {
        s.aliases.push_back(s.id);
        s.id = name;
      }
    } else {
      std::string id = a.substr(eq + 1);
      Entry* target = find_locked(id);
      if (!target) throw InputError("--alias " + a + ": no model '" + id + "'; known: " + known_ids_locked());
      Entry* taken = find_locked(name);
      if (taken && taken != target) throw InputError("--alias " + a + ": the name is taken");
      dir_aliases_.emplace_back(name, target->source->id);
    }
  }
  scan_locked();  // applies the NAME=ID aliases
  if (entries_.empty() && !options_.models_dir.empty())
    throw InputError("--models-dir " + options_.models_dir + ": no .gguf file in it, and no -m model");
}

ModelRegistry::~ModelRegistry() = default;

void ModelRegistry::scan_locked() {
  if (!options_.models_dir.empty()) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(options_.models_dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code fec;
      if (it->path().extension() == ".gguf" && it->is_regular_file(fec)) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    // Forget files that went away, unless a request holds them or they load.
    std::erase_if(entries_, [&](const std::shared_ptr<Entry>& e) {
      return e->from_dir && !e->model && !e->loading && std::find(files.begin(), files.end(), e->source->path) == files.end();
    });
    for (const fs::path& p : files) {
      std::string path = p.string();
      bool known = false;
      for (const auto& e : entries_)
        if (e->source->path == path || (!e->from_dir && same_file(e->source->path, path))) known = true;
      if (known) continue;
      std::string id = stem_of(p);
      if (find_locked(id)) continue;  // a -m model or alias of that name answers for it
      auto e = std::make_shared<Entry>();
      e->from_dir = true;
      e->source = std::make_shared<ModelSource>();
      e->source->id = id;
      e->source->path = path;
      e->source->file_bytes = file_size_or_zero(p);
      entries_.push_back(std::move(e));
    }
  }
  for (const auto& [name, id] : dir_aliases_) {
    for (const auto& e : entries_) {
      ModelSource& s = *e->source;
      if (s.id != id) continue;
      if (std::find(s.aliases.begin(), s.aliases.end(), name) == s.aliases.end()) s.aliases.push_back(name);
    }
  }
}

ModelRegistry::Entry* ModelRegistry::find_locked(const std::string& name) const {
  if (name.empty()) {
    for (const auto& e : entries_)
      if (!e->from_dir) return e.get();  // the first -m model
    return entries_.size() == 1 ? entries_.front().get() : nullptr;
  }
  for (const auto& e : entries_)
    if (e->source->id == name) return e.get();
  for (const auto& e : entries_)
    for (const std::string& a : e->source->aliases)
      if (a == name) return e.get();
  return nullptr;
}

std::shared_ptr<const ModelSource> ModelRegistry::find(const std::string& name) const {
  std::lock_guard lock(mu_);
  Entry* e = find_locked(name);
  return e ? e->source : nullptr;
}

std::string ModelRegistry::known_ids() const {
  std::lock_guard lock(mu_);
  return known_ids_locked();
}

std::string ModelRegistry::known_ids_locked() const {
  std::vector<std::string> ids;
  for (const auto& e : entries_) ids.push_back(e->source->id);
  std::sort(ids.begin(), ids.end());
  std::string out;
  for (const std::string& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out.empty() ? "(none)" : out;
}

uint64_t ModelRegistry::resident_bytes_locked() const {
  uint64_t total = 0;
  for (const auto& e : entries_)
    if (e->model || e->loading) total += e->bytes;
  return total;
}

uint64_t ModelRegistry::resident_bytes() const {
  std::lock_guard lock(mu_);
  return resident_bytes_locked();
}

std::vector<ModelRegistry::Evicted> ModelRegistry::make_room_locked(uint64_t need, const Entry* keep, bool& ok) {
  std::vector<Evicted> evicted;
  ok = true;
  const uint64_t budget = options_.memory_budget;
  if (budget == 0) return evicted;
  uint64_t total = resident_bytes_locked();
  if (total + need <= budget) return evicted;
  // Candidates: resident, not loading, held by no request, least recent first.
  std::vector<Entry*> idle;
  for (const auto& e : entries_)
    if (e.get() != keep && e->model && !e->loading && e->leases() == 0) idle.push_back(e.get());
  std::sort(idle.begin(), idle.end(), [](const Entry* a, const Entry* b) { return a->last_used < b->last_used; });
  uint64_t freeable = 0;
  for (const Entry* e : idle) freeable += e->bytes;
  if (total - freeable + need > budget) {  // evicting every idle model would not be enough
    ok = false;
    return evicted;
  }
  for (Entry* e : idle) {
    if (total + need <= budget) break;
    total -= e->bytes;
    e->bytes = 0;
    evicted.push_back({std::move(e->model), e->source});
    e->model.reset();
  }
  return evicted;
}

void ModelRegistry::release(std::vector<Evicted>& evicted) {
  std::vector<std::shared_ptr<const ModelSource>> sources;
  for (Evicted& ev : evicted) sources.push_back(std::move(ev.source));
  evicted.clear();  // the last reference: the model unloads here, outside the lock
  if (options_.on_evict)
    for (const auto& s : sources) options_.on_evict(*s);
}

ModelRegistry::Lease ModelRegistry::acquire(const std::string& name) {
  std::unique_lock lock(mu_);
  Entry* found = find_locked(name);
  if (!found && !name.empty()) {
    scan_locked();
    found = find_locked(name);
  }
  if (!found) {
    if (name.empty()) throw ModelNotFound("no model named in the request, and no default model; known models: " + known_ids_locked());
    throw ModelNotFound("model '" + name + "' not found; known models: " + known_ids_locked());
  }
  std::shared_ptr<Entry> e;
  for (const auto& p : entries_)
    if (p.get() == found) e = p;  // hold it: a rescan may drop it from the list while we wait
  auto lease_of = [&](Entry& en) {
    en.last_used = ++tick_;
    Lease l;
    l.model_ = en.model;
    l.source_ = en.source;
    return l;
  };
  while (e->loading) loaded_cv_.wait(lock);
  if (e->model) return lease_of(*e);

  uint64_t need = options_.estimate_bytes ? options_.estimate_bytes(*e->source) : e->source->file_bytes;
  const uint64_t budget = options_.memory_budget;
  if (budget && need > budget && !options_.force)
    throw ModelTooLarge("model '" + e->source->id + "' needs about " + format_bytes(double(need)) +
                        ", more than --memory-budget " + format_bytes(double(budget)) + " (--force loads it anyway)");
  bool ok = false;
  // Forced past the budget: room for the whole budget, i.e. every idle model goes.
  auto evicted = make_room_locked(std::min(need, budget ? budget : need), e.get(), ok);
  if (!ok)
    throw ModelUnavailable("model '" + e->source->id + "' needs about " + format_bytes(double(need)) +
                           " and the --memory-budget of " + format_bytes(double(options_.memory_budget)) +
                           " is held by models with running requests; try again later");
  e->loading = true;
  e->bytes = need;
  lock.unlock();
  release(evicted);

  std::shared_ptr<ServedModel> model;
  auto t0 = std::chrono::steady_clock::now();
  try {
    model = options_.load(*e->source);
    if (!model) throw Error("model '" + e->source->id + "': the loader returned nothing");
  } catch (...) {
    lock.lock();
    e->loading = false;
    e->bytes = 0;
    loaded_cv_.notify_all();
    throw;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  lock.lock();
  e->model = std::move(model);
  e->loading = false;
  e->bytes = std::max(need, e->model->resident_bytes());
  e->load_seconds = secs;
  e->loaded_unix = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  ++e->loads;
  Lease lease = lease_of(*e);
  // It may need more than estimated: evict others until it fits, if they are idle.
  auto more = make_room_locked(0, e.get(), ok);
  loaded_cv_.notify_all();
  lock.unlock();
  release(more);
  if (options_.on_load) options_.on_load(*e->source, secs);
  return lease;
}

std::vector<ModelStatus> ModelRegistry::list() {
  std::lock_guard lock(mu_);
  scan_locked();
  std::vector<ModelStatus> out;
  for (const auto& e : entries_) {
    ModelStatus s;
    s.source = *e->source;
    s.loaded = bool(e->model);
    s.leases = e->leases();
    s.resident_bytes = e->model ? e->bytes : 0;
    s.load_seconds = e->load_seconds;
    s.loads = e->loads;
    s.created_unix = e->loaded_unix;
    if (!s.created_unix) {
      struct stat st {};
      if (::stat(e->source->path.c_str(), &st) == 0) s.created_unix = int64_t(st.st_mtime);
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const ModelStatus& a, const ModelStatus& b) { return a.source.id < b.source.id; });
  return out;
}

std::vector<ModelRegistry::Lease> ModelRegistry::resident() {
  std::lock_guard lock(mu_);
  std::vector<Lease> out;
  for (const auto& e : entries_) {
    if (!e->model) continue;
    Lease l;
    l.model_ = e->model;
    l.source_ = e->source;
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace qinfer::serve
