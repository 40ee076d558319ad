// Values in and out as JSON: nlohmann's ordered_json (key order kept, as
// Python's dicts keep it) to template values, and Python's json.dumps, which
// Hugging Face installs as the `tojson` filter.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "qinfer/jinja/value.h"

namespace qinfer::jinja {

Value from_json(const nlohmann::ordered_json& j);

struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::string indent;       // per level; used when has_indent
  bool has_indent = false;  // indent=None -> false
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
// json.dumps(v, ...); TypeError for values JSON cannot hold (Undefined, generators, ...).
std::string to_json(const Value& v, const JsonDumpOptions& options);

}  // namespace qinfer::jinja
