// The reference quantizers on rows holding NaN or Inf. Callers reject such
// rows (row_has_nonfinite) before quantizing model weights; the quantizers
// themselves must still not crash or invoke undefined behaviour (this file is
// also built with UBSan in the sanitize sub-build, where a NaN cast to an
// integer aborts), and a non-finite value must either be refused with an
// Error naming it or stay inside its own block.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "qinfer/core/error.h"
#include "qinfer/quant/type_registry.h"

using namespace qinfer;

TEST(QuantNonFinite, BlocksAfterANonFiniteOneAreUnaffected) {
  size_t n_types = 0;
  const TypeInfo* const* all = all_types(&n_types);
  int checked = 0;
  for (size_t i = 0; i < n_types; ++i) {
    const TypeInfo& t = *all[i];
    if (!t.from_float) continue;
    const int64_t bs = t.block_size;
    std::mt19937 rng(uint32_t(t.id) + 1);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(size_t(4 * bs));
    for (float& v : x) v = d(rng);
    x[size_t(bs / 3)] = std::numeric_limits<float>::quiet_NaN();        // block 0
    x[size_t(bs + bs / 2)] = std::numeric_limits<float>::infinity();   // block 1
    std::vector<uint8_t> whole(row_size(t.id, 4 * bs)), tail(row_size(t.id, 2 * bs));
    try {
      t.from_float(x.data(), whole.data(), 4 * bs);
    } catch (const Error& e) {  // refusing the row, naming the problem, is fine too
      EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << t.name << ": " << e.what();
      ++checked;
      continue;
    }
    t.from_float(x.data() + 2 * bs, tail.data(), 2 * bs);
    EXPECT_EQ(std::memcmp(whole.data() + 2 * t.type_size, tail.data(), tail.size()), 0)
        << t.name << ": a non-finite value changed the blocks after it";
    ++checked;
  }
  EXPECT_GE(checked, 10);
}
