#include "qinfer/convert/hf_weights.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "qinfer/core/error.h"

namespace qinfer {

namespace fs = std::filesystem;

namespace {

// name -> shard file, from model.safetensors.index.json's weight_map.
std::map<std::string, std::string> read_index(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not valid JSON: " + e.what());
  }
  auto wm = j.is_object() ? j.find("weight_map") : j.end();
  if (wm == j.end() || !wm->is_object() || wm->empty())
    throw InputError(path + ": missing or empty field weight_map");
  std::map<std::string, std::string> out;
  for (const auto& [name, file] : wm->items()) {
    if (!file.is_string()) throw InputError(path + ": weight_map." + name + " is not a file name");
    const std::string f = file.get<std::string>();
    // Shards live beside the index: no directories, no way out of the checkpoint.
    if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
      throw InputError(path + ": weight_map." + name + " names an invalid file '" + f + "'");
    out[name] = f;
  }
  return out;
}

}  // namespace

HfWeights HfWeights::open(const std::string& dir) {
  HfWeights w;
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::vector<std::string> files;
  std::map<std::string, std::string> index;
  if (fs::exists(index_path)) {
    index = read_index(index_path);
    std::set<std::string> names;
    for (const auto& [_, f] : index) names.insert(f);
    for (const auto& f : names)
      if (!fs::is_regular_file(dir + "/" + f))
        throw InputError(dir + "/" + f + ": missing shard (listed in model.safetensors.index.json)");
    files.assign(names.begin(), names.end());
  } else if (fs::exists(dir + "/model.safetensors")) {
    files.push_back("model.safetensors");
  } else {
    throw InputError(dir + ": no model.safetensors or model.safetensors.index.json (only safetensors checkpoints "
                           "are supported)");
  }

  std::map<std::string, size_t> seen;  // tensor -> shard
  for (const auto& f : files) {
    w.shards_.push_back(SafetensorsFile::open(dir + "/" + f));
    const size_t si = w.shards_.size() - 1;
    for (const StTensor& t : w.shards_.back()->tensors()) {
      if (seen.count(t.name))
        throw InputError(dir + "/" + f + ": tensor " + t.name + " is also in " + w.shards_[seen[t.name]]->path());
      seen[t.name] = si;
      if (!index.empty()) {
        auto it = index.find(t.name);
        if (it == index.end())
          throw InputError(dir + "/" + f + ": tensor " + t.name + " is not listed in model.safetensors.index.json");
        if (it->second != f)
          throw InputError(dir + "/" + f + ": tensor " + t.name + " is listed in model.safetensors.index.json as in " +
                           it->second);
      }
      w.order_.push_back(&t);
      w.shard_of_.push_back(si);
    }
  }
  for (const auto& [name, f] : index)
    if (!seen.count(name))
      throw InputError(dir + "/" + f + ": tensor " + name + " listed in model.safetensors.index.json is missing");
  return w;
}

const StTensor* HfWeights::find(const std::string& name) const {
  for (const auto& s : shards_)
    if (const StTensor* t = s->find(name)) return t;
  return nullptr;
}

const std::string& HfWeights::file_of(const StTensor* t) const {
  for (size_t i = 0; i < order_.size(); ++i)
    if (order_[i] == t) return shards_[shard_of_[i]]->path();
  static const std::string unknown = "<unknown>";
  return unknown;
}

}  // namespace qinfer
