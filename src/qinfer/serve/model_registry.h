// The models a server can answer with, and which of them are in memory.
// Models come from `-m` files and the *.gguf files of `--models-dir` (a
// model's id is its file name without .gguf) plus `--alias` names. None is
// loaded until a request names it; several stay resident while their bytes
// fit `--memory-budget`, and making room evicts the least recently used model
// that no request holds. A request holds its model through a Lease for as long
// as it runs (streaming included), so a model is never unloaded under it.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "qinfer/core/error.h"

namespace qinfer::serve {

// What one resident model holds (weights, engine, chat template): the
// server's loader builds it and derives from this.
class ServedModel {
 public:
  virtual ~ServedModel() = default;
  // What it holds: weights + KV pool + anything large (counted against
  // --memory-budget when larger than the estimate made before loading).
  virtual uint64_t resident_bytes() const = 0;
};

// A name no model answers to: HTTP 404, the message lists the known ids.
class ModelNotFound : public InputError {
 public:
  using InputError::InputError;
};
// The model alone needs more than the whole --memory-budget (its plan says
// so, or its estimate is larger), and --force was not given: HTTP 400, as
// waiting will not help; the message is the plan's line.
class ModelTooLarge : public Error {
 public:
  using Error::Error;
};
// The model exists but cannot be brought in now (the budget is held by
// models with running requests, or it failed to load): HTTP 503.
class ModelUnavailable : public Error {
 public:
  using Error::Error;
};

struct ModelSource {
  std::string id;    // file stem, or the name given with -m's --alias
  std::string path;
  uint64_t file_bytes = 0;
  std::vector<std::string> aliases;
};

struct ModelStatus {
  ModelSource source;
  bool loaded = false;
  int leases = 0;            // requests holding it now
  uint64_t resident_bytes = 0;  // 0 when not loaded
  double load_seconds = 0;   // of its last load; 0 if never loaded
  int64_t loads = 0;         // times loaded (a reload after eviction counts)
  int64_t created_unix = 0;  // when it was last loaded, else the file's modification time (seconds)
};

struct ModelRegistryOptions {
  std::vector<std::string> model_paths;  // -m (the first is the default model)
  std::string models_dir;                // --models-dir: its *.gguf files
  // --alias: "NAME" names the first -m model; "NAME=ID" names any model.
  std::vector<std::string> aliases;
  uint64_t memory_budget = 0;  // bytes; 0: no limit
  // --force: a model larger than the whole budget still loads, once every
  // idle model is evicted (else ModelTooLarge).
  bool force = false;
  // Builds a resident model (throws on failure). Called without the
  // registry's lock, one load at a time per model.
  std::function<std::shared_ptr<ServedModel>(const ModelSource&)> load;
  // Bytes a model will need once loaded, so room is made before it loads
  // (default: its file size); it may throw ModelTooLarge itself. A loaded
  // model counts the larger of this and its own resident_bytes().
  std::function<uint64_t(const ModelSource&)> estimate_bytes;
  // Told after each load and eviction (metrics). Called without the lock.
  std::function<void(const ModelSource&, double load_seconds)> on_load;
  std::function<void(const ModelSource&)> on_evict;
};

class ModelRegistry {
 public:
  // Scans the sources. Throws InputError for a missing -m file, a models dir
  // that is not a directory, an alias naming no model, or two models under
  // one name.
  explicit ModelRegistry(ModelRegistryOptions options);
  ~ModelRegistry();
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  class Lease {
   public:
    Lease() = default;
    const ModelSource& source() const { return *source_; }
    ServedModel& model() const { return *model_; }
    // Shares ownership with the lease: while a copy lives, the model is held.
    std::shared_ptr<ServedModel> shared() const { return model_; }
    template <class T>
    T& as() const { return static_cast<T&>(*model_); }
    explicit operator bool() const { return bool(model_); }

   private:
    friend class ModelRegistry;
    std::shared_ptr<ServedModel> model_;
    std::shared_ptr<const ModelSource> source_;
  };

  // The model a request names (its id or an alias; "" is the default model:
  // the first -m, or the only model there is), loaded if it is not. Throws
  // ModelNotFound (listing the known ids), ModelUnavailable, or what the
  // loader threw. A name not known is looked for again in --models-dir first,
  // so files added while serving are found.
  Lease acquire(const std::string& name);

  // Every known model, loaded or not, in id order (rescans --models-dir).
  std::vector<ModelStatus> list();
  // The resident models with a lease each (for metrics and health): holding
  // them keeps them from eviction, so drop them promptly.
  std::vector<Lease> resident();
  // Resolves a name without loading; nullptr if unknown (no rescan).
  std::shared_ptr<const ModelSource> find(const std::string& name) const;
  // The ids of every model, sorted, comma-separated (for messages).
  std::string known_ids() const;
  uint64_t resident_bytes() const;
  uint64_t memory_budget() const { return options_.memory_budget; }

 private:
  struct Entry;
  void scan_locked();
  Entry* find_locked(const std::string& name) const;
  std::string known_ids_locked() const;
  struct Evicted {
    std::shared_ptr<ServedModel> model;
    std::shared_ptr<const ModelSource> source;
  };
  // Evicts LRU unleased models (never `keep`) until `need` more bytes fit the
  // budget; ok=false (and nothing evicted) when that is impossible. The
  // payloads are released outside the lock by release().
  std::vector<Evicted> make_room_locked(uint64_t need, const Entry* keep, bool& ok);
  void release(std::vector<Evicted>& evicted);
  uint64_t resident_bytes_locked() const;

  ModelRegistryOptions options_;
  mutable std::mutex mu_;
  std::condition_variable loaded_cv_;
  std::vector<std::shared_ptr<Entry>> entries_;
  std::vector<std::pair<std::string, std::string>> dir_aliases_;  // NAME=ID aliases, applied on each scan
  uint64_t tick_ = 0;
};


}  // namespace qinfer::serve
