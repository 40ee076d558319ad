// Greedy (temperature 0) generation by one Context: the reference that the
// batching, golden and conversion tests compare token lists against.
#pragma once
#include <cstdint>
#include <vector>

#include "qinfer/model/model.h"
#include "qinfer/runtime/context.h"
#include "qinfer/runtime/generate.h"

namespace qinfer::test {

struct GreedyOptions {
  int n_ctx = 256;
  int threads = 1;  // results do not depend on threads; one is fastest on a busy machine
  KvCacheType cache_type;
};

inline std::vector<int32_t> greedy_tokens(const Model& m, const std::vector<int32_t>& prompt, int n,
                                          const GreedyOptions& o = {}) {
  ContextParams cp;
  cp.n_ctx = o.n_ctx;
  cp.n_threads = o.threads;
  cp.cache_type = o.cache_type;
  Context ctx(m, cp);
  GenerateParams gp;
  gp.n_predict = n;
  gp.sampling.temp = 0;
  std::vector<int32_t> out;
  generate(ctx, prompt, gp, [&](int32_t t) {
    out.push_back(t);
    return true;
  });
  return out;
}

}  // namespace qinfer::test
