// Summary statistics, one definition each, as the tools we compare with
// compute them (../shared/REFERENCE.md §4):
//   mean                 Σx / N (0 for no values)
//   sample_stddev        sqrt(Σ(x − m)² / (N − 1)), Bessel's correction: llama-bench's
//                        ± over repetitions (0 for fewer than two values)
//   population_stddev    sqrt(Σ(x − m)² / N): numpy's np.std (ddof = 0), vLLM's std_*_ms
//   percentile           numpy.percentile's default "linear" method: the value at
//                        virtual index p/100 · (N − 1) between its two neighbours; the
//                        same as llama-perplexity's KLD and Δp percentiles
//   standard_error       of the mean, from running sums: sqrt((Σx²/N − m²)/(N − 1)), as
//                        llama-perplexity prints its ± (0 for fewer than two values)
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace qinfer {

double mean(std::span<const double> v);
double sample_stddev(std::span<const double> v);
double population_stddev(std::span<const double> v);

// `sorted` ascending; p in [0, 100], clamped. 0 for no values.
double percentile_of_sorted(std::span<const double> sorted, double p);
// Sorts a copy of v.
double percentile(std::vector<double> v, double p);

// From N, Σx and Σx² (the form llama-perplexity accumulates).
double standard_error(double sum, double sum2, int64_t n);

}  // namespace qinfer
