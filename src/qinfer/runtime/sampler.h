// Token sampling in llama.cpp's default order: repetition penalty → top-k →
// top-p → min-p → temperature → draw. temp <= 0 is greedy (argmax).
#pragma once
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace qinfer {

struct SamplerParams {
  float temp = 0.8f;
  int top_k = 40;          // <= 0: off
  float top_p = 0.95f;     // >= 1: off
  float min_p = 0.05f;     // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off
  int repeat_last_n = 64;
  uint64_t seed = 0xFFFFFFFFu;  // 0xFFFFFFFF: random
};

class Sampler {
 public:
  Sampler(const SamplerParams& params, int n_vocab);
  int32_t sample(const float* logits);
  // Records a token (prompt or generated) for the repetition penalty.
  void accept(int32_t token);

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  SamplerParams params_;
  int n_vocab_;
  std::mt19937 rng_;
  std::deque<int32_t> recent_;
  std::vector<Candidate> cand_;
};

// Index of the largest value (first one on ties), as llama.cpp's greedy sampler.
int32_t argmax(const float* logits, int n);

}  // namespace qinfer
