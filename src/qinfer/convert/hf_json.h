// Reading the JSON files of a Hugging Face checkpoint with errors that name the file.
#pragma once
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "qinfer/core/error.h"

namespace qinfer {

inline nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not valid JSON: " + e.what());
  }
}

}  // namespace qinfer
