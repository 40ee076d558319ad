#include "qinfer/runtime/sampler.h"

#include <algorithm>
#include <cmath>

namespace qinfer {

int32_t argmax(const float* logits, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

Sampler::Sampler(const SamplerParams& params, int n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed == 0xFFFFFFFFu ? std::random_device{}() : uint32_t(params.seed)) {
  cand_.reserve(size_t(n_vocab));
}

void Sampler::accept(int32_t token) {
  if (params_.repeat_last_n <= 0) return;
  recent_.push_back(token);
  while (int(recent_.size()) > params_.repeat_last_n) recent_.pop_front();
}

int32_t Sampler::sample(const float* logits) {
  cand_.clear();
  for (int i = 0; i < n_vocab_; ++i) cand_.push_back({i, logits[i], 0.0f});

  if (params_.repeat_penalty != 1.0f) {
    std::vector<bool> seen(size_t(n_vocab_), false);
    for (int32_t t : recent_)
      if (t >= 0 && t < n_vocab_ && !seen[size_t(t)]) {
        seen[size_t(t)] = true;
        float& l = cand_[size_t(t)].logit;
        l = l <= 0 ? l * params_.repeat_penalty : l / params_.repeat_penalty;
      }
  }
  if (params_.temp <= 0.0f) {
    int32_t best = 0;
    for (int i = 1; i < n_vocab_; ++i)
      if (cand_[size_t(i)].logit > cand_[size_t(best)].logit) best = i;
    return best;
  }
  auto by_logit = [](const Candidate& a, const Candidate& b) { return a.logit > b.logit; };
  std::sort(cand_.begin(), cand_.end(), by_logit);
  if (params_.top_k > 0 && size_t(params_.top_k) < cand_.size()) cand_.resize(size_t(params_.top_k));

  auto softmax = [&] {
    const float mx = cand_.front().logit;
    double sum = 0;
    for (auto& c : cand_) sum += (c.p = std::exp(c.logit - mx));
    for (auto& c : cand_) c.p = float(c.p / sum);
  };
  if (params_.top_p < 1.0f) {
    softmax();
    double cum = 0;
    size_t keep = cand_.size();
    for (size_t i = 0; i < cand_.size(); ++i) {
      cum += cand_[i].p;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
    cand_.resize(keep);
  }
  if (params_.min_p > 0.0f) {
    const float floor = cand_.front().logit + std::log(params_.min_p);
    size_t keep = 1;
    while (keep < cand_.size() && cand_[keep].logit >= floor) ++keep;
    cand_.resize(keep);
  }
  for (auto& c : cand_) c.logit /= params_.temp;
  softmax();
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  double r = uni(rng_), cum = 0;
  for (const auto& c : cand_) {
    cum += c.p;
    if (r < cum) return c.id;
  }
  return cand_.back().id;
}

}  // namespace qinfer
