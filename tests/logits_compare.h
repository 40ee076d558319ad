// Two models that must compute the same function (repacked or not): the same
// tokens, in batches of each size, give bitwise the same logits at every position.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "qinfer/model/model.h"
#include "qinfer/runtime/context.h"

namespace qinfer::test {

inline void expect_same_logits(const Model& a_model, const Model& b_model, const std::vector<int32_t>& toks,
                               std::initializer_list<int> batches, const std::string& what) {
  for (int batch : batches) {
    ContextParams cp;
    cp.n_ctx = 32;
    cp.n_threads = 2;
    cp.n_batch = batch;
    Context a(a_model, cp), b(b_model, cp);
    a.eval(toks.data(), int(toks.size()), true);
    b.eval(toks.data(), int(toks.size()), true);
    for (int t = 0; t < int(toks.size()); ++t)
      ASSERT_EQ(std::memcmp(a.logits(t), b.logits(t), sizeof(float) * size_t(a_model.config.n_vocab)), 0)
          << what << " batch " << batch << " token " << t;
  }
}

}  // namespace qinfer::test
