// From stored runs to decisions: runs are grouped into configurations (by
// label), and the recommendations are computed from their merged metrics.
//
// Recommendations (each over the configurations that have the numbers):
//   fastest       highest decode throughput tg_tps
//   smallest      fewest model bytes (file size, else the model_bytes metric)
//   best quality  lowest perplexity when any configuration has one, else
//                 lowest mean KL-divergence
//   best balanced lowest balanced score among configurations with size, tg
//                 and quality: each axis normalised to [0, 1] over those
//                 candidates with 0 the best value seen and 1 the worst,
//                   size_n = (size − min) / (max − min)
//                   speed_n = (max_tg − tg) / (max_tg − min_tg)
//                   quality_n = (q − min_q) / (max_q − min_q)
//                 score = sqrt(size_n² + speed_n² + quality_n²) / sqrt(3):
//                 the distance to the ideal point (smallest, fastest, best at
//                 once), 0..1. An axis where all candidates are equal counts 0.
//                 The closest point is always on the Pareto front.
//   cost per 1M output tokens = price_per_hour / (3600 · tg_tps) · 1e6.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "qinfer/store/run_record.h"

namespace qinfer::report {

struct Configuration {
  std::string label;             // run label, else the model file's name
  std::vector<int64_t> run_ids;  // every run merged here
  ModelInfo model;               // from the latest run that names a model
  MachineInfo machine;           // from the latest run
  std::string engine;
  std::map<std::string, Metric> metrics;  // latest value of each metric
  std::optional<double> get(const std::string& name) const;
  std::optional<double> size_bytes() const;  // model.size_bytes, else metric model_bytes
};

// Runs grouped by label (runs without one by model file name), in order of
// first appearance; within a group later runs override earlier metric values.
std::vector<Configuration> group_configurations(const std::vector<RunRecord>& runs);

// Indices of the points not dominated by any other when both coordinates are
// minimised, sorted by x. Equal points are all on the front.
std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& points);

struct BalancedScore {
  size_t config = 0;
  double size_n = 0, speed_n = 0, quality_n = 0, score = 0;
};

struct Recommendations {
  std::optional<size_t> fastest, smallest, best_quality, balanced;  // indices into the configurations
  std::string quality_metric;                // metric::kPpl, metric::kKldMean, or "" when none
  std::vector<BalancedScore> scores;         // every balanced candidate, best first
  std::vector<size_t> front;                 // size-vs-quality Pareto front (configuration indices)
};

Recommendations recommend(const std::vector<Configuration>& configs);

// price_per_hour / (3600 · tg_tps) · 1e6; 0 when tg_tps ≤ 0.
double cost_per_million_tokens(double price_per_hour, double tg_tps);

}  // namespace qinfer::report
