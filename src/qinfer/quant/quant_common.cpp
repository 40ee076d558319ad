#include "qinfer/quant/quant_common.h"

#include <cstring>

namespace qinfer {

int64_t find_nonfinite(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &x[i], 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return i;  // exponent all ones: Inf or NaN
  }
  return -1;
}

bool row_has_nonfinite(const float* x, int64_t n) { return find_nonfinite(x, n) >= 0; }

}  // namespace qinfer
