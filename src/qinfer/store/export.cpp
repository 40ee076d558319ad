#include "qinfer/store/export.h"

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "qinfer/core/format.h"

namespace qinfer {

Comparison compare_runs(const std::vector<RunRecord>& runs) {
  Comparison c;
  std::map<std::string, size_t> index;
  for (size_t r = 0; r < runs.size(); ++r) {
    for (const Metric& m : runs[r].metrics) {
      auto [it, added] = index.emplace(m.name, c.names.size());
      if (added) {
        c.names.push_back(m.name);
        c.units.push_back(m.unit);
        c.values.emplace_back(runs.size());
      }
      c.values[it->second][r] = m.value;
    }
  }
  return c;
}

namespace {

// Shortest text that reads back as the same double.
std::string number(double v) {
  char buf[40];
  for (int prec = 6; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace

std::string export_csv(const std::vector<RunRecord>& runs) {
  const Comparison c = compare_runs(runs);
  std::string out =
      "id,time,kind,label,model_path,model_sha256,model_type,file_type,size_bytes,n_params,bits_per_weight,"
      "cpu,cores,ram_bytes,gpu,engine,engine_version,params,device,device_reason";
  for (size_t i = 0; i < c.names.size(); ++i) {
    out += ',';
    out += csv_field(c.units[i].empty() ? c.names[i] : c.names[i] + " [" + c.units[i] + "]");
  }
  out += "\n";
  for (size_t r = 0; r < runs.size(); ++r) {
    const RunRecord& x = runs[r];
    const std::vector<std::string> fields = {
        std::to_string(x.id), x.time, x.kind, x.label, x.model.path, x.model.sha256, x.model.type,
        x.model.file_type, std::to_string(x.model.size_bytes), std::to_string(x.model.n_params),
        number(x.model.bits_per_weight), x.machine.cpu, std::to_string(x.machine.cores),
        std::to_string(x.machine.ram_bytes), x.machine.gpu, x.engine, x.engine_version, x.params_json, x.device, x.device_reason};
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i) out += ',';
      out += csv_field(fields[i]);
    }
    for (size_t i = 0; i < c.names.size(); ++i) {
      out += ',';
      if (c.values[i][r]) out += number(*c.values[i][r]);
    }
    out += "\n";
  }
  return out;
}

std::string export_json(const std::vector<RunRecord>& runs) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const RunRecord& x : runs) {
    nlohmann::ordered_json j;
    j["id"] = x.id;
    j["time"] = x.time;
    j["kind"] = x.kind;
    j["label"] = x.label;
    j["model"] = {{"path", x.model.path},           {"sha256", x.model.sha256},
                  {"type", x.model.type},           {"file_type", x.model.file_type},
                  {"size_bytes", x.model.size_bytes}, {"n_params", x.model.n_params},
                  {"bits_per_weight", x.model.bits_per_weight}};
    j["machine"] = {{"cpu", x.machine.cpu}, {"cores", x.machine.cores}, {"ram_bytes", x.machine.ram_bytes},
                    {"gpu", x.machine.gpu}};
    j["engine"] = x.engine;
    j["engine_version"] = x.engine_version;
    j["device"] = {{"name", x.device}, {"reason", x.device_reason}};
    auto params = nlohmann::ordered_json::parse(x.params_json, nullptr, false);
    j["params"] = params.is_discarded() ? nlohmann::ordered_json(x.params_json) : params;
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const Metric& metric : x.metrics) m[metric.name] = {{"value", metric.value}, {"unit", metric.unit}};
    j["metrics"] = m;
    arr.push_back(j);
  }
  return arr.dump(2) + "\n";
}

}  // namespace qinfer
